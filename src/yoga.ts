/**
 * `otel-rpc-context/yoga`: per-operation OpenTelemetry context for graphql-yoga and Envelop.
 * @module
 */
export type { GraphQLServerOperationInfo, TraceContextSource } from './graphql/server-options.js';
export { ATTR_GRAPHQL_OPERATION_VARIABLES } from './graphql/shared.js';
export {
  TRACE_CONTEXT_EXTENSION,
  type UseTraceContextOptions,
  type YogaIncomingInfo,
} from './graphql/yoga/options.js';
export { useTraceContext } from './graphql/yoga/plugin.js';
