/**
 * `otel-rpc-context/apollo`: per-operation OpenTelemetry context for Apollo Client 3.8+ and 4.
 * {@link TraceContextLink} first in the link chain; {@link traceContextBatchKey} for `BatchHttpLink`.
 * @module
 */

export type { OperationOutcome } from './core/span-options.js';
export { traceContextBatchKey } from './graphql/apollo/batch-key.js';
export { TraceContextLink } from './graphql/apollo/link.js';
export type { GetRequestCarrier, TraceContextLinkOptions } from './graphql/apollo/options.js';
export { ATTR_GRAPHQL_TRACERESPONSE } from './graphql/client.js';
export { type HeadersMode, TRACE_CONTEXT_EXTENSION } from './graphql/client-carrier.js';
export { type TraceContextFetchOptions, traceContextFetch } from './graphql/client-fetch.js';
export type { GraphQLClientOperationInfo, GraphQLClientOptions } from './graphql/client-options.js';
export { ATTR_GRAPHQL_OPERATION_VARIABLES } from './graphql/shared.js';
