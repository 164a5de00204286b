// Where traceContextExchange goes among urql's exchanges, under the browser's StackContextManager (which forgets
// the active context across every `await`), against a real Apollo Server with automatic persisted queries over
// loopback: before `persistedExchange`, which awaits the query's hash before it passes the operation on, the
// exchange reads the caller's context while the call is still synchronous; after it, too late (docs/urql.md).

import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StackContextManager } from '@opentelemetry/sdk-trace-web';
import { Client, cacheExchange, type Exchange, fetchExchange, gql } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceContextExchange } from '../src/urql.js';
import { type ApolloTestServer, startApollo } from './apollo-server-harness.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('exchange-order');
let server: ApolloTestServer;

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      traceId: {
        type: GraphQLString,
        args: { n: { type: GraphQLInt } },
        // Read synchronously: the plugin runs each resolver inside the operation's context.
        resolve: () => trace.getSpanContext(context.active())?.traceId ?? 'none',
      },
    },
  }),
});

beforeAll(async () => {
  context.disable();
  context.setGlobalContextManager(new StackContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  server = await startApollo({ plugin: {}, apollo: { schema } });
});
afterAll(() => server.close());

/** 5 concurrent queries, each a new document (a persisted-query miss first) under a caller span of its own. */
async function queriesUnderCallers(exchanges: Exchange[]) {
  exporter.reset();
  const client = new Client({ url: server.url, exchanges, preferGetMethod: false, requestPolicy: 'network-only' });
  const runs = Array.from({ length: 5 }, (_, n) =>
    tracer.startActiveSpan(`caller ${n}`, (caller) => {
      // A document of its own per caller and per run: the server has never seen its hash.
      const document = gql(`query Q${n}x${Math.random().toString(36).slice(2)} { traceId(n: ${n}) }`);
      const pending = client.query(document, {}).toPromise();
      caller.end();
      return pending.then((result) => ({ caller, traceId: result.data?.traceId as string | undefined }));
    }),
  );
  const results = await Promise.all(runs);
  const spans = exporter.getFinishedSpans();
  return {
    results,
    clients: spans.filter((span) => span.kind === SpanKind.CLIENT),
    servers: spans.filter((span) => span.kind === SpanKind.SERVER),
  };
}

describe('traceContextExchange before the exchanges that hold an operation back', () => {
  it('before persistedExchange: every query in its caller trace, one CLIENT span each, none failed', async () => {
    const { results, clients, servers } = await queriesUnderCallers([
      cacheExchange,
      traceContextExchange(),
      persistedExchange({ preferGetForPersistedQueries: false }),
      fetchExchange,
    ]);
    for (const { caller, traceId } of results) expect(traceId).toBe(caller.spanContext().traceId);
    expect(clients).toHaveLength(5);
    expect(clients.filter((span) => span.status.code === SpanStatusCode.ERROR)).toEqual([]);
    // The server's span of each first, hash-only request: the miss recorded, the status left unset (a protocol step).
    const misses = servers.filter((span) => span.attributes['error.type'] === 'PERSISTED_QUERY_NOT_FOUND');
    expect(misses).toHaveLength(5);
    expect(misses.map((span) => span.status.code)).toEqual(Array(5).fill(SpanStatusCode.UNSET));
  });

  it('after it (what the docs warn against): the callers are gone by the time the exchange runs', async () => {
    const { results } = await queriesUnderCallers([
      cacheExchange,
      persistedExchange({ preferGetForPersistedQueries: false }),
      traceContextExchange(),
      fetchExchange,
    ]);
    for (const { caller, traceId } of results) expect(traceId).not.toBe(caller.spanContext().traceId);
  });
});
