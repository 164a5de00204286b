// biome-ignore-all lint/suspicious/noExplicitAny: GraphQL payloads and results are untyped here
// The clients the GraphQL tests drive servers with: Apollo Client 4 behind our link, and the graphql-ws client
// reading every event of one operation.
import type { IncomingMessage, Server } from 'node:http';
import { ApolloClient, ApolloLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { TraceContextLink, traceContextBatchKey } from '../../src/apollo.js';

/** Apollo Client 4 with TraceContextLink in front of `link`, and no cache between a query and the server. */
export function apolloClient(link: ApolloLink) {
  return new ApolloClient({
    link: ApolloLink.from([new TraceContextLink(), link]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}

/**
 * {@link apolloClient} over BatchHttpLink to `uri`: up to 10 operations a request, 5 ms apart, kept in one batch
 * whatever trace headers each operation has (traceContextBatchKey).
 */
export const apolloBatchClient = (uri: string) =>
  apolloClient(new BatchHttpLink({ uri, batchMax: 10, batchInterval: 5, batchKey: traceContextBatchKey(uri) }));

/** Every event of one graphql-ws operation (one for a query), once it completes; rejects on its error. */
export const collectEvents = (client: WsClient, payload: any) =>
  new Promise<any[]>((resolve, reject) => {
    const events: any[] = [];
    client.subscribe(payload, {
      next: (value) => void events.push(value),
      error: reject,
      complete: () => resolve(events),
    });
  });

/** {@link collectEvents} over a graphql-ws client of its own, disposed whatever the operation did. */
export async function wsEvents(url: string, payload: any): Promise<any[]> {
  const client = createWsClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    return await collectEvents(client, payload);
  } finally {
    await client.dispose();
  }
}

/** What Apollo Client 3 and 4 share for a subscription: `subscribe(options)` returns an observable. */
interface SubscribingClient {
  subscribe(options: any): { subscribe(observer: any): unknown };
}

/** Every event's `data` of one Apollo Client subscription (no cache), once it completes; rejects on its error. */
export const subscriptionEvents = (client: SubscribingClient, query: unknown, variables: Record<string, unknown>) =>
  new Promise<any[]>((resolve, reject) => {
    const events: any[] = [];
    client
      .subscribe({ query, variables, fetchPolicy: 'no-cache' })
      .subscribe({ next: (event: any) => events.push(event.data), error: reject, complete: () => resolve(events) });
  });

/**
 * A fetch for Apollo Client's HTTP links that records what goes on the wire: each request's parsed JSON body
 * in `bodies`, its URL and headers (as the link wrote them) in `sent`; `clear` forgets them (after each test).
 */
export function recordFetches() {
  const bodies: unknown[] = [];
  const sent: { url: string; headers: Record<string, string> }[] = [];
  const fetchAndRecord: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body));
    sent.push({ url: String(input), headers: { ...(init?.headers as Record<string, string>) } });
    return fetch(input, init);
  };
  const clear = () => {
    bodies.length = 0;
    sent.length = 0;
  };
  return { fetch: fetchAndRecord, bodies, sent, clear };
}

/**
 * Runs `fn` with `@opentelemetry/instrumentation-undici` on (Node's fetch instrumented), `received` collecting the
 * `traceparent` each request reaching `server` arrived with; turns it off again, whatever `fn` did.
 */
export async function withInstrumentedFetch<T>(
  server: Server,
  fn: (received: (string | undefined)[]) => Promise<T>,
): Promise<T> {
  const received: (string | undefined)[] = [];
  // A repeated header arrives joined by commas: one string, as the server's instrumentation sees it.
  const onRequest = (req: IncomingMessage) => received.push(req.headers.traceparent as string | undefined);
  server.on('request', onRequest);
  const undici = new UndiciInstrumentation();
  undici.enable();
  try {
    return await fn(received);
  } finally {
    undici.disable();
    server.off('request', onRequest);
  }
}
