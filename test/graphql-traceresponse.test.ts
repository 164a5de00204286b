// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// Issue #13's "trace id back to the caller", GraphQL half: with `traceResponse: true` the three server
// integrations (Yoga, Apollo Server, graphql-ws's withTraceContext) put each operation's SERVER span context in
// its result's `extensions.traceresponse` (W3C Trace Context Level 2 form), and the clients (Apollo Client 4's
// TraceContextLink, urql's traceContextExchange) link their CLIENT span to it. Real servers and clients over
// loopback; a tiny node:http server plays a hostile server for malformed values.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { ApolloClient, ApolloLink, gql as apolloGql, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, cacheExchange, fetchExchange, subscriptionExchange, gql as urqlGql } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { createSchema, type Plugin } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ATTR_GRAPHQL_TRACERESPONSE, TraceContextLink, type TraceContextLinkOptions } from '../src/apollo.js';
import type { TraceContextPluginOptions } from '../src/apollo-server.js';
import { formatTraceResponse, parseTraceResponse } from '../src/core/traceresponse.js';
import { type TraceContextExchangeOptions, traceContextExchange } from '../src/urql.js';
import { useTraceContext } from '../src/yoga.js';
import { startApollo } from './apollo-server-harness.js';
import { setupGraphqlTracing, startServer } from './graphql-fixture.js';
import { wsEvents } from './support/graphql-clients.js';
import {
  boom,
  closingAfter,
  countTo,
  type GraphQLBody,
  postGraphql,
  SERVER_KINDS,
  type ServerKind,
  withCaller,
} from './support/graphql-servers.js';
import { expectNoOpenSpans } from './support/otel.js';

// As in graphql-ws.test.ts: src/graphql/graphql-ws/wrap.ts must get the graphql copy Node loads (one realm).
vi.mock('graphql', async () => createRequire(import.meta.url)('graphql'));

