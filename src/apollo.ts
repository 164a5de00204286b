/**
 * `otel-rpc-context/apollo`: per-operation OpenTelemetry context for Apollo Client 3.8+ and 4.
 * {@link TraceContextLink} first in the link chain; {@link traceContextBatchKey} for `BatchHttpLink`.
 * @module
 */

export type { OperationOutcome } from './core/operation.js';
export {
  type GetRequestCarrier,
  TRACE_CONTEXT_EXTENSION,
  TraceContextLink,
  type TraceContextLinkOptions,
  traceContextBatchKey,
} from './graphql/apollo/link.js';
export {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  ATTR_GRAPHQL_TRACERESPONSE,
  type GraphQLClientOperationInfo,
  type GraphQLClientOptions,
  type HeadersMode,
  type TraceContextFetchOptions,
  traceContextFetch,
} from './graphql/client.js';
