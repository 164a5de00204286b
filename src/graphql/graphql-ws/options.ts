// The public options and types of the graphql-ws wrapper; their defaults are resolved by `resolveServerOptions`.
import type { GraphQLServerTraceOptions, TraceContextSource } from '../server-options.js';

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * withTraceContext({ schema }, {
 *   incoming: ({ context }) => (context.connectionParams?.token ? 'continue' : 'link'),
 * });
 * ```
 */
export interface GraphQLWsIncomingInfo {
  /** graphql-ws's connection context: `connectionParams`, `extra` (for `graphql-ws/use/ws`: `socket`, `request`). */
  context: { connectionParams?: Readonly<Record<string, unknown>>; extra?: unknown };
  /** The operation's Subscribe payload (`query`, `operationName`, `variables`, `extensions`), untrusted. */
  payload: Record<string, unknown>;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link withTraceContext}. Every field is optional; the names and defaults are those of every
 * GraphQL server integration of this package. `headers` reads the WebSocket upgrade request's headers
 * (`extra.request.headers`, as `graphql-ws/use/ws` and most adapters give them).
 *
 * @example
 * ```ts
 * withTraceContext({ schema }, { incoming: 'link', spans: (info) => info.operationName !== 'Heartbeat' });
 * ```
 */
export interface WithTraceContextOptions extends GraphQLServerTraceOptions<GraphQLWsIncomingInfo> {}
