/**
 * `otel-rpc-context/trpc`: per-operation OpenTelemetry context for tRPC 11.
 * Client: {@link traceContextLink} first in `links`, {@link traceContextHeaders} as the HTTP links'
 * `headers`, {@link traceContextEncoder} for `wsLink`, {@link traceContextUrl} for
 * `httpSubscriptionLink`. Server: {@link traceContextMiddleware}, and {@link traceResponseMeta} as `responseMeta`
 * to send `traceresponse` back.
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
  traceResponseMeta,
} from './trpc/middleware.js';
export {
  ATTR_TRPC_INPUT,
  ATTR_TRPC_TRACERESPONSE,
  BATCH_HEADER,
  BATCH_RESPONSE_HEADER,
  SERVER_ERROR_CODES,
  type SubscriptionSpanMode,
  TRACE_RESPONSE_HEADER,
} from './trpc/shared.js';
export { type TraceContextEncoderOptions, traceContextEncoder, type WebSocketEncoder } from './trpc/ws.js';
