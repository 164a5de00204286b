// The public options and types of the Yoga plugin; their defaults are resolved by `resolveServerOptions`.
import type { GraphQLServerTraceOptions, TraceContextSource } from '../server-options.js';
import { TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY } from '../shared.js';

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
 * Options for {@link useTraceContext}. Every field is optional; the names and defaults are those of every
 * GraphQL server integration of this package ({@link GraphQLServerTraceOptions}).
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: 'link', spans: true, document: false, headers: true });
 * ```
 */
export interface UseTraceContextOptions extends GraphQLServerTraceOptions<YogaIncomingInfo> {}
