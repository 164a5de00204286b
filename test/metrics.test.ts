// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// The duration histograms every integration records through the global MeterProvider (src/core/operation.ts with
// the descriptors of src/core/conventions.ts), read with the SDK's MetricReader, against real servers and clients
// over loopback: tRPC (standalone server + traceContextMiddleware, traceContextLink + httpBatchLink), Yoga
// (useTraceContext) with Apollo Client 4 and urql, Apollo Server (traceContextPlugin) and graphql-ws
// (withTraceContext). A fresh MeterProvider and reader per test; every test also checks the exported spans.
import { createRequire } from 'node:module';
import { ApolloClient, ApolloLink, gql as apolloGql, HttpLink, InMemoryCache } from '@apollo/client';
import { type Attributes, metrics, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { type CreateHTTPContextOptions, createHTTPServer } from '@trpc/server/adapters/standalone';
import { Client, fetchExchange, gql as urqlGql } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { TraceContextLink } from '../src/apollo.js';
import { DURATION_BUCKETS } from '../src/core/metrics.js';
import {
  type TraceContextLinkOptions,
  type TraceContextMiddlewareOptions,
  traceContextHeaders,
  traceContextLink,
} from '../src/trpc.js';
import { traceContextExchange } from '../src/urql.js';
import { useTraceContext } from '../src/yoga.js';
import { type ApolloTestServer, startApollo } from './apollo-server-harness.js';
import { PROBE_SOURCE, TICKS_SOURCE } from './graphql-client-harness.js';
import { setupGraphqlTracing, startServer, type TestServer } from './graphql-fixture.js';
import { expectNoOpenSpans } from './support/otel.js';
import { type Listening, listenOnLoopback } from './support/trpc-servers.js';
import { type AppRouter, makeRouter } from './trpc-harness.js';

// As in graphql-ws.test.ts: src/graphql/graphql-ws/wrap.ts must get the graphql copy Node loads (one realm).
vi.mock('graphql', async () => createRequire(import.meta.url)('graphql'));

const tracing = setupGraphqlTracing();
const { exporter } = tracing;

/** Our spans of one kind. */
const spansOf = (kind: SpanKind) =>
  exporter
    .getFinishedSpans()
    .filter((span) => span.kind === kind && span.instrumentationScope.name === 'otel-rpc-context');
const ourSpans = () =>
  exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'otel-rpc-context');

class TestReader extends MetricReader {
  protected onForceFlush() {
    return Promise.resolve();
  }
  protected onShutdown() {
    return Promise.resolve();
  }
}

// A fresh provider and reader per test, registered globally (the histograms are made once per provider).
let reader: TestReader;
let provider: MeterProvider;
beforeEach(() => {
  reader = new TestReader();
  provider = new MeterProvider({ readers: [reader] });
  metrics.disable();
  metrics.setGlobalMeterProvider(provider);
});
afterEach(async () => {
  try {
    // Every span an operation started has ended (a failure names the open ones); the exporter is reset either way.
    await expectNoOpenSpans(tracing);
  } finally {
    metrics.disable();
    await provider.shutdown();
  }
});

interface Point {
  attributes: Attributes;
  count: number;
  sum: number;
  min: number | undefined;
  max: number | undefined;
  boundaries: number[];
}

interface Found {
  unit: string;
  description: string;
  points: Point[];
}

/** The histogram `name` of this package's meter as the reader collects it now, or `undefined`. */
async function histogram(name: string): Promise<Found | undefined> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const found = resourceMetrics.scopeMetrics
    .filter((scope) => scope.scope.name === 'otel-rpc-context')
    .flatMap((scope) => scope.metrics)
    .find((metric) => metric.descriptor.name === name);
  if (!found) return undefined;
  return {
    unit: found.descriptor.unit,
    description: found.descriptor.description,
    points: found.dataPoints.map((point) => {
      const value = point.value as Histogram;
      return {
        attributes: point.attributes,
        count: value.count,
        sum: value.sum ?? Number.NaN,
        min: value.min,
        max: value.max,
        boundaries: value.buckets.boundaries,
      };
    }),
  };
}

/** Each point's count, keyed by its attributes (sorted JSON), for exact comparisons. */
const key = (attributes: Attributes) =>
  JSON.stringify(Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b))));
function counts(found: Found | undefined): Record<string, number> {
  return Object.fromEntries((found?.points ?? []).map((point) => [key(point.attributes), point.count]));
}
function expected(entries: [Attributes, number][]): Record<string, number> {
  return Object.fromEntries(entries.map(([attributes, count]) => [key(attributes), count]));
}

