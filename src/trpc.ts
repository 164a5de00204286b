/**
 * `otel-rpc-context/trpc`: per-operation OpenTelemetry context for tRPC 11.
 * Client: {@link traceContextLink} first in `links`, {@link traceContextHeaders} as the HTTP links'
 * `headers`, {@link traceContextEncoder} for `wsLink`, {@link traceContextUrl} for
 * `httpSubscriptionLink`. Server: {@link traceContextMiddleware}.
 * @module
 */
export {
  type TraceContextFetchFunction,
  type TraceContextFetchOptions,
  type TraceContextLinkInfo,
  type TraceContextLinkOptions,
  traceContextFetch,
  traceContextHeaders,
  traceContextLink,
  traceContextUrl,
} from './trpc/link.js';
export {
  type TraceContextIncomingInfo,
  type TraceContextMiddlewareOptions,
  type TraceContextRequest,
  traceContextMiddleware,
} from './trpc/middleware.js';
export { ATTR_TRPC_INPUT, BATCH_HEADER, SERVER_ERROR_CODES, type SubscriptionSpanMode } from './trpc/shared.js';
export { type TraceContextEncoderOptions, traceContextEncoder, type WebSocketEncoder } from './trpc/ws.js';
