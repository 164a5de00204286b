// The tRPC client set-ups several test files share: subscriptions over SSE beside queries over HTTP, and a
// WebSocket client with the trace-context encoder.

import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCLink,
  wsLink,
} from '@trpc/client';
import type { AnyTRPCRouter, initTRPC } from '@trpc/server';
import { EventSource } from 'eventsource';
import {
  type TraceContextLinkOptions,
  traceContextEncoder,
  traceContextHeaders,
  traceContextLink,
  traceContextUrl,
} from '../../src/trpc.js';

/** The type of a router without a transformer, for which the terminating links' options are plain. */
type NoTransformer = ReturnType<ReturnType<typeof initTRPC.create>['router']>;

/**
 * Subscriptions through `httpSubscriptionLink` (the carrier in the URL), everything else through `httpLink` or
 * `httpBatchLink` (the carrier in the headers): the split every SSE app makes.
 */
export function sseSplitLink<TRouter extends AnyTRPCRouter>(
  url: string,
  terminating: 'httpLink' | 'httpBatchLink' = 'httpBatchLink',
): TRPCLink<TRouter> {
  const http = terminating === 'httpLink' ? httpLink : httpBatchLink;
  // Built for a router without a transformer (every test router), which the generic signature cannot see.
  const link: TRPCLink<NoTransformer> = splitLink({
    condition: (op) => op.type === 'subscription',
    true: httpSubscriptionLink({ url: traceContextUrl(url), EventSource }),
    false: http({ url, headers: traceContextHeaders }),
  });
  return link as unknown as TRPCLink<TRouter>;
}

/**
 * A WebSocket client with the trace-context encoder and a tRPC client over it behind `traceContextLink(options)`.
 * Close `ws` in a `finally`: an open socket keeps the server from closing.
 */
export function wsTraceClient<TRouter extends AnyTRPCRouter>(
  url: string,
  options: { link?: TraceContextLinkOptions; retryDelayMs?: () => number } = {},
) {
  const ws = createWSClient({
    url,
    experimental_encoder: traceContextEncoder(),
    ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
  });
  const transport: TRPCLink<NoTransformer> = wsLink({ client: ws });
  const trpc = createTRPCClient<TRouter>({
    links: [traceContextLink(options.link), transport as unknown as TRPCLink<TRouter>],
  });
  return { ws, trpc };
}
