// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// The Yoga plugin against hand-made wire messages: exactly what a client sends, over real loopback
// HTTP, SSE (graphql-sse client) and graphql-ws (Yoga's recipe).
import { createRequire } from 'node:module';
import { envelop, useEngine, useSchema } from '@envelop/core';
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { SpanStatusCode } from '@opentelemetry/api';
import { EventSource } from 'eventsource';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import type { Plugin } from 'graphql-yoga';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRACE_CONTEXT_EXTENSION, useTraceContext, type YogaIncomingInfo } from '../src/yoga.js';
import { schema, setupGraphqlTracing, startServer, type TestServer } from './graphql-fixture.js';
import { collectEvents } from './support/graphql-clients.js';
import {
  allSeen,
  expectRanAsNewTrace,
  expectResolversIn,
  GRAPHQL_RESPONSE,
  hostileCarrierBodies,
  ourServerSpans,
  PROBE_SOURCE,
  postJson,
  probeBody,
  remoteCaller,
  TICKS_SOURCE,
} from './support/graphql-probe.js';
import { expectNoOpenSpans } from './support/otel.js';

const tracing = setupGraphqlTracing();
const { exporter, provider } = tracing;

const { serverSpans, serverSpanOf } = ourServerSpans(exporter);
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(url, body, { ...GRAPHQL_RESPONSE, ...headers });

// Every span an operation started has ended: none is left open by an error, a bad carrier or a cancel.
afterEach(() => expectNoOpenSpans(tracing));

