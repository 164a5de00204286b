// What `traceContextLink` is configured with, and its options resolved once, when the link is created.
import type { TextMapPropagator } from '@opentelemetry/api';
import { resolveSpanOptions, type SpanConfig, type SpanOptions, toPredicate } from '../core/span-options.js';
import type { SubscriptionSpanMode } from './shared.js';

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

/** {@link TraceContextLinkOptions} resolved to their defaults. */
export interface LinkConfig {
  /** The span options. */
  span: SpanConfig<TraceContextLinkInfo>;
  /** Whether an operation sends its carrier (called through `callSafely`). */
  propagate: (info: TraceContextLinkInfo) => boolean;
  /** A subscription's span lives until the subscription ends (`subscriptionSpan: 'lifetime'`). */
  lifetime: boolean;
  propagator: TextMapPropagator | undefined;
}

/** Resolves {@link TraceContextLinkOptions} once, when the link is created: every default is written here. */
export function resolveLinkOptions(options: TraceContextLinkOptions): LinkConfig {
  const { propagate = true, subscriptionSpan = 'start' } = options;
  return {
    span: resolveSpanOptions(options),
    propagate: toPredicate(propagate),
    lifetime: subscriptionSpan === 'lifetime',
    propagator: options.propagator,
  };
}
