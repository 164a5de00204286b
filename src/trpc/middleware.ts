import {
  context,
  createContextKey,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type CarrierInput, type ContextCarrier, carrierGetter, toContextCarrier } from '../carrier.js';
import { type IncomingOption, resolvePolicy } from '../incoming.js';
import { bindAsyncIterable, isAsyncIterable, type OperationCarriers, operationParent } from '../server.js';
import {
  ATTR_ERROR_TYPE,
  BATCH_HEADER,
  CLIENT_OPERATION_KEY,
  decodeBatchHeader,
  isObject,
  MAX_BATCH_HEADER_LENGTH,
  procedureAttributes,
  procedureSpanName,
  resolveTracer,
  type SubscriptionSpanMode,
  URL_PARAM,
} from './shared.js';
import { takeFrameCarrier } from './ws.js';

/**
 * What the `incoming` function of {@link traceContextMiddleware} is given, once per procedure call.
 *
 * @example
 * ```ts
 * traceContextMiddleware({ incoming: ({ ctx }) => ((ctx as Context).user ? 'continue' : 'link') });
 * ```
 */
export interface TraceContextIncomingInfo {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  /** The procedure's tRPC context (what `createContext` returned, plus earlier middlewares' additions). */
  ctx: unknown;
}

/**
 * Where the middleware finds the request: headers, and tRPC's `info` when `createContext` passed it on.
 *
 * @example
 * ```ts
 * traceContextMiddleware({ getRequest: (ctx) => ({ headers: (ctx as Context).event.headers }) });
 * ```
 */
export interface TraceContextRequest {
  /** The request's headers: a Fetch `Headers`, Node's `IncomingHttpHeaders`, or a plain record. */
  headers?: CarrierInput;
  /** tRPC's `info` (`createContext({ info })`): batch calls and `connectionParams`. */
  info?: unknown;
}

/**
 * Options for {@link traceContextMiddleware}.
 *
 * @example
 * ```ts
 * t.procedure.use(traceContextMiddleware({ incoming: 'link', subscriptionSpan: 'lifetime' }));
 * ```
 */
export interface TraceContextMiddlewareOptions {
  /**
   * What to do with the caller's context: `'continue'` (its span is the parent), `'link'` (new trace whose
   * SERVER span links to it; caller's baggage dropped), `'ignore'`, or a function deciding per call.
   * @default 'continue'
   */
  incoming?: IncomingOption<TraceContextIncomingInfo>;
  /** Start a SERVER span per procedure call, named by its path. @default true */
  spans?: boolean;
  /**
   * When a subscription's span ends: `'start'` when the procedure has returned its iterable,
   * `'lifetime'` when the iteration ends. @default 'start'
   */
  subscriptionSpan?: SubscriptionSpanMode;
  /**
   * Finds the request in your tRPC context, for shapes other than `{ req }`, `{ request }`,
   * `{ headers }` (each optionally with `info`) or a Fetch `Request`.
   * @default looks for `ctx.req`, `ctx.request`, `ctx.headers`, `ctx.info`
   */
  getRequest?: (ctx: unknown) => TraceContextRequest | undefined;
  /** The tracer for the SERVER spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that reads carriers. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** The parts of tRPC's middleware options this middleware uses (stable across tRPC 11). */
interface MiddlewareCall<TResult> {
  ctx: unknown;
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  batchIndex?: number;
  signal?: AbortSignal | undefined;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<TResult>;
}

/** Set in the context a procedure runs in, so that nested calls (createCaller) are not re-extracted. */
const CALL_KEY = createContextKey('otel-rpc-context/trpc call');

function defaultGetRequest(ctx: unknown): TraceContextRequest | undefined {
  if (!isObject(ctx)) return undefined;
  const info = ctx.info;
  for (const candidate of [ctx.req, ctx.request]) {
    if (isObject(candidate) && isObject(candidate.headers)) return { headers: candidate.headers as CarrierInput, info };
  }
  if (isObject(ctx.headers)) return { headers: ctx.headers as CarrierInput, info };
  return info === undefined ? undefined : { info };
}

const batchCache = new WeakMap<object, (ContextCarrier | undefined)[] | null>();

/**
 * The batch header's entries, parsed once per request. `null` when the header is absent or malformed. An
 * entry is the operation's carrier (`{}` when it had none), or `undefined` for `null` (older clients: "as the
 * standard headers") and anything that is not a carrier.
 */
function batchCarriers(headers: CarrierInput): (ContextCarrier | undefined)[] | null {
  if (!isObject(headers)) return null;
  const cached = batchCache.get(headers);
  if (cached !== undefined) return cached;
  let parsed: (ContextCarrier | undefined)[] | null = null;
  try {
    const value = carrierGetter.get(headers, BATCH_HEADER);
    parsed = decodeBatchHeader(Array.isArray(value) ? value[0] : value);
  } catch {
    parsed = null;
  }
  batchCache.set(headers, parsed);
  return parsed;
}

function urlCarrier(info: unknown): ContextCarrier | undefined {
  if (!isObject(info) || !(info.url instanceof URL)) return undefined;
  const raw = info.url.searchParams.get(URL_PARAM);
  if (raw === null || raw.length > MAX_BATCH_HEADER_LENGTH) return undefined;
  try {
    return toContextCarrier(JSON.parse(raw)) ?? {};
  } catch {
    return {};
  }
}

function infoCalls(info: unknown): { getRawInput?: unknown }[] | undefined {
  if (!isObject(info) || !Array.isArray(info.calls)) return undefined;
  return info.calls as { getRawInput?: unknown }[];
}

/** Where this call's caller context may be: its own slot, the request's headers, the connection's params. */
function carriersOf(call: MiddlewareCall<unknown>, request: TraceContextRequest | undefined): OperationCarriers {
  const info = request?.info;
  const calls = infoCalls(info);
  // tRPC >= 11.10 passes batchIndex; before, the call is the one whose getRawInput this is.
  let index = call.batchIndex;
  if (index === undefined && calls) {
    const at = calls.findIndex((item) => item.getRawInput === call.getRawInput);
    if (at >= 0) index = at;
  }
  const connection = isObject(info) ? toContextCarrier(info.connectionParams) : undefined;
  const fromFrame = takeFrameCarrier(index);
  // A WebSocket: its createContext ran once for the connection, with no calls.
  if (fromFrame || (calls && calls.length === 0)) {
    return { operation: fromFrame, shared: true, headers: request?.headers, connection };
  }
  const entries = request?.headers ? batchCarriers(request.headers) : null;
  const shared = (calls !== undefined && calls.length > 1) || (entries !== null && entries.length > 1);
  let operation: ContextCarrier | undefined;
  // An entry past the end of the list: the client had no room for it, and says "no context".
  if (entries && index !== undefined) operation = index < entries.length ? entries[index] : {};
  // A subscription URL (httpSubscriptionLink) is one operation's slot.
  else if (!shared) operation = urlCarrier(info);
  return { operation, shared, headers: request?.headers, connection };
}

function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) {
    const code = isObject(error) && typeof error.code === 'string' ? error.code : 'INTERNAL_SERVER_ERROR';
    span.setAttribute(ATTR_ERROR_TYPE, code);
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
  }
  span.end();
}

