/**
 * `otel-rpc-context/apollo-server`: per-operation OpenTelemetry context for Apollo Server 4 and 5.
 *
 * `traceContextPlugin()` runs every operation, and every resolver, in the context its caller sent (what
 * `TraceContextLink` from `otel-rpc-context/apollo` puts in `extensions.traceContext`, or the request's
 * W3C headers), under a SERVER span. For subscriptions over graphql-ws, see `otel-rpc-context/graphql-ws`.
 *
 * @example
 * ```ts
 * import { ApolloServer } from '@apollo/server';
 * import { traceContextPlugin } from 'otel-rpc-context/apollo-server';
 *
 * const server = new ApolloServer({ typeDefs, resolvers, plugins: [traceContextPlugin()] });
 * ```
 * @module
 */

export {
  type TraceContextGateway,
  type TraceContextGatewayOptions,
  traceContextGateway,
} from './graphql/apollo-server/gateway.js';
export type { ApolloServerIncomingInfo, TraceContextPluginOptions } from './graphql/apollo-server/options.js';
export { traceContextPlugin } from './graphql/apollo-server/plugin.js';
export type { GraphQLServerOperationInfo, TraceContextSource } from './graphql/server-options.js';
export { ATTR_GRAPHQL_OPERATION_VARIABLES, TRACE_CONTEXT_EXTENSION } from './graphql/shared.js';
