/**
 * `otel-rpc-context/yoga`: per-operation OpenTelemetry context for graphql-yoga and Envelop.
 * @module
 */
export {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  type GraphQLServerOperationInfo,
} from './graphql/server.js';
export {
  TRACE_CONTEXT_EXTENSION,
  type TraceContextSource,
  type UseTraceContextOptions,
  type YogaIncomingInfo,
} from './graphql/yoga/options.js';
export { useTraceContext } from './graphql/yoga/plugin.js';
