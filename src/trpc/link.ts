import {
  type Context,
  context,
  type Span,
  type SpanContext,
  SpanKind,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import type { getFetch, Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { callerContext, resumeCaller } from '../core/action.js';
import { type CarrierInput, type ContextCarrier, carrierGetter, isHeaders } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import { rpcCallMetric } from '../core/conventions.js';
import { fetchInOperationContext, type TraceContextFetchOptions as SharedFetchOptions } from '../core/fetch.js';
import { callSafely, resolveSpanOptions, type SpanOptions, startOperationSpan } from '../core/operation.js';
import { linkServerSpan, parseTraceResponse } from '../core/traceresponse.js';
import {
  ATTR_TRPC_INPUT,
  ATTR_TRPC_TRACERESPONSE,
  BATCH_HEADER,
  BATCH_RESPONSE_HEADER,
  CLIENT_OPERATION_KEY,
  carrierOf,
  decodeBatchHeader,
  encodeBatchHeader,
  isObject,
  MAX_BATCH_HEADER_LENGTH,
  NO_CARRIER_KEY,
  OP_CONTEXT_KEY,
  procedureAttributes,
  procedureSpanName,
  type SubscriptionSpanMode,
  TRACE_RESPONSE_HEADER,
  TRPC_SYSTEM,
  URL_PARAM,
} from './shared.js';
import { noop, trackOperation } from './ws.js';

/**
 * What every function option of {@link traceContextLink} is given, once per operation.
 *
 * @example
 * ```ts
 * traceContextLink({ spans: (info: TraceContextLinkInfo) => info.path !== 'health' });
 * ```
 */
export interface TraceContextLinkInfo {
  /** The procedure's path, `''` for a call without one (a Next.js server action). */
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  /** The input as the caller passed it, before the transformer. */
  input: unknown;
  /** The operation's `context` (tRPC's `OperationContext`, what the caller passed as `{ context }`). */
  context: Record<string, unknown>;
}

/**
 * Options for {@link traceContextLink}: the span options every integration takes ({@link SpanOptions}, with
 * {@link TraceContextLinkInfo} as `info`), plus `propagate`, `subscriptionSpan` and `propagator`.
 *
 * - `spans`: `true` (default), `false`, or a predicate per operation. Without a span the operation still
 *   propagates its caller's own context.
 * - `spanName`: default the procedure's path (`'trpc'` without one).
 * - `requestHook(span, info)` / `responseHook(span, info)`: `responseHook`'s `info.result` is the procedure's
 *   output as received (for a subscription, the last event's data), `info.error` the error, `info.cancelled`
 *   set when the caller aborted or unsubscribed first.
 * - `captureInput`: records the input (before the transformer) as `trpc.procedure.input`. Off by default.
 * - `isError`: default any error marks the CLIENT span ERROR; `error.type` is the tRPC code (`NOT_FOUND`),
 *   `AbortError`, or the error's name. An operation aborted through its `signal`, or unsubscribed before it
 *   settled, leaves the status unset with `error.type` `AbortError` / `cancelled`.
 *
 * @example
 * ```ts
 * traceContextLink({ spans: false }); // propagate the caller's own span, record nothing
 * traceContextLink({
 *   spans: (info) => info.path !== 'health',
 *   propagate: (info) => !info.path.startsWith('partner.'), // never send trace ids to the partner API
 *   captureInput: (input) => ({ ...(input as object), password: undefined }),
 * });
 * ```
 */
export interface TraceContextLinkOptions extends SpanOptions<TraceContextLinkInfo> {
  /**
   * Whether to send the operation's carrier at all: `true`, `false`, or a predicate per operation (third-party
   * APIs must not receive your trace ids or baggage). For an operation that does not propagate,
   * {@link traceContextHeaders} sends no `traceparent`/`tracestate`/`baggage` for it (none at all when it is
   * the first of its batch) and `{}` as its batch-header entry, {@link traceContextEncoder} adds no field to its
   * WebSocket message, and {@link traceContextUrl} adds no parameter. The CLIENT span still starts locally
   * (see `spans`). A predicate that throws counts as `false` and is reported once through `diag`.
   * HTTP instrumentations (`instrumentation-fetch`, `-undici`, `-http`) inject their own `traceparent`:
   * exclude those URLs there too.
   * @default true
   */
  propagate?: boolean | ((info: TraceContextLinkInfo) => boolean);
  /**
   * When a subscription's span ends: `'start'` once the subscription is established (or fails),
   * `'lifetime'` when it completes, fails or is unsubscribed. @default 'start'
   */
  subscriptionSpan?: SubscriptionSpanMode;
  /** The propagator that writes each operation's carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

const DEFAULTS = { subscriptionSpan: 'start' } as const;

/** An operation that reaches an HTTP link is no candidate for a WebSocket message any more. */
const httpBound = new WeakMap<object, () => void>();

/** Where {@link traceContextHeaders} put each operation (by its `op.context`): its index and the request's size. */
const requestSlots = new WeakMap<object, { index: number; size: number }>();

/**
 * The SERVER span context a response names for one operation: its slot of {@link BATCH_RESPONSE_HEADER} when the
 * response has that header, else `traceresponse` when the operation was alone in its request (or its place is
 * unknown). Anything malformed is ignored. Never throws.
 */
function serverSpanOf(opContext: object, response: unknown): SpanContext | undefined {
  try {
    if (!isObject(response) || !isHeaders(response.headers)) return undefined;
    const slot = requestSlots.get(opContext);
    const batch = response.headers.get(BATCH_RESPONSE_HEADER);
    if (typeof batch === 'string' && batch.length <= MAX_BATCH_HEADER_LENGTH) {
      const list: unknown = JSON.parse(batch);
      if (!Array.isArray(list)) return undefined;
      if (slot) return slot.size === list.length ? parseTraceResponse(list[slot.index]) : undefined;
      return list.length === 1 ? parseTraceResponse(list[0]) : undefined;
    }
    if (slot && slot.size !== 1) return undefined;
    return parseTraceResponse(response.headers.get(TRACE_RESPONSE_HEADER));
  } catch {
    return undefined;
  }
}

/**
 * Links the CLIENT span to the SERVER span its response names. Without `Span.addLink` (@opentelemetry/api < 1.9)
 * the value is recorded as {@link ATTR_TRPC_TRACERESPONSE} instead.
 */
function linkResponse(span: Span | undefined, opContext: object, response: unknown): void {
  if (!span) return;
  const server = serverSpanOf(opContext, response);
  if (server) linkServerSpan(span, server, ATTR_TRPC_TRACERESPONSE);
}

/** The `Response` tRPC's HTTP links put in a result's `context` (or a `TRPCClientError`'s `meta`). */
function responseOf(holder: unknown): unknown {
  return isObject(holder) ? holder.response : undefined;
}

function isAbortError(error: unknown): boolean {
  return (
    isObject(error) && (error.name === 'AbortError' || (isObject(error.cause) && error.cause.name === 'AbortError'))
  );
}

function errorType(error: unknown): string {
  if (isObject(error)) {
    if (isObject(error.cause) && error.cause.name === 'AbortError') return 'AbortError';
    const data = error.data;
    if (isObject(data) && typeof data.code === 'string') return data.code;
    if (typeof error.name === 'string') return error.name;
  }
  return 'Error';
}

const anyError = () => true;

/** The data of a result envelope (`{ result: { type?, data } }`), `undefined` for `started`/`stopped`/`state`. */
function resultData(value: unknown): unknown {
  const result = isObject(value) ? value.result : undefined;
  return isObject(result) && 'data' in result ? result.data : undefined;
}

/**
 * The first link of a tRPC client: captures the caller's active context when each operation starts
 * (tRPC runs links synchronously inside the call), starts a CLIENT span for it (see `spans`), and
 * stores the carrier in `op.context.traceContext` for the terminating link (unless `propagate` says no):
 * {@link traceContextHeaders} for the HTTP links, {@link traceContextEncoder} for `wsLink`,
 * {@link traceContextUrl} for `httpSubscriptionLink`. Options that throw are reported once through `diag`
 * and never break the operation.
 *
 * When the response of a query or mutation names the server's span (a server whose middleware has
 * `traceResponse: true` and whose adapter uses `traceResponseMeta`), the CLIENT span gets a span link to it:
 * the operation's slot of `x-trpc-trace-response` on a batch (the slot is known when {@link traceContextHeaders}
 * built the request's headers), else the W3C `traceresponse` header when the operation was alone in its request.
 * Malformed values are ignored. Without `Span.addLink` (@opentelemetry/api < 1.9) the value is recorded as the
 * `trpc.traceresponse` attribute instead. A cross-origin browser client reads the headers only if the server's CORS
 * configuration exposes them (`Access-Control-Expose-Headers: traceresponse, x-trpc-trace-response`).
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
  const config = resolveSpanOptions(options);
  const lifetime = (options.subscriptionSpan ?? DEFAULTS.subscriptionSpan) === 'lifetime';
  const { propagate = true } = options;
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const active = callerContext();
        const info: TraceContextLinkInfo = { path: op.path, type: op.type, input: op.input, context: op.context };
        const operationSpan = startOperationSpan(config, info, {
          kind: SpanKind.CLIENT,
          name: procedureSpanName(op.path),
          attributes: procedureAttributes(op.path, op.type),
          parent: active,
          inputAttribute: ATTR_TRPC_INPUT,
          input: () => op.input,
          defaultIsError: anyError,
          errorType,
          metric: rpcCallMetric('client', TRPC_SYSTEM, op.path),
        });
        const span = operationSpan.span;
        const opContext: Context = span ? trace.setSpan(active, span) : active;
        const propagating =
          typeof propagate === 'function' ? Boolean(callSafely('propagate', propagate, info)) : propagate;
        // A non-propagating operation stores `{}`: the helpers then send nothing for it, and never fall back
        // to the context active when they run.
        const carrier: ContextCarrier = propagating
          ? getContext({ context: opContext, propagator: options.propagator })
          : {};
        const untrack = trackOperation(op.type, op.path, op.input, carrier);
        // Settled: a query's or mutation's result arrived, or the operation failed or completed.
        let settled = false;
        const end = () => {
          untrack();
          operationSpan.end();
        };
        const nextOp: Operation = { ...op, context: { ...op.context, [OP_CONTEXT_KEY]: carrier } };
        if (untrack !== noop) httpBound.set(nextOp.context, untrack);
        let downstream = opContext.setValue(CLIENT_OPERATION_KEY, true);
        if (!propagating) downstream = downstream.setValue(NO_CARRIER_KEY, true);
        // Subscribing in the operation's context lets the terminating link and anything it calls
        // synchronously (and, with AsyncLocalStorage, later) see it.
        const subscription = context.with(downstream, () =>
          next(nextOp).subscribe({
            next(value) {
              if (op.type !== 'subscription') linkResponse(span, nextOp.context, responseOf(value.context));
              const data = resultData(value);
              if (data !== undefined || op.type !== 'subscription') operationSpan.result(data);
              if (op.type !== 'subscription') settled = true;
              else if (!lifetime) {
                const result = (value as { result?: { type?: string } }).result;
                if (result?.type !== 'state') end();
              }
              // What the caller starts on this result (an invalidation refetch) joins its user action.
              resumeCaller(active, false);
              observer.next(value);
            },
            error(error) {
              settled = true;
              linkResponse(span, nextOp.context, responseOf(isObject(error) ? error.meta : undefined));
              if (isAbortError(error)) operationSpan.cancel('AbortError');
              else if (op.signal?.aborted) operationSpan.cancel();
              else operationSpan.fail(error);
              end();
              resumeCaller(active, true);
              observer.error(error);
            },
            complete() {
              settled = true;
              end();
              resumeCaller(active, true);
              observer.complete();
            },
          }),
        );
        return () => {
          subscription.unsubscribe();
          // A query or mutation torn down before its result: the caller cancelled it.
          if (!settled && op.type !== 'subscription') operationSpan.cancel();
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
 * `traceparent`, and a batch's standard headers belong to one operation only. An operation that
 * {@link traceContextLink}'s `propagate` said no to sends `{}` as its entry, and when it is the first of its
 * batch the request has no standard headers at all (never the context active when the headers are built).
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
  ops.forEach((op, index) => {
    if (!isObject(op.context)) return;
    httpBound.get(op.context)?.();
    requestSlots.set(op.context, { index, size: ops.length });
  });
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
    const active = context.active();
    const carrier = active.getValue(NO_CARRIER_KEY) ? {} : getContext({ context: active });
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
