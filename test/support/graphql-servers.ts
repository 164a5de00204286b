// The servers GraphQL tests run against: the Yoga fixture every client test file drives, and what the tests
// that start each server integration in turn (Yoga, Apollo Server, graphql-ws) share: the kinds, the request
// body, a POST's reply, a caller context in the body, and a server that is closed whatever the test did.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { useTraceContext } from '../../src/yoga.js';
import { startServer, type TestServer } from '../graphql-fixture.js';
import { GRAPHQL_RESPONSE, newSpanId, newTraceId, postJson, traceparentOf } from './graphql-probe.js';
import { expectNoOpenSpans } from './otel.js';

/**
 * The Yoga fixture the client tests drive (useTraceContext, batches of up to 50), started before a file's
 * first test and closed after its last. After each test no span may be left open, and `clear` (forgetting what
 * the test recorded) runs whatever that check says. The server it returns is filled in before the first test.
 */
export function yogaForClientTests(tracing: Parameters<typeof expectNoOpenSpans>[0], clear?: () => void) {
  const server = {} as TestServer;
  beforeAll(async () => {
    Object.assign(server, await startServer([useTraceContext()], { batching: { limit: 50 } }));
  });
  afterAll(() => server.close());
  afterEach(() => expectNoOpenSpans(tracing, clear));
  return server;
}

/** The three server integrations, each tested in turn. */
export type ServerKind = 'yoga' | 'apollo-server' | 'graphql-ws';
export const SERVER_KINDS: ServerKind[] = ['yoga', 'apollo-server', 'graphql-ws'];

/** One GraphQL request, as it goes over HTTP or in a graphql-ws `subscribe` payload. */
export interface GraphQLBody {
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** One POST's JSON reply, asked for as the GraphQL-over-HTTP media type. */
export const postGraphql = async (url: string, body: GraphQLBody | GraphQLBody[]) =>
  (await postJson(url, body, GRAPHQL_RESPONSE)).json;

/** `body` from a fresh remote caller, whose context is in the operation's own extensions as any client sends it. */
export function withCaller(body: GraphQLBody) {
  const traceId = newTraceId();
  const spanId = newSpanId();
  return {
    traceId,
    spanId,
    body: {
      ...body,
      extensions: { ...body.extensions, traceContext: { traceparent: traceparentOf(traceId, spanId) } },
    },
  };
}

/** Runs `fn` on a started server and closes it afterwards, whether `fn` passed or threw. */
export async function closingAfter<T extends { close(): Promise<void> }>(
  started: Promise<T>,
  fn: (server: T) => Promise<void>,
) {
  const server = await started;
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** A query resolver that always fails, with the message `boom`. */
export const boom = () => {
  throw new Error('boom');
};

/** A subscription resolver that yields `{ count }` from 1 to its `to` argument, then completes. */
export const countTo = {
  subscribe: async function* (_: unknown, { to }: { to: number }) {
    for (let i = 1; i <= to; i++) yield { count: i };
  },
};