describe('Yoga over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer([useTraceContext()], { batching: { limit: 100 } });
  });
  afterAll(() => server.close());

  it('runs every resolver of a single operation under a SERVER span that is a child of the carrier', async () => {
    const remote = remoteCaller();
    const { status, json } = await post(server.url, probeBody('one', { [TRACE_CONTEXT_EXTENSION]: remote.carrier }));
    expect(status).toBe(200);
    const span = serverSpanOf(remote.traceId);
    expect(span.parentSpanContext?.spanId).toBe(remote.spanId);
    expect(span.name).toBe('query Probe');
    expect(span.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expectResolversIn(json.data, remote.traceId, span.spanContext().spanId);
  });

  it('keeps 50 concurrent single operations apart', async () => {
    const callers = Array.from({ length: 50 }, remoteCaller);
    const results = await Promise.all(
      callers.map((remote, i) => post(server.url, probeBody(`c${i}`, { traceContext: remote.carrier }))),
    );
    let mismatches = 0;
    results.forEach(({ json }, i) => {
      const remote = callers[i]!;
      const span = serverSpanOf(remote.traceId);
      if (span.parentSpanContext?.spanId !== remote.spanId) mismatches++;
      for (const entry of allSeen(json.data)) {
        if (entry.traceId !== remote.traceId || entry.spanId !== span.spanContext().spanId) mismatches++;
      }
    });
    expect(mismatches).toBe(0);
    expect(serverSpans()).toHaveLength(50);
  });

  it('gives each operation of one batched request its own context (batching: true)', async () => {
    const callers = Array.from({ length: 50 }, remoteCaller);
    const before = server.requests();
    const { status, json } = await post(
      server.url,
      callers.map((remote, i) => probeBody(`b${i}`, { traceContext: remote.carrier })),
    );
    expect(status).toBe(200);
    expect(server.requests() - before).toBe(1);
    expect(json).toHaveLength(50);
    callers.forEach((remote, i) => {
      const span = serverSpanOf(remote.traceId);
      expect(span.parentSpanContext?.spanId).toBe(remote.spanId);
      expect(json[i].data.probe.tag).toBe(`b${i}`);
      expectResolversIn(json[i].data, remote.traceId, span.spanContext().spanId);
    });
  });

  it('falls back to W3C request headers, and prefers the extensions carrier over them', async () => {
    const fromHeader = remoteCaller();
    const fromExtensions = remoteCaller();
    await post(server.url, probeBody('h'), { traceparent: fromHeader.carrier.traceparent });
    expect(serverSpanOf(fromHeader.traceId).parentSpanContext?.spanId).toBe(fromHeader.spanId);
    exporter.reset();
    const { json } = await post(server.url, probeBody('h2', { traceContext: fromExtensions.carrier }), {
      traceparent: fromHeader.carrier.traceparent,
    });
    const span = serverSpanOf(fromExtensions.traceId);
    expectResolversIn(json.data, fromExtensions.traceId, span.spanContext().spanId);
    expect(serverSpans().filter((s) => s.spanContext().traceId === fromHeader.traceId)).toHaveLength(0);
  });

  it('records resolver errors on the server span', async () => {
    const remote = remoteCaller();
    const { json } = await post(server.url, {
      query: 'query Broken($tag: String!) { fail(tag: $tag) }',
      variables: { tag: 'x' },
      extensions: { traceContext: remote.carrier },
    });
    expect(json.errors[0].message).toBe('resolver failed on purpose');
    const span = serverSpanOf(remote.traceId);
    expect(span.name).toBe('query Broken');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'resolver failed on purpose' });
    expect(span.attributes['error.type']).toBe('GraphQLError');
    expect(span.events.map((event) => event.attributes?.['exception.type'])).toEqual(['GraphQLError']);
  });

  it('ends the span of an operation that fails to parse or to validate', async () => {
    const parseFails = remoteCaller();
    const invalid = remoteCaller();
    const a = await post(server.url, { query: 'query {', extensions: { traceContext: parseFails.carrier } });
    const b = await post(server.url, { query: '{ nope }', extensions: { traceContext: invalid.carrier } });
    expect(a.json.errors).toHaveLength(1);
    expect(b.json.errors).toHaveLength(1);
    const parseSpan = serverSpanOf(parseFails.traceId);
    expect(parseSpan.name).toBe('GraphQL Operation');
    expect(parseSpan.status.code).toBe(SpanStatusCode.ERROR);
    const invalidSpan = serverSpanOf(invalid.traceId);
    expect(invalidSpan.name).toBe('query');
    expect(invalidSpan.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('names mutations and anonymous operations by type', async () => {
    const remote = remoteCaller();
    await post(server.url, {
      query: 'mutation { touch(tag: "m") { tag } }',
      extensions: { traceContext: remote.carrier },
    });
    const span = serverSpanOf(remote.traceId);
    expect(span.name).toBe('mutation');
    expect(span.attributes).toEqual({ 'graphql.operation.type': 'mutation' });
  });
});

describe('hostile and malformed carriers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer([useTraceContext()], { batching: true });
  });
  afterAll(() => server.close());

  const good = remoteCaller();
  const bad = hostileCarrierBodies(good);

  it.each(bad)('executes an operation whose carrier is %s, as a new trace, without throwing', async (_label, body) => {
    expectRanAsNewTrace(await post(server.url, body), good, serverSpans);
  });

  it('starts nothing for a request Yoga itself rejects (extensions that are not an object)', async () => {
    const { status } = await post(server.url, probeBody('e', 'traceparent'));
    expect(status).toBe(400);
    expect(serverSpans()).toHaveLength(0);
  });

  it('keeps a bad carrier in one batched operation from touching its neighbours', async () => {
    const neighbours = [remoteCaller(), remoteCaller()];
    const { json } = await post(server.url, [
      probeBody('ok1', { traceContext: neighbours[0]!.carrier }),
      JSON.parse(bad[0]![1]),
      probeBody('ok2', { traceContext: neighbours[1]!.carrier }),
    ]);
    expect(json).toHaveLength(3);
    for (const [index, remote] of [
      [0, neighbours[0]!],
      [2, neighbours[1]!],
    ] as const) {
      const span = serverSpanOf(remote.traceId);
      expectResolversIn(json[index].data, remote.traceId, span.spanContext().spanId);
    }
    expect(serverSpans()).toHaveLength(3);
  });

  it('falls back cleanly when allowedHeaders strips the traceparent header', async () => {
    const stripped = await startServer([useTraceContext()], {
      allowedHeaders: { request: ['content-type', 'accept', 'content-length'] },
    });
    try {
      const remote = remoteCaller();
      const { status, json } = await post(stripped.url, probeBody('stripped'), {
        traceparent: remote.carrier.traceparent,
      });
      expect(status).toBe(200);
      const span = serverSpans()[0]!;
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(remote.traceId);
      expectResolversIn(json.data, span.spanContext().traceId, span.spanContext().spanId);
      // The extensions carrier is untouched by header filtering.
      exporter.reset();
      const viaExtensions = remoteCaller();
      const second = await post(stripped.url, probeBody('ext', { traceContext: viaExtensions.carrier }));
      expectResolversIn(
        second.json.data,
        viaExtensions.traceId,
        serverSpanOf(viaExtensions.traceId).spanContext().spanId,
      );
    } finally {
      await stripped.close();
    }
  });
});