/**
 * A tRPC middleware that runs each procedure in its caller's context: every await, nested call, and
 * every event of a subscription. It looks for the operation's carrier in its per-operation slot first
 * (the WebSocket message, the batch header, the subscription URL), then the request's W3C headers, then
 * `connectionParams`; applies the `incoming` trust policy; and (unless `spans: false`) starts a SERVER
 * span per call. A carrier with an invalid `traceparent` counts as absent. Calls made from inside a
 * procedure (`createCaller`) run as children of it and are never re-extracted.
 *
 * `createContext` must pass the request through: `{ req }` (standalone, Express, Next, WebSocket
 * adapters), `{ req }` with a Fetch `Request` (fetch adapter), or `{ headers }`; add `info` for batches
 * on tRPC < 11.10 and for `connectionParams`.
 *
 * @example
 * ```ts
 * import { initTRPC } from '@trpc/server';
 * import type { CreateHTTPContextOptions } from '@trpc/server/adapters/standalone';
 * import { traceContextMiddleware } from 'otel-rpc-context/trpc';
 *
 * export const createContext = ({ req, info }: CreateHTTPContextOptions) => ({ req, info });
 * const t = initTRPC.context<typeof createContext>().create();
 * export const procedure = t.procedure.use(traceContextMiddleware({ incoming: 'link' }));
 * ```
 */
export function traceContextMiddleware(options: TraceContextMiddlewareOptions = {}) {
  const spans = options.spans ?? true;
  const lifetime = (options.subscriptionSpan ?? 'start') === 'lifetime';
  const getRequest = options.getRequest ?? defaultGetRequest;
  return async function traceContext<TResult>(call: MiddlewareCall<TResult>): Promise<TResult> {
    const ambient = context.active();
    // The getRawInput of the procedure call this code runs in, if any.
    const marker = ambient.getValue(CALL_KEY);
    // Used twice on one procedure: the first one did the work.
    if (marker === call.getRawInput) return call.next();
    let request: TraceContextRequest | undefined;
    try {
      request = getRequest(call.ctx);
    } catch {
      request = undefined;
    }
    // In-process: createCaller or a server action (no signal), localLink (our client link's context is
    // active), or a call nested inside a procedure.
    const inProcess =
      marker !== undefined || call.signal === undefined || ambient.getValue(CLIENT_OPERATION_KEY) !== undefined;
    const { parent, links, root } = operationParent(
      inProcess ? { inProcess } : carriersOf(call as MiddlewareCall<unknown>, request),
      options.propagator,
      () => resolvePolicy(options.incoming, { path: call.path, type: call.type, ctx: call.ctx }),
      ambient,
    );
    let span: Span | undefined;
    if (spans) {
      span = resolveTracer(options.tracer).startSpan(
        procedureSpanName(call.path),
        { kind: SpanKind.SERVER, attributes: procedureAttributes(call.path, call.type), links, root },
        parent,
      );
    }
    const runIn = (span ? trace.setSpan(parent, span) : parent).setValue(CALL_KEY, call.getRawInput);
    let result: TResult;
    try {
      result = await context.with(runIn, call.next);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
    const outcome = result as { ok?: boolean; error?: unknown; data?: unknown };
    if (outcome.ok === false) {
      endSpan(span, outcome.error);
      return result;
    }
    if (call.type === 'subscription' && isAsyncIterable(outcome.data)) {
      if (!lifetime) endSpan(span);
      let ended = !lifetime;
      const data = bindAsyncIterable(outcome.data, runIn, {
        onEnd(error) {
          if (ended) return;
          ended = true;
          endSpan(span, error);
        },
      });
      return { ...outcome, data } as TResult;
    }
    endSpan(span);
    return result;
  };
}
