// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// Apollo Client 4 with TraceContextLink against a real Yoga server with useTraceContext, over loopback:
// HttpLink, BatchHttpLink, GraphQLWsLink (graphql-ws, Yoga's recipe) and SSE (graphql-sse client).
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { print } from '@apollo/client/utilities';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  TraceContextLink,
  type TraceContextLinkOptions,
  traceContextBatchKey,
  traceContextFetch,
} from '../src/apollo.js';
import { allSeen, clientChecks, PROBE_SOURCE, TICKS_SOURCE, traceparentOf } from './graphql-client-harness.js';
import { setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags, unsubscribeAtFirstEvent } from './support/graphql-callers.js';
import { apolloClient, recordFetches, subscriptionEvents, withInstrumentedFetch } from './support/graphql-clients.js';
import { yogaForClientTests } from './support/graphql-servers.js';

const tracing = setupGraphqlTracing();
const { exporter, tracer } = tracing;
const checks = clientChecks(tracing);
const { spansOf, childOf, asCaller, mismatchesOf } = checks;
const { asCallers, queryMismatches, subscriptionMismatches } = callerRuns(checks);

const PROBE = gql(PROBE_SOURCE);
const TICKS = gql(TICKS_SOURCE);
const FAIL = gql`
  query Fail { fail(tag: "x") }
`;

/** A small SSE link over graphql-sse's client (Yoga's built-in SSE speaks its distinct-connections mode). */
class SseLink extends ApolloLink {
  constructor(private readonly client: ReturnType<typeof createSseClient>) {
    super();
  }
  override request(operation: ApolloLink.Operation) {
    return new Observable<ApolloLink.Result>((observer) =>
      this.client.subscribe(
        {
          query: print(operation.query),
          variables: operation.variables,
          operationName: operation.operationName,
          extensions: operation.extensions,
        },
        {
          next: (value) => observer.next(value as ApolloLink.Result),
          error: (error) => observer.error(error),
          complete: () => observer.complete(),
        },
      ),
    );
  }
}

/** fetch for the HTTP links, recording what goes on the wire. */
const { fetch: recordingFetch, bodies, sent, clear } = recordFetches();
// Every span an operation started has ended: none is left open by an error, a bad carrier or a cancel.
const server = yogaForClientTests(tracing, clear);