describe('trust policy and options', () => {
  const withBaggage = () => {
    const remote = remoteCaller();
    return { ...remote, carrier: { ...remote.carrier, baggage: 'tenant=acme' } };
  };
  const QUERY = 'query Probe($tag: String!) { baggage(key: "tenant") probe(tag: $tag) { seen { traceId spanId } } }';

  async function run(options: Parameters<typeof useTraceContext>[0], headers: Record<string, string> = {}) {
    const server = await startServer([useTraceContext(options)]);
    try {
      const remote = withBaggage();
      const { json } = await post(
        server.url,
        { query: QUERY, variables: { tag: 't' }, extensions: { traceContext: remote.carrier } },
        headers,
      );
      return { remote, data: json.data, spans: serverSpans() };
    } finally {
      await server.close();
    }
  }

  it("'continue' (the default) parents the span on the caller and passes baggage on", async () => {
    const { remote, data, spans } = await run(undefined);
    expect(spans[0]!.spanContext().traceId).toBe(remote.traceId);
    expect(spans[0]!.parentSpanContext?.spanId).toBe(remote.spanId);
    expect(data.baggage).toBe('acme');
  });

  it("'link' starts a new trace that links to the caller and drops its baggage", async () => {
    const { remote, data, spans } = await run({ incoming: 'link' });
    const span = spans[0]!;
    expect(span.spanContext().traceId).not.toBe(remote.traceId);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links.map((link) => link.context.spanId)).toEqual([remote.spanId]);
    expect(data.baggage).toBeNull();
    expect(data.probe.seen).toEqual({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
  });

  it("'ignore' runs in the server's own context", async () => {
    const { remote, data, spans } = await run({ incoming: 'ignore' });
    expect(spans[0]!.spanContext().traceId).not.toBe(remote.traceId);
    expect(spans[0]!.links).toHaveLength(0);
    expect(data.baggage).toBeNull();
  });

  it('a decider function sees the source and the request; a throwing one falls back to link', async () => {
    const infos: YogaIncomingInfo[] = [];
    const decided = await run(
      {
        incoming: (info) => {
          infos.push(info);
          return info.request?.headers.get('x-first-party') === '1' ? 'continue' : 'link';
        },
      },
      { 'x-first-party': '1' },
    );
    expect(infos.map((info) => info.source)).toEqual(['extensions']);
    expect(decided.spans[0]!.spanContext().traceId).toBe(decided.remote.traceId);
    exporter.reset();
    const thrown = await run({
      incoming: () => {
        throw new Error('decider failed');
      },
    });
    expect(thrown.spans[0]!.spanContext().traceId).not.toBe(thrown.remote.traceId);
    expect(thrown.spans[0]!.links).toHaveLength(1);
  });

  it('spans: false runs the resolvers directly in the caller context', async () => {
    const { remote, data, spans } = await run({ spans: false });
    expect(spans).toHaveLength(0);
    expect(data.probe.seen).toEqual({ traceId: remote.traceId, spanId: remote.spanId });
    expect(data.baggage).toBe('acme');
  });

  it('document: true records the source text; headers: false ignores the headers', async () => {
    const server = await startServer([useTraceContext({ document: true, headers: false })]);
    try {
      const fromHeader = remoteCaller();
      await post(server.url, probeBody('d'), { traceparent: fromHeader.carrier.traceparent });
      const span = serverSpans()[0]!;
      expect(span.attributes['graphql.document']).toBe(PROBE_SOURCE);
      expect(span.spanContext().traceId).not.toBe(fromHeader.traceId);
    } finally {
      await server.close();
    }
  });
});

describe('subscriptions over Yoga SSE', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer([useTraceContext()]);
  });
  afterAll(() => server.close());

  it('runs 50 concurrent subscriptions, every event in its own subscription context', async () => {
    const client = createSseClient({ url: server.url });
    try {
      const callers = Array.from({ length: 50 }, remoteCaller);
      const events = await Promise.all(
        callers.map(async (remote, i) => {
          const received: any[] = [];
          for await (const result of client.iterate({
            query: TICKS_SOURCE,
            variables: { tag: `s${i}`, count: 3 },
            extensions: { traceContext: remote.carrier },
          })) {
            received.push(result);
          }
          return received;
        }),
      );
      client.dispose();
      let mismatches = 0;
      events.forEach((received, i) => {
        const remote = callers[i]!;
        const span = serverSpanOf(remote.traceId);
        expect(span.name).toBe('subscription Ticks');
        expect(received.map((result) => result.data.ticks.i)).toEqual([0, 1, 2]);
        for (const entry of allSeen(received.map((result) => result.data))) {
          if (entry.traceId !== remote.traceId || entry.spanId !== span.spanContext().spanId) mismatches++;
        }
      });
      expect(mismatches).toBe(0);
    } finally {
      client.dispose();
    }
  });

  it('reads the carrier from the URL of an EventSource GET subscription', async () => {
    const remote = remoteCaller();
    const url = new URL(server.url);
    url.searchParams.set('query', TICKS_SOURCE);
    url.searchParams.set('variables', JSON.stringify({ tag: 'es', count: 2 }));
    url.searchParams.set('extensions', JSON.stringify({ traceContext: remote.carrier }));
    const source = new EventSource(url.toString());
    try {
      const events = await new Promise<any[]>((resolve, reject) => {
        const received: any[] = [];
        source.addEventListener('next', (event) => received.push(JSON.parse(event.data).data));
        source.addEventListener('complete', () => resolve(received));
        source.addEventListener('error', reject);
      });
      source.close();
      expect(events.map((event) => event.ticks.i)).toEqual([0, 1]);
      const span = serverSpanOf(remote.traceId);
      for (const entry of allSeen(events))
        expect(entry).toEqual({ traceId: remote.traceId, spanId: span.spanContext().spanId });
    } finally {
      source.close();
    }
  });

  it('ends the subscription span when the client goes away early', async () => {
    const client = createSseClient({ url: server.url });
    try {
      const remote = remoteCaller();
      for await (const result of client.iterate({
        query: TICKS_SOURCE,
        variables: { tag: 'early', count: 1000 },
        extensions: { traceContext: remote.carrier },
      })) {
        expect((result.data as any).ticks.i).toBe(0);
        break;
      }
      client.dispose();
      await expect.poll(() => serverSpans().length, { timeout: 5000 }).toBe(1);
      expect(serverSpanOf(remote.traceId).parentSpanContext?.spanId).toBe(remote.spanId);
    } finally {
      client.dispose();
    }
  });
});

