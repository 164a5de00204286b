import {
  type Context,
  context,
  diag,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { getFetch, Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { callerContext, resumeCaller } from '../action.js';
import { type CarrierInput, type ContextCarrier, carrierGetter, isHeaders } from '../carrier.js';
import { fetchInOperationContext, type TraceContextFetchOptions as SharedFetchOptions } from '../fetch.js';
import { getContext } from '../index.js';
import {
  ATTR_ERROR_TYPE,
  BATCH_HEADER,
  CLIENT_OPERATION_KEY,
  carrierOf,
  decodeBatchHeader,
  isObject,
  MAX_BATCH_HEADER_LENGTH,
  OP_CONTEXT_KEY,
  procedureAttributes,
  procedureSpanName,
  resolveTracer,
  type SubscriptionSpanMode,
  URL_PARAM,
} from './shared.js';
import { noop, trackOperation } from './ws.js';

/**
 * Options for {@link traceContextLink}.
 *
 * @example
 * ```ts
 * traceContextLink({ spans: false }); // propagate the caller's own span, record nothing
 * ```
 */
export interface TraceContextLinkOptions {
  /** Start a CLIENT span per operation, named by the procedure path. @default true */
  spans?: boolean;
  /**
   * When a subscription's span ends: `'start'` once the subscription is established (or fails),
   * `'lifetime'` when it completes, fails or is unsubscribed. @default 'start'
   */
  subscriptionSpan?: SubscriptionSpanMode;
  /** The tracer for the CLIENT spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that writes each operation's carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

const DEFAULTS = { spans: true, subscriptionSpan: 'start' } as const;

/** An operation that reaches an HTTP link is no candidate for a WebSocket message any more. */
const httpBound = new WeakMap<object, () => void>();

function errorType(error: unknown): string {
  if (isObject(error)) {
    if (isObject(error.cause) && error.cause.name === 'AbortError') return 'AbortError';
    const data = error.data;
    if (isObject(data) && typeof data.code === 'string') return data.code;
    if (typeof error.name === 'string') return error.name;
  }
  return 'Error';
}

/**
 * The first link of a tRPC client: captures the caller's active context when each operation starts
 * (tRPC runs links synchronously inside the call), starts a CLIENT span for it unless `spans: false`, and
 * stores the carrier in `op.context.traceContext` for the terminating link: {@link traceContextHeaders}
 * for the HTTP links, {@link traceContextEncoder} for `wsLink`, {@link traceContextUrl} for
 * `httpSubscriptionLink`.
 *
 * @example
 * ```ts
 * import { createTRPCClient, httpBatchLink } from '@trpc/client';
 * import { traceContextHeaders, traceContextLink } from 'otel-rpc-context/trpc';
 *
 * const client = createTRPCClient<AppRouter>({
 *   links: [traceContextLink(), httpBatchLink({ url: 'http://localhost:3000', headers: traceContextHeaders })],
 * });
 * ```
 */
export function traceContextLink<TRouter extends AnyRouter = AnyRouter>(
  options: TraceContextLinkOptions = {},
): TRPCLink<TRouter> {
  const spans = options.spans ?? DEFAULTS.spans;
  const lifetime = (options.subscriptionSpan ?? DEFAULTS.subscriptionSpan) === 'lifetime';
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const active = callerContext();
        let span: Span | undefined;
        let opContext: Context = active;
        if (spans) {
          span = resolveTracer(options.tracer).startSpan(
            procedureSpanName(op.path),
            { kind: SpanKind.CLIENT, attributes: procedureAttributes(op.path, op.type) },
            active,
          );
          opContext = trace.setSpan(active, span);
        }
        const carrier = getContext({ context: opContext, propagator: options.propagator });
        const untrack = trackOperation(op.type, op.path, op.input, carrier);
        let ended = false;
        const end = (error?: unknown) => {
          untrack();
          if (ended || !span) return;
          ended = true;
          if (error !== undefined) {
            span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
            span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
          }
          span.end();
        };
        const nextOp: Operation = { ...op, context: { ...op.context, [OP_CONTEXT_KEY]: carrier } };
        if (untrack !== noop) httpBound.set(nextOp.context, untrack);
        // Subscribing in the operation's context lets the terminating link and anything it calls
        // synchronously (and, with AsyncLocalStorage, later) see it.
        const subscription = context.with(opContext.setValue(CLIENT_OPERATION_KEY, true), () =>
          next(nextOp).subscribe({
            next(value) {
              if (op.type === 'subscription' && !lifetime) {
                const result = (value as { result?: { type?: string } }).result;
                if (result?.type !== 'state') end();
              }
              // What the caller starts on this result (an invalidation refetch) joins its user action.
              resumeCaller(active, false);
              observer.next(value);
            },
            error(error) {
              end(error);
              resumeCaller(active, true);
              observer.error(error);
            },
            complete() {
              end();
              resumeCaller(active, true);
              observer.complete();
            },
          }),
        );
        return () => {
          subscription.unsubscribe();
          end();
        };
      });
}

/**
 * Headers for an operation (`httpLink`) or a batch (`httpBatchLink`, `httpBatchStreamLink`). Pass it as
 * the link's `headers` option. The standard `traceparent`/`tracestate`/`baggage` headers carry the
 * first operation's context, so HTTP instrumentation on the server joins that trace. Every operation also
 * gets its own entry in `x-trpc-trace-context`, a JSON array aligned with the batch (`{}` for an operation
 * without a context): the server prefers it, because other instrumentations append to or overwrite
 * `traceparent`, and a batch's standard headers belong to one operation only.
 *
 * The array stays within 8,192 characters: past that, baggage is left out of its entries, then the entries
 * that still do not fit are sent as `{}` (those operations start their own traces on the server) and this
 * says so once through `diag`. Batches of more than about 100 operations do not fit: set `maxItems` on the
 * batch link.
 *
 * @example
 * ```ts
 * import { httpBatchLink } from '@trpc/client';
 * import { traceContextHeaders } from 'otel-rpc-context/trpc';
 *
 * httpBatchLink({ url, maxItems: 50, headers: traceContextHeaders });
 * // with your own headers:
 * httpBatchLink({ url, headers: (opts) => ({ ...traceContextHeaders(opts), authorization: `Bearer ${token}` }) });
 * ```
 */
export function traceContextHeaders(opts: {
  op?: { context?: unknown };
  opList?: readonly { context?: unknown }[];
}): Record<string, string> {
  const ops = opts.opList ?? (opts.op ? [opts.op] : []);
  for (const op of ops) if (isObject(op.context)) httpBound.get(op.context)?.();
  const carriers = ops.map((op) => carrierOf(op) ?? getContext());
  const first = carriers[0];
  if (!first) return getContext();
  const headers: Record<string, string> = { ...first };
  // A lone operation without a context has nothing to say in its slot.
  if (carriers.length > 1 || !isEmpty(first)) headers[BATCH_HEADER] = encodeBatchHeader(carriers);
  return headers;
}

function isEmpty(carrier: ContextCarrier): boolean {
  for (const _ in carrier) return false;
  return true;
}

let warnedTrimmed = false;

/**
 * The batch header's value: every carrier as sent while the whole fits in {@link MAX_BATCH_HEADER_LENGTH};
 * else without baggage; else the entries past the limit as `{}`. Never longer than the limit.
 */
export function encodeBatchHeader(carriers: readonly ContextCarrier[]): string {
  const full = JSON.stringify(carriers);
  if (full.length <= MAX_BATCH_HEADER_LENGTH) return full;
  const lean = carriers.map((carrier) => {
    if (carrier.baggage === undefined) return JSON.stringify(carrier);
    const { baggage: _baggage, ...rest } = carrier;
    return JSON.stringify(rest);
  });
  // `[` + entries joined by `,` + `]`; an entry that does not fit costs `{}`.
  const placeholder = 2;
  let length = 2 + (lean.length - 1) + placeholder * lean.length;
  let dropped = 0;
  // Not even `{}` each fits: an empty list, which the server reads as "no context" for every operation.
  if (length > MAX_BATCH_HEADER_LENGTH) {
    dropped = lean.length;
    lean.length = 0;
  }
  const kept = lean.map((entry) => {
    if (length - placeholder + entry.length > MAX_BATCH_HEADER_LENGTH) {
      dropped++;
      return '{}';
    }
    length += entry.length - placeholder;
    return entry;
  });
  if (!warnedTrimmed) {
    warnedTrimmed = true;
    diag.warn(
      `otel-rpc-context: a batch of ${carriers.length} operations does not fit the ${MAX_BATCH_HEADER_LENGTH}-character ` +
        `${BATCH_HEADER} header: baggage was left out${dropped > 0 ? ` and ${dropped} operations were sent without a context` : ''}. ` +
        'Set maxItems on the batch link (said once).',
    );
  }
  return `[${kept.join(',')}]`;
}

/**
 * The `url` of `httpSubscriptionLink`: adds the operation's carrier to the subscription's URL as
 * `?traceContext={"traceparent":…}`, the one per-operation slot a native `EventSource` has (it sends no
 * custom headers). tRPC resolves `url` synchronously when the subscription starts, inside the operation's
 * context that {@link traceContextLink} set, so this works with browser context managers too. `EventSource`
 * reconnects reuse the URL. Servers without the middleware ignore the parameter.
 *
 * @example
 * ```ts
 * import { httpSubscriptionLink } from '@trpc/client';
 * import { traceContextUrl } from 'otel-rpc-context/trpc';
 *
 * httpSubscriptionLink({ url: traceContextUrl('http://localhost:3000') });
 * ```
 */
export function traceContextUrl(url: string | (() => string | Promise<string>)): () => string | Promise<string> {
  return () => {
    // Read now: after tRPC's next `await` a browser context manager no longer knows the operation.
    const carrier = getContext();
    const base = typeof url === 'function' ? url() : url;
    return typeof base === 'string' ? withCarrierParam(base, carrier) : base.then((b) => withCarrierParam(b, carrier));
  };
}

function withCarrierParam(url: string, carrier: ContextCarrier): string {
  if (Object.keys(carrier).length === 0) return url;
  const value = JSON.stringify(carrier);
  if (value.length > MAX_BATCH_HEADER_LENGTH) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${URL_PARAM}=${encodeURIComponent(value)}`;
}

/** The `fetch` that tRPC's HTTP links call (their `fetch` option): a subset of the standard `fetch`. */
export type TraceContextFetchFunction = ReturnType<typeof getFetch>;

/**
 * Options for the tRPC {@link traceContextFetch}: `fetch` (default `globalThis.fetch`, looked up per request)
 * and `propagator` (default the global one).
 *
 * @example
 * ```ts
 * traceContextFetch({ fetch: myXhrFetch });
 * ```
 */
export type TraceContextFetchOptions = SharedFetchOptions<TraceContextFetchFunction>;

/** The carriers of a request's operations: its {@link BATCH_HEADER} entries, in order. */
function batchHeaderCarriers(input: unknown, init: unknown): readonly unknown[] {
  const fromInit = isObject(init) ? init.headers : undefined;
  const headers = fromInit ?? (isObject(input) && isHeaders(input.headers) ? input.headers : undefined);
  const value = Array.isArray(headers)
    ? headers.find((pair) => Array.isArray(pair) && String(pair[0]).toLowerCase() === BATCH_HEADER)?.[1]
    : carrierGetter.get(headers as CarrierInput, BATCH_HEADER);
  return decodeBatchHeader(Array.isArray(value) ? value[0] : value) ?? [];
}

/**
 * A `fetch` for the `fetch` option of `httpLink`, `httpBatchLink` and `httpBatchStreamLink` that makes the
 * request's HTTP-level spans part of an operation's trace. tRPC calls `fetch` after an `await` (and batch
 * links from a timer), where a browser context manager no longer knows any operation: the span that
 * `@opentelemetry/instrumentation-fetch` (or `instrumentation-undici`) starts for the request, and the
 * server's HTTP span under it, would form a trace of their own. This calls the real `fetch` inside the
 * context of the first operation in the request's {@link BATCH_HEADER} entry list (written by
 * {@link traceContextHeaders}) that has a span, so the request's spans are children of that operation's
 * CLIENT span. Each procedure still runs under its own CLIENT span: servers read every operation's own
 * entry, and the middleware links a batch's SERVER spans to the server's HTTP span.
 *
 * A request without the header, or with nothing usable in it, goes out unchanged, in the context active at
 * the call. Reading the header never throws; what the real `fetch` throws or rejects with reaches tRPC as is.
 *
 * @example
 * ```ts
 * import { httpBatchLink } from '@trpc/client';
 * import { traceContextFetch, traceContextHeaders, traceContextLink } from 'otel-rpc-context/trpc';
 *
 * const links = [
 *   traceContextLink(),
 *   httpBatchLink({ url: 'https://api.example.com/trpc', headers: traceContextHeaders, fetch: traceContextFetch() }),
 * ];
 * ```
 */
export function traceContextFetch(options: TraceContextFetchOptions = {}): TraceContextFetchFunction {
  return fetchInOperationContext(batchHeaderCarriers, options);
}
