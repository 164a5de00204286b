// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results, and Apollo Client 3 is typed apart
// Apollo Client 3 (3.14, installed as `apollo-client-3`) with TraceContextLink against a real Yoga server with
// useTraceContext, over loopback: HttpLink (POST and GET), BatchHttpLink, GraphQLWsLink and SSE.
// The link imports `@apollo/client/core`; here that name resolves to Apollo Client 3, as it does for a user who has
// 3.x installed, so the link extends 3's ApolloLink and builds 3's (zen-observable) Observable.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache, Observable } from 'apollo-client-3';
import { BatchHttpLink } from 'apollo-client-3/link/batch-http';
import { GraphQLWsLink } from 'apollo-client-3/link/subscriptions';
import { print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { TraceContextLink, type TraceContextLinkOptions, traceContextBatchKey } from '../src/apollo.js';
import {
  allSeen,
  clientChecks,
  PROBE_RESOLVERS,
  PROBE_SOURCE,
  TICKS_RESOLVERS,
  TICKS_SOURCE,
  traceparentOf,
} from './graphql-client-harness.js';
import { setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags } from './support/graphql-callers.js';
import { recordFetches, subscriptionEvents } from './support/graphql-clients.js';
import { yogaForClientTests } from './support/graphql-servers.js';

vi.mock('@apollo/client/core', async () => {
  const apollo3: any = await import('apollo-client-3/core');
  return { ...(apollo3.default ?? {}), ...apollo3 };
});

const tracing = setupGraphqlTracing();
const { exporter } = tracing;
const checks = clientChecks(tracing);
const { spansOf, childOf, asCaller, mismatchesOf } = checks;
const { asCallers, queryMismatches, subscriptionMismatches } = callerRuns(checks);

const PROBE = gql(PROBE_SOURCE);
const TICKS = gql(TICKS_SOURCE);
const TOUCH = gql`
  mutation Touch($tag: String!) { touch(tag: $tag) { tag seen { traceId spanId } } }
`;
const FAIL = gql`
  query Fail { fail(tag: "x") }
`;

/** fetch for the HTTP links, recording what goes on the wire. */
const { fetch: recordingFetch, bodies, sent, clear } = recordFetches();
// Every span an operation started has ended; whatever that check says, nothing of this test's spans or
// requests reaches the next one.
const server = yogaForClientTests(tracing, clear);

function client(link: ApolloLink) {
  return new ApolloClient({
    link,
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}
const httpClient = (options?: TraceContextLinkOptions, http: Record<string, unknown> = {}) =>
  client(
    ApolloLink.from([
      new TraceContextLink(options) as unknown as ApolloLink,
      new HttpLink({ uri: server.url, fetch: recordingFetch, ...http }),
    ]),
  );

/** Resolves with a subscription's events (Apollo Client 3's zen-observable API). */
const subscribe = (apollo: ApolloClient<unknown>, tag: string) => subscriptionEvents(apollo, TICKS, { tag, count: 3 });

beforeAll(() => {
  expect(new ApolloClient({ cache: new InMemoryCache() }).version).toMatch(/^3\./);
});

describe('Apollo Client 3: HttpLink', () => {
  it('is an Apollo Client 3 link: extends its ApolloLink and returns its Observable', () => {
    const link = new TraceContextLink();
    expect(link).toBeInstanceOf(ApolloLink);
    const observable = link.request(
      {
        query: PROBE,
        variables: {},
        operationName: 'Probe',
        extensions: {},
        setContext() {},
        getContext: () => ({}),
      } as any,
      () => Observable.of({ data: {} }) as any,
    );
    expect(observable).toBeInstanceOf(Observable);
  });

  it('turns includeExtensions on, so the carrier reaches the server; span named from the document', async () => {
    const apollo = httpClient();
    const { span: caller, result } = await asCaller('caller', () =>
      apollo.query({ query: PROBE, variables: { tag: 'a' } }),
    );
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.name).toBe('query Probe');
    expect(clientSpan.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    expect((bodies[0] as any).extensions).toEqual({ traceContext: { traceparent: traceparentOf(clientSpan) } });
    expect(sent[0]!.headers.traceparent).toBe(traceparentOf(clientSpan));
    expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('keeps 50 concurrent queries and 50 mutations apart, each under its own caller', async () => {
    const apollo = httpClient();
    const [queries, mutations] = await Promise.all([
      asCallers('query', tags('q'), (tag) => apollo.query({ query: PROBE, variables: { tag } })),
      asCallers('mutation', tags('m'), (tag) => apollo.mutate({ mutation: TOUCH, variables: { tag } })),
    ]);
    const mismatches = queryMismatches(queries);
    for (const { span, result } of mutations) mismatches.push(...mismatchesOf(span, result.data, 1));
    expect(mismatches).toEqual([]);
    expect(spansOf(SpanKind.CLIENT).filter((span) => span.name === 'mutation Touch')).toHaveLength(50);
  });

  it('an operation without a caller context sends an explicit empty carrier', async () => {
    const apollo = httpClient({ spans: false });
    await context.with(ROOT_CONTEXT, () => apollo.query({ query: PROBE, variables: { tag: 'none' } }));
    expect((bodies[0] as any).extensions.traceContext).toEqual({});
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
  });

  it('GET queries keep the URL cacheable: headers by default, the URL only when asked', async () => {
    for (const [mode, inUrl, inHeader] of [
      [undefined, false, true],
      ['url', true, false],
    ] as const) {
      sent.length = 0;
      exporter.reset();
      const apollo = httpClient({ useGETForQueries: true, get: mode }, { useGETForQueries: true });
      const { span: caller, result } = await asCaller('caller', () =>
        apollo.query({ query: PROBE, variables: { tag: 'same' } }),
      );
      expect(new URL(sent[0]!.url).searchParams.get('extensions') ?? '').toContain(inUrl ? 'traceContext' : '');
      expect(new URL(sent[0]!.url).searchParams.has('extensions')).toBe(inUrl);
      expect('traceparent' in sent[0]!.headers).toBe(inHeader);
      expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
    }
  });

  it('keeps 50 concurrent GET queries apart, the carrier in headers only', async () => {
    const apollo = httpClient({ useGETForQueries: true }, { useGETForQueries: true });
    const runs = await asCallers('caller', tags('g'), (tag) => apollo.query({ query: PROBE, variables: { tag } }));
    expect(sent).toHaveLength(50);
    expect(sent.every((request) => !request.url.includes('traceContext') && 'traceparent' in request.headers)).toBe(
      true,
    );
    // Each request's traceparent is in its own caller's trace: one request per caller.
    expect(sent.map((request) => request.headers.traceparent?.split('-')[1]).sort()).toEqual(
      runs.map(({ span }) => span.spanContext().traceId).sort(),
    );
    expect(queryMismatches(runs)).toEqual([]);
  });

  it("works behind Apollo Client 3 links that map the link's Observable", async () => {
    const seen: unknown[] = [];
    const afterware = new ApolloLink((operation, forward) =>
      forward(operation).map((result) => {
        seen.push(result.data);
        return result;
      }),
    );
    const apollo = client(
      ApolloLink.from([
        afterware,
        new TraceContextLink() as unknown as ApolloLink,
        new HttpLink({ uri: server.url, fetch: recordingFetch }),
      ]),
    );
    const { span: caller, result } = await asCaller('caller', () =>
      apollo.query({ query: PROBE, variables: { tag: 'map' } }),
    );
    expect(seen).toHaveLength(1);
    expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('marks the client span failed on GraphQL errors and on network errors', async () => {
    const apollo = httpClient();
    await expect(asCaller('caller', () => apollo.query({ query: FAIL }))).rejects.toThrow('resolver failed on purpose');
    expect(spansOf(SpanKind.CLIENT)[0]!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'resolver failed on purpose',
    });
    exporter.reset();
    const offline = client(
      ApolloLink.from([
        new TraceContextLink() as unknown as ApolloLink,
        new HttpLink({ uri: 'http://127.0.0.1:9/graphql' }),
      ]),
    );
    await expect(offline.query({ query: PROBE, variables: { tag: 'n' } })).rejects.toThrow();
    expect(spansOf(SpanKind.CLIENT)[0]!.attributes['error.type']).toBe('TypeError');
  });
});

describe('Apollo Client 3: BatchHttpLink', () => {
  it('sends 50 concurrent operations in 2 requests, each with its own carrier; traceContextBatchKey keeps headers from splitting them', async () => {
    const apollo = client(
      ApolloLink.from([
        new TraceContextLink() as unknown as ApolloLink,
        new BatchHttpLink({
          uri: server.url,
          batchMax: 25,
          batchInterval: 20,
          fetch: recordingFetch,
          batchKey: traceContextBatchKey(server.url) as never, // typed against Apollo Client 4 here
        }),
      ]),
    );
    const before = server.requests();
    const runs = await asCallers('caller', tags('b'), (tag) => apollo.query({ query: PROBE, variables: { tag } }));
    expect(server.requests() - before).toBe(2);
    const batches = bodies as any[][];
    expect(batches.map((batch) => batch.length)).toEqual([25, 25]);
    expect(new Set(batches.flat().map((op) => op.extensions.traceContext.traceparent)).size).toBe(50);
    for (const [i, batch] of batches.entries()) {
      expect(sent[i]!.headers.traceparent).toBe(batch[0].extensions.traceContext.traceparent);
    }
    expect(queryMismatches(runs)).toEqual([]);
  });
});

describe('Apollo Client 3: GraphQLWsLink', () => {
  it('keeps 50 concurrent queries and 50 subscriptions on one socket apart', async () => {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    const apollo = client(
      ApolloLink.from([new TraceContextLink() as unknown as ApolloLink, new GraphQLWsLink(wsClient)]),
    );
    try {
      const [queries, subscriptions] = await Promise.all([
        asCallers('query', tags('wq'), (tag) => apollo.query({ query: PROBE, variables: { tag } })),
        asCallers('subscription', tags('ws'), (tag) => subscribe(apollo, tag)),
      ]);
      await wsClient.dispose();
      expect([...queryMismatches(queries), ...subscriptionMismatches(subscriptions)]).toEqual([]);
      expect(childOf(SpanKind.CLIENT, subscriptions[0]!.span.spanContext()).name).toBe('subscription Ticks');
    } finally {
      await wsClient.dispose();
    }
  });
});

describe('Apollo Client 3: SSE', () => {
  it('runs 50 concurrent subscriptions, every event in its own caller trace', async () => {
    const sseClient = createSseClient({ url: server.url });
    try {
      const sseLink = new ApolloLink(
        (operation) =>
          new Observable((observer) =>
            sseClient.subscribe(
              {
                query: print(operation.query),
                variables: operation.variables,
                operationName: operation.operationName,
                extensions: operation.extensions,
              },
              {
                next: (value) => observer.next(value as any),
                error: (error) => observer.error(error),
                complete: () => observer.complete(),
              },
            ),
          ),
      );
      const apollo = client(ApolloLink.from([new TraceContextLink() as unknown as ApolloLink, sseLink]));
      const runs = await asCallers('subscription', tags('sse'), (tag) => subscribe(apollo, tag));
      sseClient.dispose();
      expect(subscriptionMismatches(runs)).toEqual([]);
      expect(allSeen(runs[0]!.result).length).toBe(TICKS_RESOLVERS);
    } finally {
      sseClient.dispose();
    }
  });
});
