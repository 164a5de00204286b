/**
 * `otel-rpc-context/urql`: per-operation OpenTelemetry context for urql (`@urql/core` 5 and 6, and the
 * `urql` React bindings on top). {@link traceContextExchange} goes after `cacheExchange` and before the
 * exchanges that send; the server reads `extensions.traceContext` (`useTraceContext()` from
 * `otel-rpc-context/yoga`).
 * @module
 */

export type { OperationOutcome } from './core/span-options.js';
export { ATTR_GRAPHQL_TRACERESPONSE } from './graphql/client.js';
export { type HeadersMode, TRACE_CONTEXT_EXTENSION } from './graphql/client-carrier.js';
export { type TraceContextFetchOptions, traceContextFetch } from './graphql/client-fetch.js';
export type { GraphQLClientOperationInfo, GraphQLClientOptions } from './graphql/client-options.js';
export { ATTR_GRAPHQL_OPERATION_VARIABLES } from './graphql/shared.js';
export { traceContextExchange } from './graphql/urql/exchange.js';
export type { GetRequestCarrier, TraceContextExchangeOptions } from './graphql/urql/options.js';