const tracing = setupGraphqlTracing();
const { exporter, tracer } = tracing;

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query {
      hello(name: String): String!
      boom: String
    }
    type Subscription {
      count(to: Int!): Int!
    }
  `,
  resolvers: {
    Query: {
      hello: async (_: unknown, { name }: { name?: string }) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return `hello ${name ?? 'world'}`;
      },
      boom,
    },
    Subscription: { count: countTo },
  },
});

type ServerOptions = Omit<TraceContextPluginOptions, 'incoming'> & { incoming?: 'link' | 'continue' };
interface Running {
  url: string;
  wsUrl: string;
  /** One operation's events (one for a query) over the integration's own transport. */
  events(body: GraphQLBody): Promise<any[]>;
  close(): Promise<void>;
}

/** Starts one integration with `options` and the schema above; `plugins` go before Yoga's. */
async function start(kind: ServerKind, options: ServerOptions, plugins: Plugin[] = []): Promise<Running> {
  if (kind === 'yoga') {
    const server = await startServer([...plugins, useTraceContext(options)], { schema, batching: { limit: 10 } });
    return { ...server, events: async (body) => [await postGraphql(server.url, body)] };
  }
  if (kind === 'apollo-server') {
    const server = await startApollo({
      integration: 'express',
      plugin: options,
      ws: false,
      apollo: { schema, allowBatchedHttpRequests: true },
      wsServerOptions: { schema },
    });
    return { ...server, events: async (body) => [await postGraphql(server.url, body)] };
  }
  const server = await startApollo({
    integration: 'express',
    plugin: false,
    ws: options,
    wsServerOptions: {
      schema,
      // A user execute that adds an extension of its own: traceresponse goes next to it.
      execute: async (args: any) => {
        const { execute } = await import('graphql');
        const result: any = await execute(args);
        return { ...result, extensions: { ...result.extensions, cost: 3 } };
      },
    },
  });
  return { ...server, events: (body) => wsEvents(server.wsUrl, body) };
}

const withServer = (
  kind: ServerKind,
  options: ServerOptions,
  fn: (server: Running) => Promise<void>,
  plugins: Plugin[] = [],
) => closingAfter(start(kind, options, plugins), fn);

const ours = (kind: SpanKind) =>
  exporter
    .getFinishedSpans()
    .filter((span) => span.kind === kind && span.instrumentationScope.name === 'otel-rpc-context');
const traceResponseOf = (span: ReadableSpan) =>
  `00-${span.spanContext().traceId}-${span.spanContext().spanId}-0${span.spanContext().traceFlags}`;
/** The SERVER span that links to the caller span `spanId` (incoming 'link'). */
const serverLinkedTo = (spanId: string) => {
  const found = ours(SpanKind.SERVER).filter((span) => span.links.some((link) => link.context.spanId === spanId));
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
};

const HELLO: GraphQLBody = { query: 'query Hello($name: String) { hello(name: $name) }', operationName: 'Hello' };
const COUNT: GraphQLBody = { query: 'subscription Count { count(to: 3) }', operationName: 'Count' };

// Every span an operation started has ended, whatever the options did.
afterEach(() => expectNoOpenSpans(tracing));

describe('traceresponse values', () => {
  it('formats a span context and parses only strict version-00 values', () => {
    const spanContext = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    const value = formatTraceResponse(spanContext);
    expect(value).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`);
    expect(parseTraceResponse(value)).toEqual({ ...spanContext, isRemote: true });
    for (const bad of MALFORMED) expect(parseTraceResponse(bad)).toBeUndefined();
  });
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
/** What a hostile or broken server might send as `traceresponse`. */
const MALFORMED: unknown[] = [
  `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
  `01-${TRACE_ID}-${SPAN_ID}-01`,
  `ff-${TRACE_ID}-${SPAN_ID}-01`,
  `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
  `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${SPAN_ID}-1`,
  `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
  ` 00-${TRACE_ID}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${SPAN_ID}-0g`,
  `00_${TRACE_ID}_${SPAN_ID}_01`,
  '',
  42,
  null,
  { traceId: TRACE_ID, spanId: SPAN_ID },
  [`00-${TRACE_ID}-${SPAN_ID}-01`],
];

describe.each(SERVER_KINDS)('%s server', (kind) => {
  it('sends nothing by default', async () => {
    await withServer(kind, { incoming: 'link' }, async (server) => {
      const [result] = await server.events(withCaller(HELLO).body);
      expect(result.data).toEqual({ hello: 'hello world' });
      expect(result.extensions?.traceresponse).toBeUndefined();
      expect(ours(SpanKind.SERVER)).toHaveLength(1);
    });
  });

  it("traceResponse: true under incoming 'link' sends the SERVER span's own context, other extensions kept", async () => {
    await withServer(kind, { incoming: 'link', traceResponse: true }, async (server) => {
      const caller = withCaller(HELLO);
      const [result] = await server.events(caller.body);
      expect(result.data).toEqual({ hello: 'hello world' });
      await expect.poll(() => ours(SpanKind.SERVER).length).toBe(1);
      const span = serverLinkedTo(caller.spanId);
      expect(span.name).toBe('query Hello');
      // A trace of its own, linked to the caller's; the value names this span, not the caller's.
      expect(span.spanContext().traceId).not.toBe(caller.traceId);
      expect(result.extensions.traceresponse).toBe(traceResponseOf(span));
      expect(parseTraceResponse(result.extensions.traceresponse)?.spanId).toBe(span.spanContext().spanId);
      if (kind === 'graphql-ws') expect(result.extensions.cost).toBe(3);
    });
  });

  it('a result with errors carries it too', async () => {
    await withServer(kind, { incoming: 'link', traceResponse: true }, async (server) => {
      const caller = withCaller({ query: 'query Boom { boom }', operationName: 'Boom' });
      const [result] = await server.events(caller.body);
      expect(result.errors[0].message).toBe('boom');
      await expect.poll(() => ours(SpanKind.SERVER).length).toBe(1);
      const span = serverLinkedTo(caller.spanId);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(result.extensions.traceresponse).toBe(traceResponseOf(span));
    });
  });

  it('spans: false (or a predicate saying no) sends nothing', async () => {
    await withServer(kind, { incoming: 'link', traceResponse: true, spans: false }, async (server) => {
      const [result] = await server.events(withCaller(HELLO).body);
      expect(result.data).toEqual({ hello: 'hello world' });
      expect(result.extensions?.traceresponse).toBeUndefined();
      expect(ours(SpanKind.SERVER)).toHaveLength(0);
    });
    await withServer(
      kind,
      { incoming: 'link', traceResponse: true, spans: (info) => info.operationName !== 'Hello' },
      async (server) => {
        const [result] = await server.events(withCaller(HELLO).body);
        expect(result.extensions?.traceresponse).toBeUndefined();
        expect(ours(SpanKind.SERVER)).toHaveLength(0);
      },
    );
  });

  it("under incoming 'continue' the value still names the SERVER span, a child of the caller", async () => {
    await withServer(kind, { traceResponse: true }, async (server) => {
      const caller = withCaller(HELLO);
      const [result] = await server.events(caller.body);
      await expect.poll(() => ours(SpanKind.SERVER).length).toBe(1);
      const span = ours(SpanKind.SERVER)[0]!;
      expect(span.spanContext().traceId).toBe(caller.traceId);
      expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
      expect(result.extensions.traceresponse).toBe(traceResponseOf(span));
    });
  });
});

describe.each(['yoga', 'apollo-server'] as const)('%s HTTP batch', (kind) => {
  it('each operation of a batch gets its own value', async () => {
    await withServer(kind, { incoming: 'link', traceResponse: true }, async (server) => {
      const callers = ['a', 'b', 'c'].map((name) => withCaller({ ...HELLO, variables: { name } }));
      const results = await postGraphql(
        server.url,
        callers.map((caller) => caller.body),
      );
      expect(results).toHaveLength(3);
      const values = new Set<string>();
      callers.forEach((caller, index) => {
        const span = serverLinkedTo(caller.spanId);
        expect(results[index].data.hello).toBe(`hello ${['a', 'b', 'c'][index]}`);
        expect(results[index].extensions.traceresponse).toBe(traceResponseOf(span));
        values.add(results[index].extensions.traceresponse);
      });
      expect(values.size).toBe(3);
    });
  });
});

describe('subscriptions', () => {
  it('graphql-ws (withTraceContext and Yoga): every event carries the one SERVER span', async () => {
    for (const kind of ['graphql-ws', 'yoga'] as const) {
      await withServer(kind, { incoming: 'link', traceResponse: true }, async (server) => {
        const caller = withCaller(COUNT);
        const events = await wsEvents(server.wsUrl, caller.body);
        expect(events.map((event) => event.data.count)).toEqual([1, 2, 3]);
        await expect.poll(() => ours(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
        const span = serverLinkedTo(caller.spanId);
        expect(span.name).toBe('subscription Count');
        for (const event of events) expect(event.extensions.traceresponse).toBe(traceResponseOf(span));
      });
      exporter.reset();
    }
  });

  it('Yoga SSE: every event carries the one SERVER span', async () => {
    await withServer('yoga', { incoming: 'link', traceResponse: true }, async (server) => {
      const caller = withCaller(COUNT);
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(caller.body),
      });
      const text = await response.text();
      const events = text
        .split('\n')
        .filter((line) => line.startsWith('data: ') && line.length > 6)
        .map((line) => JSON.parse(line.slice(6)))
        .filter((event) => event.data);
      expect(events.map((event) => event.data.count)).toEqual([1, 2, 3]);
      await expect.poll(() => ours(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
      const span = serverLinkedTo(caller.spanId);
      for (const event of events) expect(event.extensions.traceresponse).toBe(traceResponseOf(span));
    });
  });
});

describe('Yoga with another plugin that sets extensions', () => {
  it('keeps them and does not change the object that plugin produced', async () => {
    const produced: any[] = [];
    const other: Plugin = {
      onExecute: () => ({
        onExecuteDone: ({ result, setResult }) => {
          const next = { ...(result as object), extensions: { complexity: 7 } };
          produced.push(next);
          setResult(next as never);
        },
      }),
    };
    await withServer(
      'yoga',
      { incoming: 'link', traceResponse: true },
      async (server) => {
        const caller = withCaller(HELLO);
        const [result] = await server.events(caller.body);
        const span = serverLinkedTo(caller.spanId);
        expect(result.extensions).toEqual({ complexity: 7, traceresponse: traceResponseOf(span) });
        // Copied, not mutated.
        expect(produced[0].extensions).toEqual({ complexity: 7 });
      },
      [other],
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Clients

type ClientOptions = TraceContextLinkOptions & TraceContextExchangeOptions;

async function asCaller<T>(fn: () => Promise<T>): Promise<{ span: Span; result: T }> {
  return tracer.startActiveSpan('caller', async (span) => {
    try {
      return { span, result: await fn() };
    } finally {
      span.end();
    }
  });
}
const clientOf = (caller: Span) => {
  const found = ours(SpanKind.CLIENT).filter((span) => span.parentSpanContext?.spanId === caller.spanContext().spanId);
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
};

function apolloQuery(url: string, options: ClientOptions, name = 'world') {
  const client = new ApolloClient({
    link: ApolloLink.from([new TraceContextLink(options), new HttpLink({ uri: url })]),
    cache: new InMemoryCache(),
  });
  return client
    .query({ query: apolloGql(HELLO.query), variables: { name }, fetchPolicy: 'no-cache' })
    .then((result) => ({ data: result.data as any, error: result.error }))
    .catch((error: unknown) => ({ data: undefined, error }));
}

function urqlQuery(url: string, options: ClientOptions, name = 'world') {
  const client = new Client({
    url,
    exchanges: [cacheExchange, traceContextExchange(options), fetchExchange],
    preferGetMethod: false,
    requestPolicy: 'network-only',
  });
  return client
    .query(urqlGql(HELLO.query), { name })
    .toPromise()
    .then((result) => ({ data: result.data as any, error: result.error as unknown }));
}

const CLIENTS = [
  { name: 'Apollo Client 4', query: apolloQuery },
  { name: 'urql', query: urqlQuery },
];

describe.each(CLIENTS)('$name', ({ query }) => {
  it("links the CLIENT span to the server span the traceresponse names, in another trace (incoming 'link')", async () => {
    await withServer('yoga', { incoming: 'link', traceResponse: true }, async (server) => {
      const { span: caller, result } = await asCaller(() => query(server.url, {}));
      expect(result.data.hello).toBe('hello world');
      const client = clientOf(caller);
      const serverSpan = serverLinkedTo(client.spanContext().spanId);
      expect(serverSpan.spanContext().traceId).not.toBe(client.spanContext().traceId);
      expect(client.links).toHaveLength(1);
      expect(client.links[0]!.context).toMatchObject({
        traceId: serverSpan.spanContext().traceId,
        spanId: serverSpan.spanContext().spanId,
        traceFlags: 1,
        isRemote: true,
      });
      expect(client.attributes).not.toHaveProperty(ATTR_GRAPHQL_TRACERESPONSE);
    });
  });

  it('adds no link when the server sends none (the default)', async () => {
    await withServer('yoga', { incoming: 'link' }, async (server) => {
      const { span: caller, result } = await asCaller(() => query(server.url, {}));
      expect(result.data.hello).toBe('hello world');
      expect(clientOf(caller).links).toEqual([]);
    });
  });

  it('records graphql.traceresponse instead where the span has no addLink (API < 1.9)', async () => {
    await withServer('yoga', { incoming: 'link', traceResponse: true }, async (server) => {
      const { span: caller } = await asCaller(() =>
        query(server.url, { tracer: withoutAddLink(trace.getTracer('otel-rpc-context')) }),
      );
      const client = clientOf(caller);
      const serverSpan = serverLinkedTo(client.spanContext().spanId);
      expect(client.links).toEqual([]);
      expect(client.attributes[ATTR_GRAPHQL_TRACERESPONSE]).toBe(traceResponseOf(serverSpan));
    });
  });

  it('malformed values from a hostile server: no link, no attribute, no throw', async () => {
    const values = [...MALFORMED, `00-${TRACE_ID}-${SPAN_ID}-01`];
    const hostile = await hostileServer((index) =>
      index < values.length ? { extensions: { traceresponse: values[index] } } : { extensions: 'nonsense' },
    );
    try {
      for (let i = 0; i <= values.length; i++) {
        const { span: caller, result } = await asCaller(() => query(hostile.url, {}));
        expect(result.data?.hello).toBe('hello hostile');
        const client = clientOf(caller);
        if (i === values.length - 1) {
          // The one well-formed value: linked, so the others were refused for what they are.
          expect(client.links.map((link) => link.context.spanId)).toEqual([SPAN_ID]);
        } else {
          expect(client.links).toEqual([]);
          expect(client.attributes).not.toHaveProperty(ATTR_GRAPHQL_TRACERESPONSE);
        }
        expect(client.status.code).toBe(SpanStatusCode.UNSET);
        exporter.reset();
      }
    } finally {
      await hostile.close();
    }
  });
});

describe('Apollo Client BatchHttpLink', () => {
  it.each(['yoga', 'apollo-server'] as const)(
    'against %s: each operation links to its own server span',
    async (kind) => {
      await withServer(kind, { incoming: 'link', traceResponse: true }, async (server) => {
        const bodies: unknown[] = [];
        const client = new ApolloClient({
          link: ApolloLink.from([
            new TraceContextLink({ headers: false }),
            new BatchHttpLink({
              uri: server.url,
              batchMax: 10,
              batchInterval: 20,
              fetch: async (input, init) => {
                bodies.push(JSON.parse(String(init?.body)));
                return fetch(input, init);
              },
            }),
          ]),
          cache: new InMemoryCache(),
        });
        const names = ['a', 'b', 'c'];
        const runs = await Promise.all(
          names.map((name) =>
            asCaller(() =>
              client.query({ query: apolloGql(HELLO.query), variables: { name }, fetchPolicy: 'no-cache' }),
            ),
          ),
        );
        // One request, three operations.
        expect(bodies).toHaveLength(1);
        expect(bodies[0]).toHaveLength(3);
        const linked = new Set<string>();
        runs.forEach(({ span: caller, result }, index) => {
          expect((result.data as any).hello).toBe(`hello ${names[index]}`);
          const client = clientOf(caller);
          const serverSpan = serverLinkedTo(client.spanContext().spanId);
          expect(client.links.map((link) => link.context.spanId)).toEqual([serverSpan.spanContext().spanId]);
          expect(serverSpan.spanContext().traceId).not.toBe(client.spanContext().traceId);
          linked.add(serverSpan.spanContext().spanId);
        });
        expect(linked.size).toBe(3);
      });
    },
  );
});

describe('client subscriptions over graphql-ws', () => {
  it('Apollo GraphQLWsLink and urql link once, not once per event', async () => {
    await withServer('yoga', { incoming: 'link', traceResponse: true }, async (server) => {
      const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
      try {
        const apollo = new ApolloClient({
          link: ApolloLink.from([new TraceContextLink(), new GraphQLWsLink(wsClient)]),
          cache: new InMemoryCache(),
        });
        const urql = new Client({
          url: server.url,
          exchanges: [
            cacheExchange,
            traceContextExchange(),
            subscriptionExchange({
              forwardSubscription(request) {
                const input = { ...request, query: request.query ?? '' };
                return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink as never) }) };
              },
            }),
          ],
        });
        const viaApollo = await asCaller(
          () =>
            new Promise<number[]>((resolve, reject) => {
              const counts: number[] = [];
              apollo.subscribe({ query: apolloGql(COUNT.query) }).subscribe({
                next: (event) => void counts.push((event.data as any).count),
                error: reject,
                complete: () => resolve(counts),
              });
            }),
        );
        const viaUrql = await asCaller(
          () =>
            new Promise<number[]>((resolve) => {
              const counts: number[] = [];
              const { unsubscribe } = urql.subscription(urqlGql(COUNT.query), {}).subscribe((event) => {
                counts.push(event.data.count);
                if (counts.length === 3) {
                  unsubscribe();
                  resolve(counts);
                }
              });
            }),
        );
        for (const run of [viaApollo, viaUrql]) {
          expect(run.result).toEqual([1, 2, 3]);
          await expect
            .poll(
              () =>
                ours(SpanKind.CLIENT).filter((span) => span.parentSpanContext?.spanId === run.span.spanContext().spanId)
                  .length,
            )
            .toBe(1);
          const client = clientOf(run.span);
          await expect.poll(() => ours(SpanKind.SERVER).length, { timeout: 5000 }).toBe(2);
          const serverSpan = serverLinkedTo(client.spanContext().spanId);
          expect(serverSpan.name).toBe('subscription Count');
          expect(client.links.map((link) => link.context.spanId)).toEqual([serverSpan.spanContext().spanId]);
        }
      } finally {
        await wsClient.dispose();
      }
    });
  });
});

/** A tracer whose spans have no `addLink`, as with @opentelemetry/api before 1.9. */
function withoutAddLink(real: Tracer): Tracer {
  const strip = (span: Span): Span =>
    new Proxy(span, {
      get(target, key) {
        if (key === 'addLink' || key === 'addLinks') return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    startSpan: (...args: Parameters<Tracer['startSpan']>) => strip(real.startSpan(...args)),
    startActiveSpan: real.startActiveSpan.bind(real),
  } as Tracer;
}

/** A node:http server that answers every GraphQL POST with `hello hostile` plus what `extra(index)` gives. */
async function hostileServer(extra: (index: number) => Record<string, unknown>) {
  let index = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ data: { hello: 'hello hostile' }, ...extra(index++) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
