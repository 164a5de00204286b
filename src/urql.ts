/**
 * `otel-rpc-context/urql`: per-operation OpenTelemetry context for urql (`@urql/core` 5 and 6, and the
 * `urql` React bindings on top). {@link traceContextExchange} goes after `cacheExchange` and before the
 * exchanges that send; the server reads `extensions.traceContext` (`useTraceContext()` from
 * `otel-rpc-context/yoga`).
 * @module
 */

export type { OperationOutcome } from './core/operation.js';
export {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  ATTR_GRAPHQL_TRACERESPONSE,
  type GraphQLClientOperationInfo,
  type GraphQLClientOptions,
  type HeadersMode,
  type TraceContextFetchOptions,
  traceContextFetch,
} from './graphql/client.js';
export {
  type GetRequestCarrier,
  TRACE_CONTEXT_EXTENSION,
  type TraceContextExchangeOptions,
  traceContextExchange,
} from './graphql/urql/exchange.js';
