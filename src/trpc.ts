/**
 * `otel-rpc-context/trpc`: per-operation OpenTelemetry context for tRPC 11.
 * Client: {@link traceContextLink} first in `links`, {@link traceContextHeaders} as the HTTP links'
 * `headers`, {@link traceContextEncoder} for `wsLink`, {@link traceContextUrl} for
 * `httpSubscriptionLink`. Server: {@link traceContextMiddleware}, and {@link traceResponseMeta} as `responseMeta`
 * to send `traceresponse` back.
 * @module
 */
export { BATCH_HEADER } from './trpc/batch-header.js';
export { type TraceContextFetchFunction, type TraceContextFetchOptions, traceContextFetch } from './trpc/fetch.js';
export { traceContextHeaders } from './trpc/headers.js';
export { traceContextLink } from './trpc/link.js';
export type { TraceContextLinkInfo, TraceContextLinkOptions } from './trpc/link-options.js';
export { traceContextMiddleware } from './trpc/middleware.js';
export type {
  TraceContextIncomingInfo,
  TraceContextMiddlewareOptions,
  TraceContextRequest,
} from './trpc/middleware-options.js';
export { ATTR_TRPC_INPUT, SERVER_ERROR_CODES, type SubscriptionSpanMode } from './trpc/shared.js';
export {
  ATTR_TRPC_TRACERESPONSE,
  BATCH_RESPONSE_HEADER,
  TRACE_RESPONSE_HEADER,
  traceResponseMeta,
} from './trpc/traceresponse.js';
export { traceContextUrl } from './trpc/url-param.js';
export { type TraceContextEncoderOptions, traceContextEncoder, type WebSocketEncoder } from './trpc/ws.js';
