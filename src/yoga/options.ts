// The public options and types of the Yoga plugin, with every default in one place.
import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import { TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY } from '../graphql-shared.js';
import type { IncomingOption } from '../incoming.js';
import type { CarrierSource } from '../server.js';

/**
 * The `extensions` key the plugin reads each operation's context carrier from: `'traceContext'`.
 *
 * @example
 * ```ts
 * // Any client can send it; this is what TraceContextLink sends:
 * // { "query": "{ hello }", "extensions": { "traceContext": { "traceparent": "00-…-01" } } }
 * import { getContext } from 'otel-rpc-context';
 * import { TRACE_CONTEXT_EXTENSION } from 'otel-rpc-context/yoga';
 *
 * const body = { query: '{ hello }', extensions: { [TRACE_CONTEXT_EXTENSION]: getContext() } };
 * ```
 */
export const TRACE_CONTEXT_EXTENSION = SHARED_EXTENSION_KEY;

/**
 * Where an operation's carrier was found.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: ({ source }) => (source === 'headers' ? 'link' : 'continue') });
 * ```
 */
export type TraceContextSource = 'extensions' | 'connectionParams' | 'headers';

/** The Yoga names of the shared rule's sources. */
export const SOURCES = {
  operation: 'extensions',
  connection: 'connectionParams',
  headers: 'headers',
} as const satisfies Record<CarrierSource, TraceContextSource>;

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * useTraceContext({
 *   incoming: ({ request }) => (request?.headers.get('authorization') ? 'continue' : 'link'),
 * });
 * ```
 */
export interface YogaIncomingInfo {
  /**
   * The GraphQL context as Envelop received it: Yoga's per-operation context on HTTP (with `request` and
   * `params`), or the object the graphql-ws recipe passes to `getEnveloped` (with `connectionParams`).
   */
  context: Record<string, unknown>;
  /** The HTTP request, or `undefined` on graphql-ws. */
  request: Request | undefined;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link useTraceContext}. Every field is optional.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: 'link', spans: true, document: false, headers: true });
 * ```
 */
export interface UseTraceContextOptions {
  /**
   * What to do with a context that arrives with an operation: `'continue'` its trace, start a new trace
   * that `'link'`s to it, `'ignore'` it, or a function deciding per operation. See the README's trust policy.
   * @default 'continue'
   */
  incoming?: IncomingOption<YogaIncomingInfo>;
  /** Start one SERVER span per operation. With `false`, phases and resolvers run in the caller's context. @default true */
  spans?: boolean;
  /** Record the operation's source text as `graphql.document`. It can hold inlined arguments. @default false */
  document?: boolean;
  /** Fall back to the request's W3C headers (`traceparent`, …) when no carrier travels in the operation. @default true */
  headers?: boolean;
  /** The tracer for the server spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that reads carriers and headers. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** Every option resolved to its default, in one place. */
export function withDefaults(options: UseTraceContextOptions) {
  return {
    incoming: options.incoming ?? 'continue',
    spans: options.spans ?? true,
    document: options.document ?? false,
    headers: options.headers ?? true,
    tracer: options.tracer,
    propagator: options.propagator,
  };
}