function httpClient(options?: TraceContextLinkOptions, http: Partial<ConstructorParameters<typeof HttpLink>[0]> = {}) {
  return new ApolloClient({
    link: ApolloLink.from([
      new TraceContextLink(options),
      new HttpLink({ uri: server.url, fetch: recordingFetch, ...http }),
    ]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}

describe('HttpLink', () => {
  it('sends the carrier in extensions.traceContext and names the CLIENT span {type} {name}', async () => {
    const client = httpClient();
    const { span: caller, result } = await asCaller('caller', () =>
      client.query({ query: PROBE, variables: { tag: 'a' } }),
    );
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.name).toBe('query Probe');
    expect(clientSpan.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    const body = bodies[0] as any;
    expect(body.extensions.traceContext).toEqual({
      traceparent: `00-${clientSpan.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`,
    });
    // Other extensions (Apollo's client awareness) are kept. headers: 'auto' on Node without fetch
    // instrumentation also sends the W3C headers, so an HTTP server span can join the caller's trace.
    expect(body.extensions.clientLibrary?.name).toBe('@apollo/client');
    expect(sent[0]!.headers.traceparent).toBe(traceparentOf(clientSpan));
    expect(mismatchesOf(caller, result.data, 5)).toEqual([]);
  });

  it('keeps 50 concurrent queries apart, each under its own caller', async () => {
    const client = httpClient();
    const runs = await asCallers('caller', tags('q'), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(queryMismatches(runs)).toEqual([]);
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(50);
    expect(spansOf(SpanKind.SERVER)).toHaveLength(50);
  });

  it('reads the caller context when the call is made, not when the request goes out', async () => {
    const client = httpClient();
    let pending: Promise<unknown> | undefined;
    const caller = tracer.startActiveSpan('short-lived caller', (span) => {
      pending = client.query({ query: PROBE, variables: { tag: 'early' } });
      span.end();
      return span;
    });
    const result = (await pending) as any;
    expect(mismatchesOf(caller, result.data, 5)).toEqual([]);
  });

  it('an operation without a caller context sends an explicit empty carrier and no headers', async () => {
    const client = httpClient({ spans: false });
    const result = await context.with(ROOT_CONTEXT, () => client.query({ query: PROBE, variables: { tag: 'none' } }));
    expect((bodies[0] as any).extensions.traceContext).toEqual({});
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    expect((result.data as any).probe.tag).toBe('none');
  });

  it('a propagator that throws costs the operation its carrier, nothing else', async () => {
    const throwing = {
      inject() {
        throw new Error('propagator failed');
      },
      extract: (ctx: never) => ctx,
      fields: () => [],
    };
    const client = httpClient({ propagator: throwing });
    const { result } = await asCaller('caller', () => client.query({ query: PROBE, variables: { tag: 'throws' } }));
    expect((result.data as any).probe.tag).toBe('throws');
    expect((bodies[0] as any).extensions.traceContext).toEqual({});
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
  });

  it('headers: false sends the carrier in extensions only', async () => {
    const client = httpClient({ headers: false });
    await asCaller('caller', () => client.query({ query: PROBE, variables: { tag: 'nh' } }));
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    expect((bodies[0] as any).extensions.traceContext.traceparent).toBe(traceparentOf(spansOf(SpanKind.CLIENT)[0]!));
  });

  it("headers: 'auto' leaves the W3C headers to fetch instrumentation when Node's fetch is instrumented", async () => {
    await withInstrumentedFetch(server.server, async (received) => {
      const client = httpClient();
      const { span: caller, result } = await asCaller('caller', () =>
        client.query({ query: PROBE, variables: { tag: 'undici' } }),
      );
      expect(sent[0]!.headers).not.toHaveProperty('traceparent');
      // One traceparent, the instrumentation's, in the caller's trace: not two joined by a comma.
      expect(received).toHaveLength(1);
      expect(received[0]).toMatch(new RegExp(`^00-${caller.spanContext().traceId}-[0-9a-f]{16}-01$`));
      expect(mismatchesOf(caller, result.data, 5)).toEqual([]);
    });
  });

  it("GET queries leave the W3C headers to fetch instrumentation when Node's fetch is instrumented", async () => {
    await withInstrumentedFetch(server.server, async (received) => {
      const get = { useGETForQueries: true };
      const client = httpClient(get, get);
      const { span: caller, result } = await asCaller('caller', () =>
        client.query({ query: PROBE, variables: { tag: 'get-undici' } }),
      );
      expect(new URL(sent[0]!.url).searchParams.get('extensions') ?? '').not.toContain('traceContext');
      expect(sent[0]!.headers).not.toHaveProperty('traceparent');
      // One traceparent, the instrumentation's (a child of the CLIENT span), not ours and its joined by a comma.
      const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
      const fetchSpans = exporter
        .getFinishedSpans()
        .filter((span) => span.parentSpanContext?.spanId === clientSpan.spanContext().spanId);
      expect(fetchSpans.map((span) => span.instrumentationScope.name)).toEqual([
        '@opentelemetry/instrumentation-undici',
      ]);
      expect(received).toEqual([traceparentOf(fetchSpans[0]!)]);
      // The operation continues that header (GET has no extensions slot): caller → CLIENT → fetch → SERVER.
      const serverSpan = childOf(SpanKind.SERVER, fetchSpans[0]!.spanContext());
      const seen = allSeen(result.data);
      expect(seen).toHaveLength(5);
      expect(seen.every((entry) => entry.spanId === serverSpan.spanContext().spanId)).toBe(true);
    });
  });

  it('headers: true also sends W3C headers', async () => {
    const client = httpClient({ headers: true });
    const { span: caller } = await asCaller('caller', () => client.query({ query: PROBE, variables: { tag: 'h' } }));
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    const traceparent = `00-${clientSpan.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`;
    expect(sent[0]!.headers.traceparent).toBe(traceparent);
    expect((bodies[0] as any).extensions.traceContext.traceparent).toBe(traceparent);
  });

  it('GET queries keep the URL cacheable: headers by default, the URL only when asked', async () => {
    const get = { useGETForQueries: true };
    for (const [mode, inUrl, inHeader] of [
      [undefined, false, true],
      ['url', true, false],
      ['none', false, false],
    ] as const) {
      sent.length = 0;
      exporter.reset();
      const client = httpClient({ ...get, get: mode }, get);
      const { span: caller, result } = await asCaller('caller', () =>
        client.query({ query: PROBE, variables: { tag: 'same' } }),
      );
      const url = new URL(sent[0]!.url);
      expect(url.searchParams.get('extensions') ?? '').toContain(inUrl ? 'traceContext' : 'clientLibrary');
      expect(url.searchParams.get('extensions') ?? '').not.toContain(inUrl ? 'clientLibrary"}' : 'traceContext');
      expect('traceparent' in sent[0]!.headers).toBe(inHeader);
      if (mode === 'none') {
        expect(allSeen(result.data)[0]!.traceId).not.toBe(caller.spanContext().traceId);
      } else {
        expect(mismatchesOf(caller, result.data, 5)).toEqual([]);
      }
    }
  });

  it('mutations go by POST even with useGETForQueries, with the carrier in extensions', async () => {
    const client = httpClient({ useGETForQueries: true }, { useGETForQueries: true });
    await asCaller('caller', () => client.mutate({ mutation: gql`mutation Touch { touch(tag: "m") { tag } }` }));
    expect((bodies[0] as any).extensions.traceContext.traceparent).toMatch(/^00-/);
    expect(spansOf(SpanKind.CLIENT)[0]!.name).toBe('mutation Touch');
  });

  it('spans: false sends the caller context itself', async () => {
    const client = httpClient({ spans: false });
    const { span: caller, result } = await asCaller('caller', () =>
      client.query({ query: PROBE, variables: { tag: 'x' } }),
    );
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(0);
    const server = childOf(SpanKind.SERVER, caller.spanContext());
    for (const entry of allSeen(result.data)) expect(entry.spanId).toBe(server.spanContext().spanId);
  });

  it('document: true records the document on the client span', async () => {
    const client = httpClient({ document: true });
    await asCaller('caller', () => client.query({ query: PROBE, variables: { tag: 'd' } }));
    expect(spansOf(SpanKind.CLIENT)[0]!.attributes['graphql.document']).toContain('query Probe');
  });

  it('marks the client span failed on GraphQL errors and on network errors', async () => {
    const client = httpClient();
    await expect(asCaller('caller', () => client.query({ query: FAIL }))).rejects.toThrow('resolver failed on purpose');
    const failed = spansOf(SpanKind.CLIENT)[0]!;
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'resolver failed on purpose' });
    expect(spansOf(SpanKind.SERVER)[0]!.status.code).toBe(SpanStatusCode.ERROR);
    exporter.reset();
    const offline = new ApolloClient({
      link: ApolloLink.from([new TraceContextLink(), new HttpLink({ uri: 'http://127.0.0.1:9/graphql' })]),
      cache: new InMemoryCache(),
    });
    await expect(offline.query({ query: PROBE, variables: { tag: 'n' } })).rejects.toThrow();
    const network = spansOf(SpanKind.CLIENT)[0]!;
    expect(network.status.code).toBe(SpanStatusCode.ERROR);
    expect(network.attributes['error.type']).toBe('TypeError');
  });

  it('ends the client span when a downstream link throws while building the request', async () => {
    const client = new ApolloClient({
      link: ApolloLink.from([
        new TraceContextLink(),
        new ApolloLink(() => {
          throw new Error('cannot build request');
        }),
      ]),
      cache: new InMemoryCache(),
    });
    await expect(client.query({ query: PROBE, variables: { tag: 'boom' } })).rejects.toThrow('cannot build request');
    const span = spansOf(SpanKind.CLIENT)[0]!;
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'cannot build request' });
  });

  it('query deduplication: the second identical caller shares the first request and trace', async () => {
    const client = httpClient();
    const [first, second] = await Promise.all([
      asCaller('first', () => client.query({ query: PROBE, variables: { tag: 'dup' } })),
      asCaller('second', () => client.query({ query: PROBE, variables: { tag: 'dup' } })),
    ]);
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
    expect(mismatchesOf(first.span, first.result.data, 5)).toEqual([]);
    expect(allSeen(second.result.data)[0]!.traceId).toBe(first.span.spanContext().traceId);
    exporter.reset();
    // What to set when every caller needs its own trace.
    const [a, b] = await Promise.all([
      asCaller('a', () =>
        client.query({ query: PROBE, variables: { tag: 'dup' }, context: { queryDeduplication: false } }),
      ),
      asCaller('b', () =>
        client.query({ query: PROBE, variables: { tag: 'dup' }, context: { queryDeduplication: false } }),
      ),
    ]);
    expect([...mismatchesOf(a.span, a.result.data, 5), ...mismatchesOf(b.span, b.result.data, 5)]).toEqual([]);
  });
});

