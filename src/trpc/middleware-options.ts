// What `traceContextMiddleware` is configured with, and its options resolved once, when it is created.
import type { TextMapPropagator } from '@opentelemetry/api';
import { type CarrierInput, isObject } from '../core/carrier.js';
import type { IncomingOption } from '../core/incoming.js';
import { resolveSpanOptions, type SpanConfig, type SpanOptions } from '../core/span-options.js';
import type { SubscriptionSpanMode } from './shared.js';

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

/** {@link TraceContextMiddlewareOptions} resolved to their defaults. */
export interface MiddlewareConfig {
  /** The span options. */
  span: SpanConfig<TraceContextIncomingInfo>;
  incoming: IncomingOption<TraceContextIncomingInfo> | undefined;
  /** A subscription's span lives until its iteration ends (`subscriptionSpan: 'lifetime'`). */
  lifetime: boolean;
  getRequest: (ctx: unknown) => TraceContextRequest | undefined;
  propagator: TextMapPropagator | undefined;
  traceResponse: boolean;
}

/** Resolves {@link TraceContextMiddlewareOptions} once, when the middleware is created: every default is written here. */
export function resolveMiddlewareOptions(options: TraceContextMiddlewareOptions): MiddlewareConfig {
  const { subscriptionSpan = 'start' } = options;
  return {
    span: resolveSpanOptions(options),
    incoming: options.incoming,
    lifetime: subscriptionSpan === 'lifetime',
    getRequest: options.getRequest ?? defaultGetRequest,
    propagator: options.propagator,
    traceResponse: options.traceResponse === true,
  };
}

/** Finds the request in the shapes tRPC's adapters give `createContext`: `{ req }`, `{ request }`, `{ headers }`. */
function defaultGetRequest(ctx: unknown): TraceContextRequest | undefined {
  if (!isObject(ctx)) return undefined;
  const info = ctx.info;
  const { req, request } = ctx;
  if (isObject(req) && isObject(req.headers)) return { headers: req.headers as CarrierInput, info };
  if (isObject(request) && isObject(request.headers)) return { headers: request.headers as CarrierInput, info };
  if (isObject(ctx.headers)) return { headers: ctx.headers as CarrierInput, info };
  return info === undefined ? undefined : { info };
}
