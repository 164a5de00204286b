// The public options and types of the Apollo Server plugin; their defaults are resolved by `resolveServerOptions`.
import type { BaseContext, GraphQLRequest } from '@apollo/server';
import type { GraphQLServerTraceOptions, TraceContextSource } from '../server-options.js';

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * traceContextPlugin({
 *   incoming: ({ request }) => (request.http?.headers.get('authorization') ? 'continue' : 'link'),
 * });
 * ```
 */
export interface ApolloServerIncomingInfo {
  /** The operation's GraphQL context value, as your `context` function built it. */
  contextValue: BaseContext;
  /** The GraphQL request: `query`, `operationName`, `variables`, `extensions`, and `http` (method, headers). */
  request: GraphQLRequest;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link traceContextPlugin}. Every field is optional; the names and defaults are those of the
 * Yoga plugin and of every GraphQL server integration of this package.
 *
 * @example
 * ```ts
 * traceContextPlugin({ incoming: 'link', spans: true, document: false, headers: true, captureInput: false });
 * ```
 */
export interface TraceContextPluginOptions extends GraphQLServerTraceOptions<ApolloServerIncomingInfo> {}