describe('BatchHttpLink', () => {
  it('sends 50 concurrent operations in few requests, each operation with its own carrier', async () => {
    const client = new ApolloClient({
      link: ApolloLink.from([
        new TraceContextLink(),
        new BatchHttpLink({
          uri: server.url,
          batchMax: 25,
          batchInterval: 20,
          fetch: recordingFetch,
          batchKey: traceContextBatchKey(server.url),
        }),
      ]),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: 'no-cache' } },
    });
    const before = server.requests();
    const runs = await asCallers('caller', tags('b'), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(server.requests() - before).toBe(2);
    expect(bodies.every((body) => Array.isArray(body) && body.length === 25)).toBe(true);
    const carriers = new Set((bodies as any[][]).flat().map((op) => op.extensions.traceContext.traceparent));
    expect(carriers.size).toBe(50);
    // With traceContextBatchKey, headers: 'auto' sends W3C headers without splitting the batch: each request
    // has its first operation's, and nothing else of ours.
    for (const [i, body] of (bodies as any[][]).entries()) {
      expect(sent[i]!.headers.traceparent).toBe(body[0].extensions.traceContext.traceparent);
      expect(Object.keys(sent[i]!.headers).sort()).toEqual(['accept', 'content-type', 'traceparent']);
    }
    expect(queryMismatches(runs)).toEqual([]);
  });

  it('without traceContextBatchKey, per-operation headers split the batch; headers: false keeps it whole', async () => {
    const run = async (options: TraceContextLinkOptions) => {
      const client = new ApolloClient({
        link: ApolloLink.from([
          new TraceContextLink(options),
          new BatchHttpLink({ uri: server.url, batchMax: 10, batchInterval: 20, fetch: recordingFetch }),
        ]),
        cache: new InMemoryCache(),
        defaultOptions: { query: { fetchPolicy: 'no-cache' } },
      });
      const before = server.requests();
      const runs = await asCallers('caller', tags('s', 5), (tag) => client.query({ query: PROBE, variables: { tag } }));
      expect(queryMismatches(runs)).toEqual([]);
      return server.requests() - before;
    };
    expect(await run({})).toBe(5);
    exporter.reset();
    expect(await run({ headers: false })).toBe(1);
  });

  it('traceContextBatchKey leaves out only the trace context headers', () => {
    const key = traceContextBatchKey('/graphql');
    const operation = (headers: Record<string, string>, uri?: string) =>
      ({ getContext: () => ({ headers, uri }) }) as any;
    const a = key(operation({ authorization: 'a', traceparent: '00-1-2-01', baggage: 'k=v', TraceState: 'x' }));
    expect(a).toBe(key(operation({ authorization: 'a', traceparent: '00-3-4-01' })));
    expect(a).not.toBe(key(operation({ authorization: 'b', traceparent: '00-1-2-01' })));
    expect(key(operation({}, '/other'))).toMatch(/^\/other/);
  });
});

