import {
  context,
  createContextKey,
  type SpanContext,
  SpanKind,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { type CarrierInput, type ContextCarrier, carrierGetter, toContextCarrier } from '../core/carrier.js';
import { rpcCallMetric } from '../core/conventions.js';
import { type IncomingOption, resolvePolicy } from '../core/incoming.js';
import { resolveSpanOptions, type SpanOptions, startOperationSpan } from '../core/operation.js';
import { bindAsyncIterable, isAsyncIterable, type OperationCarriers, operationParent } from '../core/server.js';
import { formatTraceResponse } from '../core/traceresponse.js';
import {
  ATTR_TRPC_INPUT,
  BATCH_HEADER,
  BATCH_RESPONSE_HEADER,
  CLIENT_OPERATION_KEY,
  decodeBatchHeader,
  isObject,
  MAX_BATCH_HEADER_LENGTH,
  procedureAttributes,
  procedureSpanName,
  SERVER_ERROR_CODES,
  type SubscriptionSpanMode,
  serverErrorCode,
  TRACE_RESPONSE_HEADER,
  TRPC_SYSTEM,
  URL_PARAM,
} from './shared.js';
import { takeFrameCarrier } from './ws.js';

/**
 * What the `incoming` function and every span option of {@link traceContextMiddleware} are given, once per
 * procedure call. (The input is not part of it: reading it is asynchronous; `captureInput` gets it.)
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
 * Options for {@link traceContextMiddleware}: the span options every integration takes ({@link SpanOptions},
 * with {@link TraceContextIncomingInfo} as `info`), plus `incoming`, `subscriptionSpan`, `getRequest` and
 * `propagator`.
 *
 * - `spans`: `true` (default), `false`, or a predicate per call. Without a span the procedure still runs in
 *   its caller's context.
 * - `spanName`: default the procedure's path (`'trpc'` without one).
 * - `requestHook(span, info)` / `responseHook(span, info)`: `responseHook`'s `info.result` is the procedure's
 *   output (for a subscription, its async iterable; with `subscriptionSpan: 'lifetime'`, the last value it
 *   yielded), `info.error` the error.
 * - `captureInput`: records the raw input (as the transformer decoded it, before validation) as `trpc.procedure.input`;
 *   the input is only read when this is on. Off by default.
 * - `isError`: by default only server-side codes mark the SERVER span ERROR (`INTERNAL_SERVER_ERROR`,
 *   `NOT_IMPLEMENTED`, `BAD_GATEWAY`, `SERVICE_UNAVAILABLE`, `GATEWAY_TIMEOUT`; an error that is not a
 *   `TRPCError` counts as `INTERNAL_SERVER_ERROR`). `error.type` is the code either way.
 *
 * @example
 * ```ts
 * t.procedure.use(traceContextMiddleware({ incoming: 'link', subscriptionSpan: 'lifetime' }));
 * t.procedure.use(traceContextMiddleware({ spans: ({ path }) => path !== 'health', isError: () => true }));
 * ```
 */
export interface TraceContextMiddlewareOptions extends SpanOptions<TraceContextIncomingInfo> {
  /**
   * What to do with the caller's context: `'continue'` (its span is the parent), `'link'` (new trace whose
   * SERVER span links to it; caller's baggage dropped), `'ignore'`, or a function deciding per call.
   * @default 'continue'
   */
  incoming?: IncomingOption<TraceContextIncomingInfo>;
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
  /** The propagator that reads carriers. @default the global propagator */
  propagator?: TextMapPropagator;
  /**
   * Send each call's SERVER span context back to the caller in W3C `traceresponse` form
   * (`00-{trace-id}-{span-id}-{flags}`), so that the client's CLIENT span can link to the server's trace (most
   * useful with `incoming: 'link'`, where the two traces differ). The middleware records the span context;
   * {@link traceResponseMeta}, wired as the adapter's `responseMeta`, writes the headers: `traceresponse` on a
   * single-operation response, {@link BATCH_RESPONSE_HEADER} (a JSON array aligned with the batch) on a batch.
   * A call without a SERVER span (`spans` said no) sends nothing. WebSocket and SSE subscriptions send nothing
   * a client could read.
   * @default false
   * @example
   * ```ts
   * const procedure = t.procedure.use(traceContextMiddleware({ incoming: 'link', traceResponse: true }));
   * createHTTPServer({ router, createContext, responseMeta: traceResponseMeta });
   * ```
   */
  traceResponse?: boolean;
}

/**
 * The SERVER span context of each HTTP call whose middleware has `traceResponse: true`, keyed by the call's
 * `getRawInput` (the very function tRPC hands `responseMeta` in `info.calls`): it lives as long as the request.
 */
const serverSpans = new WeakMap<object, SpanContext>();

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

const serverSideError = (error: unknown) => SERVER_ERROR_CODES.has(serverErrorCode(error));

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
  const config = resolveSpanOptions(options);
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
    const info: TraceContextIncomingInfo = { path: call.path, type: call.type, ctx: call.ctx };
    // In-process: createCaller or a server action (no signal), localLink (our client link's context is
    // active), or a call nested inside a procedure.
    const inProcess =
      marker !== undefined || call.signal === undefined || ambient.getValue(CLIENT_OPERATION_KEY) !== undefined;
    const { parent, links, root } = operationParent(
      inProcess ? { inProcess } : carriersOf(call as MiddlewareCall<unknown>, request),
      options.propagator,
      () => resolvePolicy(options.incoming, info),
      ambient,
    );
    const operationSpan = startOperationSpan(config, info, {
      kind: SpanKind.SERVER,
      name: procedureSpanName(call.path),
      attributes: procedureAttributes(call.path, call.type),
      parent,
      links,
      root,
      inputAttribute: ATTR_TRPC_INPUT,
      defaultIsError: serverSideError,
      errorType: serverErrorCode,
      metric: rpcCallMetric('server', TRPC_SYSTEM, call.path),
    });
    const span = operationSpan.span;
    // Recorded synchronously at the start, so that a streamed batch's headers (sent before any procedure
    // settles) can carry it too.
    if (span && options.traceResponse === true && !inProcess) serverSpans.set(call.getRawInput, span.spanContext());
    // Reading the input is asynchronous (it may parse the body): only when it is recorded.
    if (span && config.captureInput) {
      try {
        operationSpan.captureInput(await call.getRawInput());
      } catch {
        // An unreadable input fails the procedure itself, with tRPC's own error.
      }
    }
    const runIn = (span ? trace.setSpan(parent, span) : parent).setValue(CALL_KEY, call.getRawInput);
    let result: TResult;
    try {
      result = await context.with(runIn, call.next);
    } catch (error) {
      operationSpan.fail(error);
      operationSpan.end();
      throw error;
    }
    const outcome = result as { ok?: boolean; error?: unknown; data?: unknown };
    if (outcome.ok === false) {
      operationSpan.fail(outcome.error);
      operationSpan.end();
      return result;
    }
    if (call.type === 'subscription' && isAsyncIterable(outcome.data)) {
      operationSpan.result(outcome.data);
      if (!lifetime) operationSpan.end();
      const data = bindAsyncIterable(outcome.data, runIn, {
        onValue: lifetime ? (value) => operationSpan.result(value) : undefined,
        onEnd(error) {
          if (error !== undefined) operationSpan.fail(error);
          operationSpan.end();
        },
      });
      return { ...outcome, data } as TResult;
    }
    operationSpan.result(outcome.data);
    operationSpan.end();
    return result;
  };
}