describe('graphql-ws with Yoga recipe', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer([useTraceContext()]);
  });
  afterAll(() => server.close());

  it('keeps 50 concurrent queries and 50 subscriptions on one socket apart', async () => {
    const client = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, lazy: true });
    try {
      const queryCallers = Array.from({ length: 50 }, remoteCaller);
      const subscriptionCallers = Array.from({ length: 50 }, remoteCaller);
      const [queries, subscriptions] = await Promise.all([
        Promise.all(
          queryCallers.map((remote, i) =>
            collectEvents(client, { ...probeBody(`w${i}`, { traceContext: remote.carrier }) }),
          ),
        ),
        Promise.all(
          subscriptionCallers.map((remote, i) =>
            collectEvents(client, {
              query: TICKS_SOURCE,
              variables: { tag: `ws${i}`, count: 3 },
              extensions: { traceContext: remote.carrier },
            }),
          ),
        ),
      ]);
      await client.dispose();
      let mismatches = 0;
      const check = (remote: ReturnType<typeof remoteCaller>, results: any[]) => {
        const span = serverSpanOf(remote.traceId);
        if (span.parentSpanContext?.spanId !== remote.spanId) mismatches++;
        for (const entry of allSeen(results.map((result) => result.data))) {
          if (entry.traceId !== remote.traceId || entry.spanId !== span.spanContext().spanId) mismatches++;
        }
      };
      queryCallers.forEach((remote, i) => {
        expect(queries[i]![0].data.probe.tag).toBe(`w${i}`);
        check(remote, queries[i]!);
      });
      subscriptionCallers.forEach((remote, i) => {
        expect(subscriptions[i]!.map((result) => result.data.ticks.i)).toEqual([0, 1, 2]);
        check(remote, subscriptions[i]!);
      });
      expect(mismatches).toBe(0);
      expect(serverSpans()).toHaveLength(100);
    } finally {
      await client.dispose();
    }
  });

  it('falls back to the connection_init payload when an operation carries no context', async () => {
    const connection = remoteCaller();
    const own = remoteCaller();
    const client = createWsClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { traceContext: connection.carrier, token: 'secret' },
    });
    try {
      const [fromConnection, fromOperation] = await Promise.all([
        collectEvents(client, probeBody('conn')),
        collectEvents(client, probeBody('op', { traceContext: own.carrier })),
      ]);
      await client.dispose();
      expectResolversIn(
        fromConnection[0].data,
        connection.traceId,
        serverSpanOf(connection.traceId).spanContext().spanId,
      );
      expectResolversIn(fromOperation[0].data, own.traceId, serverSpanOf(own.traceId).spanContext().spanId);
    } finally {
      await client.dispose();
    }
  });

  it('records a failing subscription and a validation error', async () => {
    const client = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    try {
      const failing = remoteCaller();
      const invalid = remoteCaller();
      // graphql-ws reports an iterator that throws as an `error` message.
      await expect(
        collectEvents(client, {
          query: 'subscription Failing { failing { i } }',
          extensions: { traceContext: failing.carrier },
        }),
      ).rejects.toEqual([{ message: 'subscription failed on purpose' }]);
      await expect(
        collectEvents(client, { query: '{ nope }', extensions: { traceContext: invalid.carrier } }),
      ).rejects.toMatchObject([
        { message: 'Cannot query field "nope" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
      ]);
      await client.dispose();
      expect(serverSpanOf(failing.traceId).status.code).toBe(SpanStatusCode.ERROR);
      expect(serverSpanOf(invalid.traceId).status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await client.dispose();
    }
  });
});

