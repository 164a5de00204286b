// How many OpenTelemetry calls one operation makes, client and server together, over real loopback HTTP:
// `propagation.inject` and `propagation.extract` once each, `context.with` once per side, `startSpan` once per
// side with spans and never without. Counted through wrappers around the global propagator, context manager
// and tracer provider. Neither tRPC, Yoga nor Apollo Client calls OpenTelemetry, no instrumentation is loaded
// and the tracer provider has no span processor (SimpleSpanProcessor enters a context to export), so every
// call counted is ours. A behaviour test, not a timing test: it asserts counts, never time.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import {
  type Context,
  type ContextManager,
  context,
  propagation,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { gql } from 'graphql-tag';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceContextLink, traceContextBatchKey } from '../src/apollo.js';
import { traceContextHeaders, traceContextLink, traceContextMiddleware } from '../src/trpc.js';
import { useTraceContext } from '../src/yoga.js';

type Counted = 'inject' | 'extract' | 'with' | 'startSpan';
const counts: Record<Counted, number> = { inject: 0, extract: 0, with: 0, startSpan: 0 };
let counting = false;

function resetCounts(): void {
  for (const key of Object.keys(counts) as Counted[]) counts[key] = 0;
}

/** `target` with `methods` counted (while counting is on) and every other method bound to it. */
function counted<T extends object>(target: T, methods: Partial<Record<string, Counted>>): T {
  return new Proxy(target, {
    get(object, key) {
      const value = Reflect.get(object, key, object);
      if (typeof value !== 'function') return value;
      const name = typeof key === 'string' ? methods[key] : undefined;
      if (!name) return value.bind(object);
      return (...args: unknown[]) => {
        if (counting) counts[name]++;
        return value.apply(object, args);
      };
    },
  });
}

const provider = new BasicTracerProvider();
let tracer: Tracer;

beforeAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
  const manager: ContextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(counted(manager, { with: 'with' }));
  const propagator: TextMapPropagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  propagation.setGlobalPropagator(counted(propagator, { inject: 'inject', extract: 'extract' }));
  trace.setGlobalTracerProvider({
    getTracer: (...args: Parameters<typeof provider.getTracer>) =>
      counted(provider.getTracer(...args), { startSpan: 'startSpan', startActiveSpan: 'startSpan' }),
  });
  tracer = provider.getTracer('caller');
});

afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

/** Runs `operations` (which make `ops` operations) inside a caller's span and returns the calls per operation. */
async function perOperation(ops: number, operations: () => Promise<unknown>): Promise<Record<Counted, number>> {
  const caller = tracer.startSpan('caller');
  const callerContext: Context = trace.setSpan(context.active(), caller);
  // Warm: the first operation of a client or server may do one-off work (a schema wrap, a histogram lookup).
  await context.with(callerContext, operations);
  await context.with(callerContext, async () => {
    resetCounts();
    counting = true;
    try {
      await operations();
    } finally {
      counting = false;
    }
  });
  caller.end();
  const result = { ...counts };
  for (const key of Object.keys(result) as Counted[]) result[key] /= ops;
  return result;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe.each([false, true])('calls per operation, spans: %s', (spans) => {
  const startSpan = spans ? 2 : 0;

  describe('tRPC (httpLink, httpBatchLink, standalone server)', () => {
    const t = initTRPC.context<{ req: unknown }>().create();
    const router = t.router({
      greet: t.procedure
        .use(traceContextMiddleware({ spans }))
        .input((value) => value as { n: number })
        .query(({ input }) => ({ n: input.n })),
    });
    const server = createHTTPServer({ router, createContext: ({ req }) => ({ req }) });
    let url: string;
    beforeAll(async () => {
      url = await listen(server);
    });
    afterAll(() => close(server));

    it('a single call: one inject, one extract, one context.with per side', async () => {
      const client = createTRPCClient<typeof router>({
        links: [traceContextLink({ spans }), httpLink({ url, headers: traceContextHeaders })],
      });
      const calls = await perOperation(4, async () => {
        for (let n = 0; n < 4; n++) await client.greet.query({ n });
      });
      expect(calls).toEqual({ inject: 1, extract: 1, with: 2, startSpan });
    });

    it('a batch of 5: the same per operation', async () => {
      const client = createTRPCClient<typeof router>({
        links: [traceContextLink({ spans }), httpBatchLink({ url, maxItems: 5, headers: traceContextHeaders })],
      });
      const calls = await perOperation(5, () => Promise.all([0, 1, 2, 3, 4].map((n) => client.greet.query({ n }))));
      expect(calls).toEqual({ inject: 1, extract: 1, with: 2, startSpan });
    });
  });

  describe('GraphQL (Apollo Client HttpLink and BatchHttpLink, Yoga)', () => {
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Item { id: Int! name: String! } type Query { greet(n: Int!): Int! items(n: Int!): [Item!]! }',
        resolvers: {
          Query: {
            greet: (_source: unknown, { n }: { n: number }) => n,
            items: (_source: unknown, { n }: { n: number }) => Array.from({ length: n }, (_, id) => ({ id })),
          },
          Item: { name: ({ id }: { id: number }) => `item ${id}` },
        },
      }),
      plugins: [useTraceContext({ spans })],
      batching: { limit: 10 },
      graphiql: false,
      landingPage: false,
      logging: false,
    });
    const server = createServer(yoga);
    let uri: string;
    beforeAll(async () => {
      uri = `${await listen(server)}${yoga.graphqlEndpoint}`;
    });
    afterAll(() => close(server));

    const GREET = gql`
      query Greet($n: Int!) {
        greet(n: $n)
      }
    `;
    const ITEMS = gql`
      query Items($n: Int!) {
        items(n: $n) {
          id
          name
        }
      }
    `;
    const apollo = (terminating: ApolloLink) =>
      new ApolloClient({
        link: ApolloLink.from([new TraceContextLink({ spans }), terminating]),
        cache: new InMemoryCache(),
        queryDeduplication: false,
      });

    it('a single query: one inject, one extract, one context.with per side', async () => {
      const client = apollo(new HttpLink({ uri }));
      const calls = await perOperation(4, async () => {
        for (let n = 0; n < 4; n++) await client.query({ query: GREET, variables: { n }, fetchPolicy: 'no-cache' });
      });
      expect(calls).toEqual({ inject: 1, extract: 1, with: 2, startSpan });
    });

    it('a batch of 5: the same per operation', async () => {
      const client = apollo(
        new BatchHttpLink({ uri, batchMax: 5, batchInterval: 0, batchKey: traceContextBatchKey(uri) }),
      );
      const calls = await perOperation(5, () =>
        Promise.all(
          [0, 1, 2, 3, 4].map((n) => client.query({ query: GREET, variables: { n }, fetchPolicy: 'no-cache' })),
        ),
      );
      expect(calls).toEqual({ inject: 1, extract: 1, with: 2, startSpan });
    });

    it('no more calls with 200 resolved fields than with one', async () => {
      const client = apollo(new HttpLink({ uri }));
      const calls = await perOperation(2, async () => {
        for (let n = 0; n < 2; n++)
          await client.query({ query: ITEMS, variables: { n: 100 }, fetchPolicy: 'no-cache' });
      });
      expect(calls).toEqual({ inject: 1, extract: 1, with: 2, startSpan });
    });
  });
});