/** The histogram's points are `entries` exactly: unit `s`, durations in seconds, the semconv buckets. */
async function expectHistogram(name: string, entries: [Attributes, number][]) {
  // Servers may end an operation just after the response went out: wait for the counts.
  await expect.poll(async () => counts(await histogram(name)), { timeout: 5000 }).toEqual(expected(entries));
  const found = (await histogram(name))!;
  expect(found.unit).toBe('s');
  expect(found.description).not.toBe('');
  for (const point of found.points) {
    expect(point.sum).toBeGreaterThan(0);
    expect(point.sum).toBeLessThan(10); // seconds, not milliseconds
    expect(point.min).toBeGreaterThanOrEqual(0);
    expect(point.max).toBeLessThanOrEqual(point.sum);
    expect(point.boundaries).toEqual(DURATION_BUCKETS);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// tRPC
// ---------------------------------------------------------------------------------------------------------

// Every tRPC server a test opens is closed when that test ends, whether it passed or not.
const trpcServers: Listening[] = [];
afterEach(async () => {
  await Promise.all(trpcServers.splice(0).map((server) => server.close()));
});

/** A standalone tRPC server on loopback whose procedures use traceContextMiddleware(options). */
async function serveTrpc(options: TraceContextMiddlewareOptions = {}) {
  const server = await listenOnLoopback(
    createHTTPServer({
      router: makeRouter(options),
      createContext: ({ req, info }: CreateHTTPContextOptions) => ({ req, info }),
    }),
  );
  trpcServers.push(server);
  return server.url;
}

function trpcClient(url: string, options: TraceContextLinkOptions = {}) {
  return createTRPCClient<AppRouter>({
    links: [traceContextLink(options), httpBatchLink({ url, headers: traceContextHeaders })],
  });
}

/** 3 successful `a.q` queries and 1 NOT_FOUND `fail`, concurrently (one batch). */
async function runTrpc(client: ReturnType<typeof trpcClient>) {
  const results = await Promise.allSettled([
    client.a.q.query({ i: 1 }),
    client.a.q.query({ i: 2 }),
    client.a.q.query({ i: 3 }),
    client.fail.query({ i: 4 }),
  ]);
  expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
  const failure = (results[3] as PromiseRejectedResult).reason;
  expect(failure).toBeInstanceOf(TRPCClientError);
  expect(failure.data.code).toBe('NOT_FOUND');
}

const TRPC_POINTS: [Attributes, number][] = [
  [{ 'rpc.system.name': 'trpc', 'rpc.method': 'a.q' }, 3],
  [{ 'rpc.system.name': 'trpc', 'rpc.method': 'fail', 'error.type': 'NOT_FOUND' }, 1],
];

describe('tRPC: rpc.client.call.duration and rpc.server.call.duration', () => {
  it('httpBatchLink: count 3 per path for the successes, count 1 with error.type NOT_FOUND, in seconds', async () => {
    const url = await serveTrpc();
    await runTrpc(trpcClient(url));
    const client = await expectHistogram('rpc.client.call.duration', TRPC_POINTS);
    expect(client.description).toBe('Measures the duration of outbound remote procedure calls.');
    const server = await expectHistogram('rpc.server.call.duration', TRPC_POINTS);
    expect(server.description).toBe('Measures the duration of incoming remote procedure calls.');

    // The spans that went with them: one CLIENT and one SERVER span per call.
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const spans = spansOf(kind);
      expect(spans.map((span) => span.name).sort()).toEqual(['a.q', 'a.q', 'a.q', 'fail']);
      const failed = spans.find((span) => span.name === 'fail')!;
      expect(failed.attributes['error.type']).toBe('NOT_FOUND');
      // The default rule: a CLIENT span fails for any error, a SERVER span only for server-side codes.
      expect(failed.status.code).toBe(kind === SpanKind.CLIENT ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
      for (const span of spans.filter((span) => span.name === 'a.q')) {
        expect(span.attributes).toMatchObject({ 'rpc.system.name': 'trpc', 'rpc.method': 'a.q' });
        expect(span.attributes['error.type']).toBeUndefined();
      }
    }
    // The server's duration is within the client's, per call: the client's durations are at least as long.
    const clientPoint = client.points.find((point) => point.attributes['rpc.method'] === 'a.q')!;
    const serverPoint = server.points.find((point) => point.attributes['rpc.method'] === 'a.q')!;
    expect(clientPoint.max).toBeGreaterThanOrEqual(serverPoint.min!);
  });

  it('spans: false on both sides: no span, the same durations recorded', async () => {
    const url = await serveTrpc({ spans: false });
    await runTrpc(trpcClient(url, { spans: false }));
    await expectHistogram('rpc.client.call.duration', TRPC_POINTS);
    await expectHistogram('rpc.server.call.duration', TRPC_POINTS);
    expect(ourSpans()).toEqual([]);
  });

  it('metrics: false on both sides: spans as usual, no duration recorded', async () => {
    const url = await serveTrpc({ metrics: false });
    await runTrpc(trpcClient(url, { metrics: false }));
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(4);
    await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(4);
    expect(await histogram('rpc.client.call.duration')).toBeUndefined();
    expect(await histogram('rpc.server.call.duration')).toBeUndefined();
  });

  it('metrics: false on the client only: the server still records', async () => {
    const url = await serveTrpc();
    await runTrpc(trpcClient(url, { metrics: false }));
    await expectHistogram('rpc.server.call.duration', TRPC_POINTS);
    expect(await histogram('rpc.client.call.duration')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// GraphQL: Yoga with Apollo Client 4 and urql
// ---------------------------------------------------------------------------------------------------------

const TOUCH_SOURCE = /* GraphQL */ `
  mutation Touch($tag: String!) {
    touch(tag: $tag) { tag }
  }
`;
const FAIL_SOURCE = /* GraphQL */ `
  query Fail { fail(tag: "x") }
`;
const BROKEN_QUERY = 'query Broken { probe(tag: ';

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
}

interface GraphqlDriver {
  name: string;
  /** Runs one operation past every cache; its data, or the error it failed with. */
  run(url: string, source: string, variables?: Record<string, unknown>): Promise<{ data?: any; error?: any }>;
}

const apolloDriver: GraphqlDriver = {
  name: 'Apollo Client 4 (TraceContextLink + HttpLink)',
  async run(url, source, variables) {
    const client = new ApolloClient({
      link: ApolloLink.from([new TraceContextLink(), new HttpLink({ uri: url })]),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: 'no-cache' }, mutate: { fetchPolicy: 'no-cache' } },
    });
    const document = apolloGql(source);
    try {
      const result = source.trimStart().startsWith('mutation')
        ? await client.mutate({ mutation: document, variables })
        : await client.query({ query: document, variables });
      return { data: result.data };
    } catch (error) {
      return { error };
    }
  },
};

const urqlDriver: GraphqlDriver = {
  name: 'urql (traceContextExchange + fetchExchange)',
  async run(url, source, variables) {
    const client = new Client({
      url,
      exchanges: [traceContextExchange(), fetchExchange],
      preferGetMethod: false,
      requestPolicy: 'network-only',
    });
    const document = urqlGql(source);
    const result = source.trimStart().startsWith('mutation')
      ? await client.mutation(document, variables ?? {}).toPromise()
      : await client.query(document, variables ?? {}).toPromise();
    return { data: result.data, error: result.error };
  },
};

describe('GraphQL: Yoga (useTraceContext)', () => {
  let yoga: TestServer;
  beforeAll(async () => {
    yoga = await startServer([useTraceContext()]);
  });
  afterAll(() => yoga.close());

  describe.each([apolloDriver, urqlDriver])('with $name', (driver) => {
    it('graphql.client/server.request.duration: counts per operation type (and name on the client), error.type on a GraphQL error', async () => {
      const runs = await Promise.all([
        driver.run(yoga.url, PROBE_SOURCE, { tag: 'a' }),
        driver.run(yoga.url, PROBE_SOURCE, { tag: 'b' }),
        driver.run(yoga.url, TOUCH_SOURCE, { tag: 'c' }),
        driver.run(yoga.url, FAIL_SOURCE),
      ]);
      expect(runs[0]!.data.probe.tag).toBe('a');
      expect(runs[1]!.data.probe.tag).toBe('b');
      expect(runs[2]!.data.touch.tag).toBe('c');
      expect(runs[3]!.error).toBeDefined();

      const client = await expectHistogram('graphql.client.request.duration', [
        [{ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' }, 2],
        [{ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Touch' }, 1],
        [{ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Fail', 'error.type': 'GraphQLError' }, 1],
      ]);
      expect(client.description).toBe('Duration of GraphQL operations sent.');
      // The server records the type only: operation names come from clients, unbounded.
      const server = await expectHistogram('graphql.server.request.duration', [
        [{ 'graphql.operation.type': 'query' }, 2],
        [{ 'graphql.operation.type': 'mutation' }, 1],
        [{ 'graphql.operation.type': 'query', 'error.type': 'GraphQLError' }, 1],
      ]);
      expect(server.description).toBe('Duration of GraphQL requests served.');

      for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
        const spans = spansOf(kind);
        expect(spans.map((span) => span.name).sort()).toEqual([
          'mutation Touch',
          'query Fail',
          'query Probe',
          'query Probe',
        ]);
        const failed = spans.find((span) => span.name === 'query Fail')!;
        expect(failed.attributes['error.type']).toBe('GraphQLError');
        expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      }
    });
  });

  it('a document that does not parse: one server point with graphql.operation.type unknown and error.type', async () => {
    const [broken, invalid] = await Promise.all([
      post(yoga.url, { query: BROKEN_QUERY, operationName: 'Broken' }),
      post(yoga.url, { query: 'query Invalid { nope }' }),
    ]);
    expect(broken.json.errors[0].message).toMatch(/Syntax Error/);
    expect(invalid.json.errors[0].message).toMatch(/Cannot query field "nope"/);
    await expectHistogram('graphql.server.request.duration', [
      [{ 'graphql.operation.type': 'unknown', 'error.type': 'GRAPHQL_PARSE_FAILED' }, 1],
      // The document parses: its type is known even though it does not validate (Yoga's validation errors
      // carry no extensions.code, hence GraphQLError).
      [{ 'graphql.operation.type': 'query', 'error.type': 'GraphQLError' }, 1],
    ]);
    const spans = spansOf(SpanKind.SERVER);
    expect(
      spans.map((span) => [span.name, span.attributes['graphql.operation.type'], span.attributes['error.type']]),
    ).toEqual(
      expect.arrayContaining([
        ['GraphQL Operation', undefined, 'GRAPHQL_PARSE_FAILED'],
        ['query Invalid', 'query', 'GraphQLError'],
      ]),
    );
    expect(spans).toHaveLength(2);
    expect(spans.every((span) => span.status.code === SpanStatusCode.ERROR)).toBe(true);
  });

  it('metrics: false on the clients: no client histogram, the server still records', async () => {
    const apollo = new ApolloClient({
      link: ApolloLink.from([new TraceContextLink({ metrics: false }), new HttpLink({ uri: yoga.url })]),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: 'no-cache' } },
    });
    const urql = new Client({
      url: yoga.url,
      exchanges: [traceContextExchange({ metrics: false }), fetchExchange],
      requestPolicy: 'network-only',
    });
    const [a, u] = await Promise.all([
      apollo.query({ query: apolloGql(PROBE_SOURCE), variables: { tag: 'a' } }),
      urql.query(urqlGql(PROBE_SOURCE), { tag: 'u' }).toPromise(),
    ]);
    expect((a.data as any).probe.tag).toBe('a');
    expect(u.data.probe.tag).toBe('u');
    await expectHistogram('graphql.server.request.duration', [[{ 'graphql.operation.type': 'query' }, 2]]);
    expect(await histogram('graphql.client.request.duration')).toBeUndefined();
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------------------
// GraphQL: Apollo Server (traceContextPlugin) and graphql-ws (withTraceContext)
// ---------------------------------------------------------------------------------------------------------

describe('GraphQL: Apollo Server (traceContextPlugin) and graphql-ws (withTraceContext)', () => {
  let standalone: ApolloTestServer;
  let express: ApolloTestServer;
  beforeAll(async () => {
    [standalone, express] = await Promise.all([
      startApollo({ integration: 'standalone' }),
      startApollo({ integration: 'express' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([standalone.close(), express.close()]);
  });

  it('startStandaloneServer: graphql.server.request.duration count per type, error.type on errors and parse failures', async () => {
    const responses = await Promise.all([
      post(standalone.url, { query: PROBE_SOURCE, variables: { tag: 'a' } }),
      post(standalone.url, { query: PROBE_SOURCE, variables: { tag: 'b' } }),
      post(standalone.url, { query: PROBE_SOURCE, variables: { tag: 'c' } }),
      post(standalone.url, { query: TOUCH_SOURCE, variables: { tag: 'd' } }),
      post(standalone.url, { query: FAIL_SOURCE }),
      post(standalone.url, { query: BROKEN_QUERY }),
    ]);
    expect(responses.slice(0, 3).map(({ json }) => json.data.probe.tag)).toEqual(['a', 'b', 'c']);
    expect(responses[3]!.json.data.touch.tag).toBe('d');
    expect(responses[4]!.json.errors[0].message).toBe('resolver failed on purpose');
    expect(responses[5]!.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');

    await expectHistogram('graphql.server.request.duration', [
      [{ 'graphql.operation.type': 'query' }, 3],
      [{ 'graphql.operation.type': 'mutation' }, 1],
      // A resolver's error as the plugin sees it, before Apollo's formatting adds INTERNAL_SERVER_ERROR.
      [{ 'graphql.operation.type': 'query', 'error.type': 'GraphQLError' }, 1],
      [{ 'graphql.operation.type': 'unknown', 'error.type': 'GRAPHQL_PARSE_FAILED' }, 1],
    ]);
    const spans = spansOf(SpanKind.SERVER);
    expect(spans).toHaveLength(6);
    expect(spans.filter((span) => span.name === 'query Probe')).toHaveLength(3);
    expect(spans.filter((span) => span.name === 'mutation Touch')).toHaveLength(1);
    expect(spans.find((span) => span.name === 'query Fail')!.attributes['error.type']).toBe('GraphQLError');
  });

  // Apollo Server resolves the operation only after validation; the plugin names it from the parsed document.
  it('startStandaloneServer: a document that parses but does not validate keeps its operation type', async () => {
    const { json } = await post(standalone.url, { query: 'query Invalid { nope }' });
    expect(json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
    expect(spansOf(SpanKind.SERVER)[0]!.attributes['error.type']).toBe('GRAPHQL_VALIDATION_FAILED');
    const found = await histogram('graphql.server.request.duration');
    expect(counts(found)).toEqual(
      expected([[{ 'graphql.operation.type': 'query', 'error.type': 'GRAPHQL_VALIDATION_FAILED' }, 1]]),
    );
  });

  it('graphql-ws: one point per subscription, recorded when it ends; a query over the socket as well', async () => {
    const ws = createWsClient({ url: express.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const collect = (payload: any) =>
        new Promise<any[]>((resolve, reject) => {
          const results: any[] = [];
          ws.subscribe(payload, {
            next: (value) => results.push(value),
            error: reject,
            complete: () => resolve(results),
          });
        });
      const events = await collect({ query: TICKS_SOURCE, variables: { tag: 's', count: 3 } });
      expect(events.map((event) => event.data.ticks.i)).toEqual([0, 1, 2]);
      // One point for the whole subscription, not one per event.
      await expectHistogram('graphql.server.request.duration', [[{ 'graphql.operation.type': 'subscription' }, 1]]);

      const [query] = await collect({ query: PROBE_SOURCE, variables: { tag: 'q' } });
      expect(query.data.probe.tag).toBe('q');
      await expectHistogram('graphql.server.request.duration', [
        [{ 'graphql.operation.type': 'subscription' }, 1],
        [{ 'graphql.operation.type': 'query' }, 1],
      ]);
    } finally {
      await ws.dispose();
    }
    const spans = spansOf(SpanKind.SERVER);
    expect(spans.map((span) => span.name).sort()).toEqual(['query Probe', 'subscription Ticks']);
    expect(spans.every((span) => span.status.code === SpanStatusCode.UNSET)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// No MeterProvider registered
// ---------------------------------------------------------------------------------------------------------

describe('no MeterProvider registered (metrics.disable())', () => {
  let yoga: TestServer;
  beforeAll(async () => {
    yoga = await startServer([useTraceContext()]);
  });
  afterAll(() => yoga.close());

  it('every integration runs and traces as usual; nothing is recorded anywhere, nothing throws', async () => {
    metrics.disable();
    const url = await serveTrpc();
    await runTrpc(trpcClient(url));
    const apollo = await apolloDriver.run(yoga.url, PROBE_SOURCE, { tag: 'a' });
    const urql = await urqlDriver.run(yoga.url, FAIL_SOURCE);
    expect(apollo.data.probe.tag).toBe('a');
    expect(urql.error.graphQLErrors[0].message).toBe('resolver failed on purpose');

    await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(6);
    expect(
      spansOf(SpanKind.CLIENT)
        .map((span) => span.name)
        .sort(),
    ).toEqual(['a.q', 'a.q', 'a.q', 'fail', 'query Fail', 'query Probe']);
    // The reader's provider was never registered: it saw nothing.
    for (const name of [
      'rpc.client.call.duration',
      'rpc.server.call.duration',
      'graphql.client.request.duration',
      'graphql.server.request.duration',
    ]) {
      expect(await histogram(name)).toBeUndefined();
    }
  });
});