describe('GraphQLWsLink', () => {
  it('keeps 50 concurrent queries and 50 subscriptions on one socket apart', async () => {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    try {
      const client = apolloClient(new GraphQLWsLink(wsClient));
      const [queries, subscriptions] = await Promise.all([
        asCallers('query', tags('wq'), (tag) => client.query({ query: PROBE, variables: { tag } })),
        asCallers('subscription', tags('ws'), (tag) => subscriptionEvents(client, TICKS, { tag, count: 3 })),
      ]);
      await wsClient.dispose();
      expect([...queryMismatches(queries), ...subscriptionMismatches(subscriptions)]).toEqual([]);
      expect(childOf(SpanKind.CLIENT, subscriptions[0]!.span.spanContext()).name).toBe('subscription Ticks');
    } finally {
      await wsClient.dispose();
    }
  });

  it('ends the client and server spans when a subscription is unsubscribed early', async () => {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    try {
      const client = apolloClient(new GraphQLWsLink(wsClient));
      await unsubscribeAtFirstEvent(tracer, (onEvent) => {
        const subscription = client
          .subscribe({ query: TICKS, variables: { tag: 'early', count: 1000 } })
          .subscribe({ next: onEvent });
        return () => subscription.unsubscribe();
      });
      await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
      expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
    } finally {
      await wsClient.dispose();
    }
  });
});