/**
 * A `responseMeta` for tRPC's HTTP adapters (standalone, fetch, Express, Next.js, ...) that sends each call's
 * SERVER span context back to the caller, for middlewares created with `traceResponse: true` (it sends nothing
 * for the others): the W3C `traceresponse` header on a response to one operation (`httpLink`, and a batch of
 * one), and {@link BATCH_RESPONSE_HEADER}, a JSON array of `traceresponse` values aligned with the batch (`null`
 * for a call without one), on a batch (`httpBatchLink`, `httpBatchStreamLink`). {@link traceContextLink} reads
 * them and links each CLIENT span to its SERVER span.
 *
 * Streamed batches (`httpBatchStreamLink`) send their headers before any procedure has finished: a slot is filled
 * only if the call's span had already started, which holds when nothing before the middleware awaits (put
 * `traceContextMiddleware` first, before `.input()` and asynchronous middlewares); the other slots are `null`.
 * The array stays within 8,192 characters (about 140 operations); the calls past that get `null`.
 * Never throws; returns `{ headers: {} }` when there is nothing to send.
 *
 * @example
 * ```ts
 * import { createHTTPServer } from '@trpc/server/adapters/standalone';
 * import { traceResponseMeta } from 'otel-rpc-context/trpc';
 *
 * createHTTPServer({ router, createContext, responseMeta: traceResponseMeta });
 * // with your own headers:
 * createHTTPServer({
 *   router,
 *   createContext,
 *   responseMeta: (opts) => ({ headers: { ...traceResponseMeta(opts).headers, 'cache-control': 'no-store' } }),
 * });
 * ```
 */
export function traceResponseMeta(opts: { info?: unknown }): { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  try {
    const info = isObject(opts) ? opts.info : undefined;
    const calls = infoCalls(info);
    if (!calls || calls.length === 0) return { headers };
    const values = calls.map((item) => {
      const key = isObject(item) ? item.getRawInput : undefined;
      return (typeof key === 'function' && formatTraceResponse(serverSpans.get(key))) || null;
    });
    if (values.length === 1 && values[0]) headers[TRACE_RESPONSE_HEADER] = values[0];
    if (isObject(info) && info.isBatchCall === true && values.some((value) => value !== null)) {
      // `[` + `]`, and per entry its JSON plus a comma: an entry that does not fit is `null`.
      let length = 1;
      const kept = values.map((value) => {
        if (value !== null && length + value.length + 3 <= MAX_BATCH_HEADER_LENGTH) {
          length += value.length + 3;
          return value;
        }
        length += 5;
        return null;
      });
      const encoded = JSON.stringify(kept);
      if (encoded.length <= MAX_BATCH_HEADER_LENGTH) headers[BATCH_RESPONSE_HEADER] = encoded;
    }
  } catch {
    // Never break a response over a header.
  }
  return { headers };
}
