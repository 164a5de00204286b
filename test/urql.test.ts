// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// urql (@urql/core 6) with traceContextExchange against a real Yoga server with useTraceContext, over loopback:
// fetchExchange POST and GET, subscriptionExchange over graphql-ws (Yoga's recipe) and over graphql-sse.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  Client,
  cacheExchange,
  type Exchange,
  fetchExchange,
  gql,
  type OperationResult,
  subscriptionExchange,
} from '@urql/core';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type TraceContextExchangeOptions, traceContextExchange } from '../src/urql.js';
import {
  allSeen,
  clientChecks,
  PROBE_RESOLVERS,
  PROBE_SOURCE,
  TICKS_SOURCE,
  traceparentOf,
} from './graphql-client-harness.js';
import { setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags, unsubscribeAtFirstEvent } from './support/graphql-callers.js';
import { withInstrumentedFetch } from './support/graphql-clients.js';
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

const sent: { url: string; method: string; headers: Record<string, string>; body: any }[] = [];
/** fetch for fetchExchange, recording what goes on the wire. */
const recordingFetch: typeof fetch = async (input, init) => {
  sent.push({
    url: String(input),
    method: init?.method ?? 'GET',
    headers: Object.fromEntries(new Headers(init?.headers).entries()),
    body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
  });
  return fetch(input, init);
};
// Every span an operation started has ended: none is left open by an error, a cancel or a cache hit.
const server = yogaForClientTests(tracing, () => {
  sent.length = 0;
});

function fetchClient(
  options?: TraceContextExchangeOptions,
  client: Partial<ConstructorParameters<typeof Client>[0]> = {},
) {
  return new Client({
    url: server.url,
    exchanges: [cacheExchange, traceContextExchange(options), fetchExchange],
    fetch: recordingFetch,
    preferGetMethod: false,
    requestPolicy: 'network-only',
    ...client,
  });
}

/** A subscriptionExchange over a graphql-ws or graphql-sse client, as urql's docs write it. */
function subscriptions(
  transport: ReturnType<typeof createWsClient> | ReturnType<typeof createSseClient>,
  enableAllOperations = false,
): Exchange {
  return subscriptionExchange({
    enableAllOperations,
    forwardSubscription(request) {
      const input = { ...request, query: request.query ?? '' };
      return {
        subscribe(sink) {
          const unsubscribe = transport.subscribe(input, sink as never);
          // graphql-ws 6.4's client releases a socket lock twice when its consumer unsubscribes inside `next`
          // (urql's toPromise does, for a query sent over the socket) and the server's `complete` frame is in
          // the same TCP chunk: the lazy socket then closes under live subscriptions, which complete early.
          // Unsubscribing a task later lets `complete` arrive first. Seen under load; not our exchange's doing.
          return { unsubscribe: () => void setTimeout(unsubscribe, 0) };
        },
      };
    },
  });
}

/** Collects a subscription's events until `count` arrived. */
function collect(client: Client, tag: string, count = 3) {
  return new Promise<any[]>((resolve, reject) => {
    const events: any[] = [];
    const { unsubscribe } = client.subscription(TICKS, { tag, count }).subscribe((result: OperationResult) => {
      if (result.error) reject(result.error);
      // urql repeats the last event with `hasNext: false` when the server completes, and under load may hand
      // the latest result to the callback twice: count each event (its `i`) once.
      if (events.length === count || events.some((event) => event.ticks.i === result.data?.ticks.i)) return;
      events.push(result.data);
      if (events.length === count) {
        resolve(events);
        // urql tears the operation down on the server's completion; give it that chance first.
        setTimeout(unsubscribe, 50);
      }
    });
  });
}

