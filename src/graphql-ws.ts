/**
 * `otel-rpc-context/graphql-ws`: per-operation OpenTelemetry context for servers that use graphql-ws
 * (5 and 6) directly, such as Apollo Server's subscription recipe.
 *
 * `withTraceContext(serverOptions)` returns graphql-ws server options that run each operation, and every
 * event of a subscription, in its own caller's context under a SERVER span.
 *
 * @example
 * ```ts
 * import { useServer } from 'graphql-ws/use/ws';
 * import { withTraceContext } from 'otel-rpc-context/graphql-ws';
 *
 * useServer(withTraceContext({ schema }), wsServer);
 * ```
 * @module
 */

export type { GraphQLWsIncomingInfo, WithTraceContextOptions } from './graphql/graphql-ws/options.js';
export { withTraceContext } from './graphql/graphql-ws/wrap.js';
export type { GraphQLServerOperationInfo, TraceContextSource } from './graphql/server-options.js';
export { ATTR_GRAPHQL_OPERATION_VARIABLES, TRACE_CONTEXT_EXTENSION } from './graphql/shared.js';
