import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClient } from '@trpc/client';
import { createTRPCOptionsProxy, type TRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { TraceContextLink, traceContextBatchKey } from 'otel-rpc-context/apollo';
import { traceContextHeaders, traceContextLink, traceContextUrl } from 'otel-rpc-context/trpc';
import type { AppRouter } from '../server/trpc.ts';

export interface Clients {
  /** The vanilla tRPC client; the React Query options below use it. */
  trpcClient: TRPCClient<AppRouter>;
  /** tRPC's TanStack React Query integration: `trpc.todo.list.queryOptions()` and friends. */
  trpc: TRPCOptionsProxy<AppRouter>;
  queryClient: QueryClient;
  apollo: ApolloClient;
  close(): void;
}

export interface ClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:3000` (the page's own origin in the browser). */
  origin: string;
  /** An `EventSource` implementation where there is no global one (Node). */
  EventSource?: typeof globalThis.EventSource;
  /** A `WebSocket` implementation where there is no global one. */
  WebSocket?: unknown;
}

/** The example's clients, the same in the page and in `npm run demo`. */
export function createClients(options: ClientOptions): Clients {
  const trpcUrl = new URL('/trpc', options.origin).href;
  const graphqlUrl = new URL('/graphql', options.origin).href;

  const trpcClient = createTRPCClient<AppRouter>({
    links: [
      // First link: captures each call's context (the click's span) and starts a CLIENT span for it.
      traceContextLink({ subscriptionSpan: 'lifetime' }),
      splitLink({
        condition: (op) => op.type === 'subscription',
        // SSE: the carrier travels in the subscription's URL, the one slot a native EventSource has.
        true: httpSubscriptionLink({
          url: traceContextUrl(trpcUrl),
          ...(options.EventSource ? { EventSource: options.EventSource } : {}),
        }),
        // Batched HTTP: one carrier per call, aligned with the batch.
        false: httpBatchLink({ url: trpcUrl, headers: traceContextHeaders }),
      }),
    ],
  });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 0 } } });
  const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });

  const ws: WsClient = createClient({
    url: graphqlUrl.replace(/^http/, 'ws'),
    lazy: true,
    ...(options.WebSocket ? { webSocketImpl: options.WebSocket } : {}),
  });
  const isSubscription = (operation: ApolloLink.Operation) => {
    const definition = getMainDefinition(operation.query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  const apollo = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      // First link: captures the caller's context, starts a CLIENT span, sends the carrier in `extensions`.
      new TraceContextLink(),
      ApolloLink.split(
        isSubscription,
        new GraphQLWsLink(ws),
        ApolloLink.split(
          (operation) => operation.getContext().batch === true,
          // The demo runs this on Node, where the link also sends W3C headers: the batch key keeps them from
          // splitting the batch.
          new BatchHttpLink({
            uri: graphqlUrl,
            batchMax: 10,
            batchInterval: 5,
            batchKey: traceContextBatchKey(graphqlUrl),
          }),
          new HttpLink({ uri: graphqlUrl }),
        ),
      ),
    ]),
  });

  return {
    trpcClient,
    trpc,
    queryClient,
    apollo,
    close() {
      void ws.dispose();
      apollo.stop();
      queryClient.clear();
    },
  };
}