describe('fetchExchange, POST', () => {
  it('sends the carrier in extensions.traceContext and names the CLIENT span as the Apollo link does', async () => {
    const client = fetchClient();
    const { span: caller, result } = await asCaller('caller', () => client.query(PROBE, { tag: 'a' }).toPromise());
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.name).toBe('query Probe');
    expect(clientSpan.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    expect(sent[0]!.method).toBe('POST');
    expect(sent[0]!.body.extensions.traceContext).toEqual({ traceparent: traceparentOf(clientSpan) });
    // headers: 'auto' on Node without fetch instrumentation: the HTTP server span can join the trace too.
    expect(sent[0]!.headers.traceparent).toBe(traceparentOf(clientSpan));
    expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('keeps 50 concurrent queries and 50 mutations apart, each under its own caller', async () => {
    const client = fetchClient();
    const [queries, mutations] = await Promise.all([
      asCallers('query', tags('q'), (tag) => client.query(PROBE, { tag }).toPromise()),
      asCallers('mutation', tags('m'), (tag) =>
        client
          .mutation(gql`mutation Touch($tag: String!) { touch(tag: $tag) { tag seen { traceId spanId } } }`, { tag })
          .toPromise(),
      ),
    ]);
    const mismatches = queryMismatches(queries);
    for (const { span, result } of mutations) mismatches.push(...mismatchesOf(span, result.data, 1));
    expect(mismatches).toEqual([]);
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(100);
    expect(spansOf(SpanKind.CLIENT).filter((span) => span.name === 'mutation Touch')).toHaveLength(50);
  });

  it('an operation without a caller context sends an explicit empty carrier', async () => {
    const client = fetchClient({ spans: false });
    const result = await context.with(ROOT_CONTEXT, () => client.query(PROBE, { tag: 'none' }).toPromise());
    expect(sent[0]!.body.extensions.traceContext).toEqual({});
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    expect(result.data.probe.tag).toBe('none');
  });

  it('reads the caller context when the call is made, not when the request goes out', async () => {
    const client = fetchClient();
    let pending: Promise<OperationResult> | undefined;
    const caller = tracer.startActiveSpan('short-lived caller', (span) => {
      pending = client.query(PROBE, { tag: 'early' }).toPromise();
      span.end();
      return span;
    });
    const result = await pending!;
    expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('a propagator that throws costs the operation its carrier, nothing else', async () => {
    const throwing = {
      inject() {
        throw new Error('propagator failed');
      },
      extract: (ctx: never) => ctx,
      fields: () => [],
    };
    const client = fetchClient({ propagator: throwing });
    const { result } = await asCaller('caller', () => client.query(PROBE, { tag: 'throws' }).toPromise());
    expect(result.error).toBeUndefined();
    expect(result.data.probe.tag).toBe('throws');
    expect(sent[0]!.body.extensions.traceContext).toEqual({});
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
  });

  it('headers: false sends the carrier in extensions only; spans: false sends the caller context itself', async () => {
    const client = fetchClient({ headers: false, spans: false });
    const { span: caller, result } = await asCaller('caller', () => client.query(PROBE, { tag: 'x' }).toPromise());
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(0);
    const server = childOf(SpanKind.SERVER, caller.spanContext());
    for (const entry of allSeen(result.data)) expect(entry.spanId).toBe(server.spanContext().spanId);
  });

  it('keeps fetchOptions headers given as a function, a Headers object or entry pairs', async () => {
    for (const fetchOptions of [
      () => ({ headers: { authorization: 'Bearer a' } }),
      { headers: new Headers({ authorization: 'Bearer a' }) },
      { headers: [['authorization', 'Bearer a']] as [string, string][] },
    ]) {
      sent.length = 0;
      exporter.reset();
      const client = fetchClient({}, { fetchOptions });
      const { span: caller } = await asCaller('caller', () => client.query(PROBE, { tag: 'h' }).toPromise());
      expect(sent[0]!.headers.authorization).toBe('Bearer a');
      expect(sent[0]!.headers.traceparent).toBe(traceparentOf(childOf(SpanKind.CLIENT, caller.spanContext())));
    }
  });

  it('document: true records the document on the client span', async () => {
    const client = fetchClient({ document: true });
    await asCaller('caller', () => client.query(PROBE, { tag: 'd' }).toPromise());
    expect(spansOf(SpanKind.CLIENT)[0]!.attributes['graphql.document']).toContain('query Probe');
  });

  it('marks the client span failed on GraphQL errors and on network errors', async () => {
    const client = fetchClient();
    const failed = await asCaller('caller', () => client.query(FAIL, {}).toPromise());
    expect(failed.result.error?.graphQLErrors[0]?.message).toBe('resolver failed on purpose');
    expect(spansOf(SpanKind.CLIENT)[0]!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'resolver failed on purpose',
    });
    exporter.reset();
    const offline = new Client({
      url: 'http://127.0.0.1:9/graphql',
      exchanges: [traceContextExchange(), fetchExchange],
      preferGetMethod: false,
    });
    const result = await offline.query(PROBE, { tag: 'n' }).toPromise();
    expect(result.error?.networkError).toBeInstanceOf(TypeError);
    const network = spansOf(SpanKind.CLIENT)[0]!;
    expect(network.status.code).toBe(SpanStatusCode.ERROR);
    expect(network.attributes['error.type']).toBe('TypeError');
  });

  it('cache hits start no span and send nothing; network refreshes do', async () => {
    const client = fetchClient({}, { requestPolicy: 'cache-first' });
    const first = await asCaller('first', () => client.query(PROBE, { tag: 'cached' }).toPromise());
    expect(mismatchesOf(first.span, first.result.data, PROBE_RESOLVERS)).toEqual([]);
    const before = server.requests();
    const second = await asCaller('second', () => client.query(PROBE, { tag: 'cached' }).toPromise());
    expect(second.result.data).toEqual(first.result.data);
    expect(server.requests()).toBe(before);
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
    const third = await asCaller('third', () =>
      client.query(PROBE, { tag: 'cached' }, { requestPolicy: 'network-only' }).toPromise(),
    );
    expect(server.requests()).toBe(before + 1);
    expect(mismatchesOf(third.span, third.result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('ends the span of an operation torn down before its result', async () => {
    const client = fetchClient();
    await asCaller('caller', async () => {
      const { unsubscribe } = client.query(PROBE, { tag: 'cancelled' }).subscribe(() => {});
      unsubscribe();
    });
    await expect.poll(() => spansOf(SpanKind.CLIENT).length).toBe(1);
  });
});

describe('fetchExchange, GET (urql sends queries as GET by default)', () => {
  it('keeps the URL cacheable: the carrier goes in W3C headers, 50 concurrent queries apart', async () => {
    const client = fetchClient({}, { preferGetMethod: 'within-url-limit' });
    const runs = await asCallers('caller', tags('g'), (tag) => client.query(PROBE, { tag }).toPromise());
    expect(sent).toHaveLength(50);
    expect(sent.every((request) => request.method === 'GET' && !request.url.includes('traceContext'))).toBe(true);
    expect(sent.every((request) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(request.headers.traceparent ?? ''))).toBe(
      true,
    );
    expect(queryMismatches(runs)).toEqual([]);
  });

  it("leaves the W3C headers to fetch instrumentation when Node's fetch is instrumented, 10 concurrent queries apart", async () => {
    await withInstrumentedFetch(server.server, async (received) => {
      const client = fetchClient({}, { preferGetMethod: 'force' });
      const runs = await asCallers('caller', tags('gu', 10), (tag) => client.query(PROBE, { tag }).toPromise());
      expect(sent.every((request) => request.method === 'GET' && !('traceparent' in request.headers))).toBe(true);
      // One traceparent per request, the instrumentation's fetch span under that query's own CLIENT span.
      const spans = exporter.getFinishedSpans();
      expect(received).toHaveLength(10);
      for (const run of runs) {
        const clientSpan = childOf(SpanKind.CLIENT, run.span.spanContext());
        const fetchSpans = spans.filter((span) => span.parentSpanContext?.spanId === clientSpan.spanContext().spanId);
        expect(fetchSpans.map((span) => span.instrumentationScope.name)).toEqual([
          '@opentelemetry/instrumentation-undici',
        ]);
        expect(received).toContain(traceparentOf(fetchSpans[0]!));
        // The operation continues that header (GET has no extensions slot): CLIENT → fetch → SERVER, resolvers in it.
        const serverSpan = childOf(SpanKind.SERVER, fetchSpans[0]!.spanContext());
        const seen = allSeen(run.result.data);
        expect(seen).toHaveLength(PROBE_RESOLVERS);
        expect(seen.every((entry) => entry.spanId === serverSpan.spanContext().spanId)).toBe(true);
      }
    });
  });

  it("get: 'url' puts the carrier in the URL's extensions; 'none' sends nothing", async () => {
    for (const [mode, inUrl] of [
      ['url', true],
      ['none', false],
    ] as const) {
      sent.length = 0;
      exporter.reset();
      const client = fetchClient({ get: mode }, { preferGetMethod: 'force' });
      const { span: caller, result } = await asCaller('caller', () => client.query(PROBE, { tag: 'u' }).toPromise());
      expect(new URL(sent[0]!.url).searchParams.has('extensions')).toBe(inUrl);
      expect(sent[0]!.headers).not.toHaveProperty('traceparent');
      if (inUrl) expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
      else expect(allSeen(result.data)[0]!.traceId).not.toBe(caller.spanContext().traceId);
    }
  });
});

describe('subscriptionExchange over graphql-ws', () => {
  it('keeps 50 concurrent queries and 50 subscriptions on one socket apart', async () => {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    try {
      const client = new Client({
        url: server.url,
        exchanges: [traceContextExchange(), subscriptions(wsClient, true)],
        requestPolicy: 'network-only',
        preferGetMethod: false,
      });
      const [queries, subs] = await Promise.all([
        asCallers('query', tags('wq'), (tag) => client.query(PROBE, { tag }).toPromise()),
        asCallers('subscription', tags('ws'), (tag) => collect(client, tag)),
      ]);
      // A subscription's CLIENT span ends when urql tears it down, which can come after `collect` resolved.
      await expect.poll(() => spansOf(SpanKind.CLIENT).length, { timeout: 5000 }).toBe(100);
      expect([...queryMismatches(queries), ...subscriptionMismatches(subs)]).toEqual([]);
      expect(childOf(SpanKind.CLIENT, subs[0]!.span.spanContext()).name).toBe('subscription Ticks');
    } finally {
      await wsClient.dispose();
    }
  });

  it('ends the client and server spans when a subscription is unsubscribed early', async () => {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    try {
      const client = new Client({ url: server.url, exchanges: [traceContextExchange(), subscriptions(wsClient)] });
      await unsubscribeAtFirstEvent(
        tracer,
        (onEvent) => client.subscription(TICKS, { tag: 'early', count: 1000 }).subscribe(onEvent).unsubscribe,
      );
      await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
      expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
    } finally {
      await wsClient.dispose();
    }
  });
});

describe('subscriptionExchange over graphql-sse', () => {
  it('runs 50 concurrent subscriptions, every event in its own caller trace', async () => {
    const sseClient = createSseClient({ url: server.url });
    try {
      const client = new Client({ url: server.url, exchanges: [traceContextExchange(), subscriptions(sseClient)] });
      const runs = await asCallers('subscription', tags('sse'), (tag) => collect(client, tag));
      await expect.poll(() => spansOf(SpanKind.CLIENT).length, { timeout: 5000 }).toBe(50);
      expect(subscriptionMismatches(runs)).toEqual([]);
    } finally {
      sseClient.dispose();
    }
  });
});