describe('SSE', () => {
  it('runs 50 concurrent subscriptions, every event in its own caller trace', async () => {
    const sseClient = createSseClient({ url: server.url });
    try {
      const client = apolloClient(new SseLink(sseClient));
      const runs = await asCallers('subscription', tags('sse'), (tag) =>
        subscriptionEvents(client, TICKS, { tag, count: 3 }),
      );
      sseClient.dispose();
      expect(subscriptionMismatches(runs)).toEqual([]);
    } finally {
      sseClient.dispose();
    }
  });
});

describe('traceContextFetch', () => {
  /** A fetch that records the span active when it is called, and answers without a network. */
  function probeFetch() {
    const active: (string | undefined)[] = [];
    const fetchImpl: typeof fetch = async () => {
      active.push(trace.getSpanContext(context.active())?.spanId);
      return new Response('{}');
    };
    return { active, fetchImpl };
  }
  const tp = (spanId: string) => `00-0af7651916cd43dd8448eb211c80319c-${spanId}-01`;

  it("runs the request in its first operation's context, read from the body or a GET's headers", async () => {
    const { active, fetchImpl } = probeFetch();
    const wrapped = traceContextFetch({ fetch: fetchImpl });
    await context.with(ROOT_CONTEXT, async () => {
      const batch = [
        { query: '{a}', extensions: { traceContext: {} } },
        { query: '{b}', extensions: { traceContext: { traceparent: tp('b7ad6b7169203331') } } },
        { query: '{c}', extensions: { traceContext: { traceparent: tp('c7ad6b7169203331') } } },
      ];
      await wrapped('http://x/graphql', { method: 'POST', body: JSON.stringify(batch) });
      await wrapped('http://x/graphql?query=%7Ba%7D', { headers: { traceparent: tp('d7ad6b7169203331') } });
    });
    // The first operation with a usable carrier: the empty `{}` of the first is skipped.
    expect(active).toEqual(['b7ad6b7169203331', 'd7ad6b7169203331']);
  });

  it('sends bad bodies and carriers as is, in the active context, without throwing', async () => {
    const { active, fetchImpl } = probeFetch();
    const wrapped = traceContextFetch({ fetch: fetchImpl });
    const bodies = [
      'not json',
      '{"query":',
      JSON.stringify({ extensions: { traceContext: { traceparent: '00-zz-zz-01' } } }),
      JSON.stringify({ extensions: { traceContext: { traceparent: tp('0000000000000000') } } }),
      '{"__proto__":{"extensions":{"traceContext":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}}',
      JSON.stringify({ extensions: { traceContext: { traceparent: 'x'.repeat(100_000) } } }),
      JSON.stringify([null, 1, 'a']),
    ];
    await tracer.startActiveSpan('outer', async (outer) => {
      for (const body of bodies) await wrapped('http://x/graphql', { method: 'POST', body });
      outer.end();
      expect(active).toEqual(bodies.map(() => outer.spanContext().spanId));
    });
    expect(Object.prototype).not.toHaveProperty('extensions');
  });
});