describe('beside @envelop/opentelemetry', () => {
  it('its execution and resolver spans nest under the operation span, in the caller trace', async () => {
    const server = await startServer([
      useTraceContext(),
      useOpenTelemetry({ resolvers: true, variables: false, result: false }, provider) as Plugin,
    ]);
    try {
      const remote = remoteCaller();
      const { json } = await post(server.url, probeBody('otel', { traceContext: remote.carrier }));
      const spans = exporter.getFinishedSpans();
      const ours = serverSpanOf(remote.traceId);
      const theirs = spans.find((span) => span.name === 'query.Probe');
      expect(theirs?.parentSpanContext?.spanId).toBe(ours.spanContext().spanId);
      const resolverSpans = spans.filter((span) => span.name.startsWith('Probe.') || span.name.startsWith('Item.'));
      expect(resolverSpans).toHaveLength(10);
      // One span per resolver of probeBody: 4 on Probe, 2 on each of the 3 items.
      expect(resolverSpans.map((span) => span.name).sort()).toEqual([
        ...['Item.id', 'Item.id', 'Item.id', 'Item.seen', 'Item.seen', 'Item.seen'],
        ...['Probe.items', 'Probe.later', 'Probe.seen', 'Probe.tag'],
      ]);
      for (const span of spans) expect(span.spanContext().traceId).toBe(remote.traceId);
      for (const entry of allSeen(json.data)) expect(entry.traceId).toBe(remote.traceId);
    } finally {
      await server.close();
    }
  });

  it('with spans: false its spans become children of the caller span', async () => {
    const server = await startServer([
      useTraceContext({ spans: false }),
      useOpenTelemetry({ resolvers: false, variables: false, result: false }, provider) as Plugin,
    ]);
    try {
      const remote = remoteCaller();
      await post(server.url, probeBody('otel', { traceContext: remote.carrier }));
      const theirs = exporter.getFinishedSpans().find((span) => span.name === 'query.Probe');
      expect(theirs?.spanContext().traceId).toBe(remote.traceId);
      expect(theirs?.parentSpanContext?.spanId).toBe(remote.spanId);
      expect(serverSpans()).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

// graphql 16 has no exports map: Node (and so graphql-yoga) loads its CommonJS build, which the schema
// comes from, while a transformed import here could get the .mjs one, a different realm.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

describe('plain Envelop', () => {
  it('works with envelop() and graphql-js directly, no Yoga involved', async () => {
    const getEnveloped = envelop({
      plugins: [useEngine(graphql), useSchema(schema), useTraceContext()],
    });
    const remote = remoteCaller();
    const {
      parse,
      validate,
      contextFactory,
      execute,
      schema: enveloped,
    } = getEnveloped({
      params: { extensions: { traceContext: remote.carrier } },
    });
    const document = parse(PROBE_SOURCE);
    expect(validate(enveloped, document)).toEqual([]);
    const result: any = await execute({
      schema: enveloped,
      document,
      variableValues: { tag: 'env' },
      contextValue: await contextFactory(),
    });
    const span = serverSpanOf(remote.traceId);
    expect(span.parentSpanContext?.spanId).toBe(remote.spanId);
    expectResolversIn(result.data, remote.traceId, span.spanContext().spanId);
  });

  it('starts a new operation when one context object is reused with new params', async () => {
    const getEnveloped = envelop({ plugins: [useEngine(graphql), useSchema(schema), useTraceContext()] });
    const shared: Record<string, unknown> = {};
    for (const remote of [remoteCaller(), remoteCaller()]) {
      shared.params = { extensions: { traceContext: remote.carrier } };
      const { parse, contextFactory, execute, schema: enveloped } = getEnveloped(shared);
      const result: any = await execute({
        schema: enveloped,
        document: parse(PROBE_SOURCE),
        variableValues: { tag: 'reuse' },
        contextValue: await contextFactory(),
      });
      expectResolversIn(result.data, remote.traceId, serverSpanOf(remote.traceId).spanContext().spanId);
    }
  });
});
