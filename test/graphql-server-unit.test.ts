// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// The three GraphQL server integrations driven through each framework's own in-process entry, with no
// listening port: Yoga through `yoga.fetch`, Apollo Server through `executeOperation` (with the `http` part an
// HTTP integration would give), graphql-ws through `makeServer(...).opened(fakeSocket, extra)`. Each test
// checks the exported SERVER span exactly, the context the resolvers ran in, and that no span is left open.
import { createRequire } from 'node:module';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { makeServer } from 'graphql-ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type TraceContextPluginOptions, traceContextPlugin } from '../src/apollo-server.js';
import { formatTraceResponse } from '../src/core/traceresponse.js';
import { type WithTraceContextOptions, withTraceContext } from '../src/graphql-ws.js';
import { type UseTraceContextOptions, useTraceContext } from '../src/yoga.js';
import { newSpanId, newTraceId, ourServerSpans, traceparentOf } from './support/graphql-probe.js';
import { expectNoOpenSpans, setupTracingWithOpenSpans } from './support/otel.js';

// As in graphql-ws.test.ts: src/graphql/graphql-ws/wrap.ts must get the graphql copy Node loads (one realm).
vi.mock('graphql', async () => createRequire(import.meta.url)('graphql'));

const tracing = setupTracingWithOpenSpans();
const { exporter, tracer } = tracing;
afterEach(() => expectNoOpenSpans(tracing));

class TeapotError extends Error {
  override name = 'TeapotError';
}

const activeSpanId = () => trace.getActiveSpan()?.spanContext().spanId ?? null;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query { hello: String, seen: String, fail: String }
    type Subscription { ticks(count: Int!): Int, forever: Int }
  `,
  resolvers: {
    Query: {
      hello: () => 'hi',
      seen: async () => {
        await sleep(1);
        return activeSpanId();
      },
      fail: () => {
        throw new TeapotError('short and stout');
      },
    },
    Subscription: {
      ticks: {
        subscribe: async function* (_: unknown, { count }: { count: number }) {
          for (let i = 0; i < count; i++) {
            await sleep(1);
            yield { ticks: i };
          }
        },
      },
      forever: {
        subscribe: async function* () {
          for (let i = 0; ; i++) {
            await sleep(2);
            yield { forever: i };
          }
        },
      },
    },
  },
});

/** A fabricated remote caller; the object itself also serves as a carrier (its `traceparent`). */
function caller() {
  const traceId = newTraceId();
  const spanId = newSpanId();
  return { traceId, spanId, traceparent: traceparentOf(traceId, spanId) };
}

const { serverSpans } = ourServerSpans(exporter);

/** The one SERVER span the test made. */
function onlyServerSpan(): ReadableSpan {
  const spans = serverSpans();
  expect(spans.map((span) => span.name)).toHaveLength(1);
  return spans[0] as ReadableSpan;
}

/** What a test checks of a span: exactly these fields. */
function shapeOf(span: ReadableSpan) {
  return {
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((event) => event.name),
    links: span.links.map((link) => link.context.spanId),
  };
}

/**
 * Asserts the whole of a SERVER span for the operation `${type} ${name}` that continued `from`'s trace as its
 * child and ended without an error, an event or a link.
 */
function expectContinued(span: ReadableSpan, from: { traceId: string; spanId: string }, type: string, name: string) {
  expect(shapeOf(span)).toEqual({
    name: `${type} ${name}`,
    kind: SpanKind.SERVER,
    traceId: from.traceId,
    parentSpanId: from.spanId,
    attributes: { 'graphql.operation.type': type, 'graphql.operation.name': name },
    status: { code: SpanStatusCode.UNSET },
    events: [],
    links: [],
  });
}

/**
 * Asserts what `query Seen { seen }` sent with `from`'s carrier and `traceResponse: true` gives: the one SERVER
 * span continues `from`, the resolver saw that span active, and the result carries it back as traceresponse.
 */
function expectSeenContinued(result: unknown, from: { traceId: string; spanId: string }) {
  const span = onlyServerSpan();
  expectContinued(span, from, 'query', 'Seen');
  expect(result).toEqual({
    data: { seen: span.spanContext().spanId },
    extensions: { traceresponse: formatTraceResponse(span.spanContext()) },
  });
}

const throwing = () => {
  throw new Error('hook failure');
};

describe('Yoga plugin via yoga.fetch', () => {
  const yogaWith = (options: UseTraceContextOptions = {}) =>
    createYoga({ schema, plugins: [useTraceContext(options)], logging: false, maskedErrors: false });

  async function post(yoga: ReturnType<typeof yogaWith>, body: unknown, headers: Record<string, string> = {}) {
    const response = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return (await response.json()) as any;
  }

  it("runs an operation under the extensions' carrier and sends its traceresponse back", async () => {
    const from = caller();
    const result = await post(yogaWith({ traceResponse: true }), {
      query: 'query Seen { seen }',
      extensions: { traceContext: { traceparent: from.traceparent } },
    });
    expectSeenContinued(result, from);
  });

  it("falls back to the request's traceparent header; without traceResponse the result is untouched", async () => {
    const from = caller();
    const result = await post(yogaWith(), { query: '{ hello }' }, { traceparent: from.traceparent });
    expect(shapeOf(onlyServerSpan())).toMatchObject({
      name: 'query',
      traceId: from.traceId,
      parentSpanId: from.spanId,
    });
    expect(result).toEqual({ data: { hello: 'hi' } });
  });

  it("'link' starts a new trace linked to the caller; document: true records the source", async () => {
    const from = caller();
    const query = 'query Hello { hello }';
    await post(yogaWith({ incoming: 'link', document: true }), {
      query,
      extensions: { traceContext: { traceparent: from.traceparent } },
    });
    const span = shapeOf(onlyServerSpan());
    expect(span.traceId).not.toBe(from.traceId);
    expect(span).toMatchObject({
      parentSpanId: undefined,
      links: [from.spanId],
      attributes: { 'graphql.document': query, 'graphql.operation.type': 'query', 'graphql.operation.name': 'Hello' },
    });
  });

  it('a resolver error fails the span with its error type and an exception event', async () => {
    const result = await post(yogaWith(), { query: 'query Fail { fail }' });
    expect(result.errors[0].message).toBe('short and stout');
    expect(shapeOf(onlyServerSpan())).toMatchObject({
      name: 'query Fail',
      attributes: { 'graphql.operation.type': 'query', 'graphql.operation.name': 'Fail', 'error.type': 'TeapotError' },
      status: { code: SpanStatusCode.ERROR, message: 'short and stout' },
      events: ['exception'],
    });
  });

  it('a document that fails to parse keeps the fallback name and fails the span', async () => {
    await post(yogaWith(), { query: '{ hello' });
    expect(shapeOf(onlyServerSpan())).toMatchObject({
      name: 'GraphQL Operation',
      status: { code: SpanStatusCode.ERROR },
      attributes: { 'error.type': 'GRAPHQL_PARSE_FAILED' },
    });
  });

  it('a malformed or non-object carrier never throws: the operation runs as a new trace', async () => {
    const yoga = yogaWith();
    for (const traceContext of [{ traceparent: '00-zz-nope-01' }, 'traceparent', 42, [1, 2]]) {
      expect(await post(yoga, { query: '{ hello }', extensions: { traceContext } })).toEqual({ data: { hello: 'hi' } });
    }
    const spans = serverSpans();
    expect(spans).toHaveLength(4);
    for (const span of spans) expect(span.parentSpanContext).toBeUndefined();
  });

  it('throwing hooks and span names leave the operation and its default name alone', async () => {
    const yoga = yogaWith({ requestHook: throwing, responseHook: throwing, spanName: throwing, isError: throwing });
    const result = await post(yoga, { query: 'query Fail { fail }' });
    expect(result.errors).toHaveLength(1);
    expect(shapeOf(onlyServerSpan())).toMatchObject({ name: 'query Fail', status: { code: SpanStatusCode.ERROR } });
  });

  it("in a batch, an operation's own slot wins over the request's headers; one without falls back to them", async () => {
    const [header, own] = [caller(), caller()];
    const yoga = createYoga({ schema, plugins: [useTraceContext()], logging: false, batching: true });
    const results = await post(
      yoga as never,
      [{ query: 'query A { hello }' }, { query: 'query B { hello }', extensions: { traceContext: own } }],
      { traceparent: header.traceparent },
    );
    expect(results).toEqual([{ data: { hello: 'hi' } }, { data: { hello: 'hi' } }]);
    const byName = Object.fromEntries(serverSpans().map((span) => [span.name, span.parentSpanContext?.spanId]));
    expect(byName).toEqual({ 'query A': header.spanId, 'query B': own.spanId });
  });

  it('an SSE subscription sends a traceresponse with each event; cancelling the stream ends the span', async () => {
    const yoga = yogaWith({ traceResponse: true });
    const response = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription Forever { forever }' }),
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('"forever":1')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    await expect.poll(() => serverSpans().length).toBe(1);
    const span = onlyServerSpan();
    const events = [...text.matchAll(/^data: (.+)$/gm)].map((match) => JSON.parse(match[1] as string));
    expect(events.slice(0, 2)).toEqual(
      [0, 1].map((i) => ({
        data: { forever: i },
        extensions: { traceresponse: formatTraceResponse(span.spanContext()) },
      })),
    );
    expect(shapeOf(span)).toMatchObject({ name: 'subscription Forever', status: { code: SpanStatusCode.UNSET } });
  });
});

describe('Apollo Server plugin via executeOperation', () => {
  /** The `http` part of a request, as Apollo's HTTP integrations give it. */
  const http = (headers: Record<string, string> = {}) => ({
    method: 'POST',
    headers: new HeaderMap(Object.entries(headers)),
    search: '',
    body: {},
  });

  /** Runs `fn` on a started server with the plugin's `options`, and stops it whether `fn` passed or threw. */
  async function withApollo(options: TraceContextPluginOptions, fn: (server: ApolloServer) => Promise<void>) {
    const server = new ApolloServer({ schema, plugins: [traceContextPlugin(options)] });
    await server.start();
    try {
      await fn(server);
    } finally {
      await server.stop();
    }
  }

  async function run(server: ApolloServer, request: Record<string, unknown>) {
    const response = await server.executeOperation(request as any);
    return (response.body as any).singleResult;
  }

  it("runs an operation under the extensions' carrier, before the headers, and sends its traceresponse", async () => {
    const from = caller();
    const other = caller();
    await withApollo({ traceResponse: true }, async (server) => {
      const result = await run(server, {
        query: 'query Seen { seen }',
        extensions: { traceContext: { traceparent: from.traceparent } },
        http: http({ traceparent: other.traceparent }),
      });
      expectSeenContinued(result, from);
    });
  });

  it("falls back to the http part's traceparent header", async () => {
    const from = caller();
    await withApollo({}, async (server) => {
      expect(await run(server, { query: '{ hello }', http: http({ traceparent: from.traceparent }) })).toEqual({
        data: { hello: 'hi' },
      });
      expect(shapeOf(onlyServerSpan())).toMatchObject({
        name: 'query',
        traceId: from.traceId,
        parentSpanId: from.spanId,
      });
    });
  });

  it('without an http part the call is in-process: a child of the active span, whatever the extensions say', async () => {
    await withApollo({}, async (server) => {
      const from = caller();
      const local = tracer.startSpan('local');
      await context.with(trace.setSpan(context.active(), local), () =>
        run(server, { query: '{ hello }', extensions: { traceContext: { traceparent: from.traceparent } } }),
      );
      local.end();
      expect(shapeOf(onlyServerSpan())).toMatchObject({
        traceId: local.spanContext().traceId,
        parentSpanId: local.spanContext().spanId,
      });
    });
  });

  it('resolver, parse and validation errors fail the span with their error type', async () => {
    await withApollo({}, async (server) => {
      await run(server, { query: 'query Fail { fail }', http: http() });
      await run(server, { query: '{ hello', http: http() });
      await run(server, { query: 'query Missing { missing }', http: http() });
      expect(serverSpans().map(shapeOf)).toMatchObject([
        {
          name: 'query Fail',
          attributes: { 'error.type': 'TeapotError' },
          status: { code: SpanStatusCode.ERROR, message: 'short and stout' },
          events: ['exception'],
        },
        { name: 'GraphQL Operation', attributes: { 'error.type': 'GRAPHQL_PARSE_FAILED' }, status: { code: 2 } },
        {
          name: 'query Missing',
          attributes: { 'error.type': 'GRAPHQL_VALIDATION_FAILED' },
          status: { code: SpanStatusCode.ERROR },
        },
      ]);
    });
  });

  it('malformed carriers, non-object extensions and throwing hooks never reach the operation', async () => {
    await withApollo({ requestHook: throwing, responseHook: throwing, spanName: throwing }, async (server) => {
      for (const extensions of [{ traceContext: { traceparent: 'garbage' } }, { traceContext: 7 }, 'nope', null]) {
        expect(await run(server, { query: 'query Hello { hello }', extensions, http: http() })).toEqual({
          data: { hello: 'hi' },
        });
      }
      const spans = serverSpans();
      expect(spans.map((span) => [span.name, span.parentSpanContext])).toEqual(
        Array.from({ length: 4 }, () => ['query Hello', undefined]),
      );
    });
  });
});

describe('graphql-ws wrapper via makeServer and a fake socket', () => {
  // A test that fails before closing its socket must not leave a `forever` subscription running into the next.
  const stillOpen = new Set<() => Promise<void>>();
  afterEach(async () => {
    for (const close of [...stillOpen]) await close();
  });

  /** A socket as graphql-ws's server sees one: what it sent, and a way to deliver client messages. */
  function open(options: WithTraceContextOptions = {}, extra: unknown = {}) {
    const sent: any[] = [];
    let deliver: (data: string) => Promise<void> = async () => {};
    const closes: unknown[] = [];
    const server = makeServer(withTraceContext({ schema }, options));
    const closedByServer = server.opened(
      {
        protocol: 'graphql-transport-ws',
        send: (data) => void sent.push(JSON.parse(data)),
        close: (code, reason) => void closes.push([code, reason]),
        onMessage: (cb) => {
          deliver = cb;
        },
      },
      extra as never,
    );
    const closeNormally = () => closed(1000, 'bye');
    /** Closes the socket once (the test's own close, or the afterEach's for a test that did not get there). */
    const closed = async (code?: number, reason?: string) => {
      if (!stillOpen.delete(closeNormally)) return;
      await closedByServer(code, reason);
    };
    stillOpen.add(closeNormally);
    const send = (message: unknown) => deliver(JSON.stringify(message));
    return { sent, closes, closed, send };
  }

  it("runs a subscription under the connection's carrier; each event carries its traceresponse", async () => {
    const from = caller();
    const socket = open({ traceResponse: true });
    await socket.send({ type: 'connection_init', payload: { traceContext: { traceparent: from.traceparent } } });
    await socket.send({ type: 'subscribe', id: '1', payload: { query: 'subscription Ticks { ticks(count: 2) }' } });
    const span = onlyServerSpan();
    expectContinued(span, from, 'subscription', 'Ticks');
    const traceresponse = formatTraceResponse(span.spanContext());
    expect(socket.sent).toEqual([
      { type: 'connection_ack' },
      { id: '1', type: 'next', payload: { data: { ticks: 0 }, extensions: { traceresponse } } },
      { id: '1', type: 'next', payload: { data: { ticks: 1 }, extensions: { traceresponse } } },
      { id: '1', type: 'complete' },
    ]);
    await socket.closed(1000, 'bye');
  });

  it("an operation's own extensions come before the upgrade headers and the connection's carrier", async () => {
    const [own, header, connection] = [caller(), caller(), caller()];
    const socket = open({}, { request: { headers: { traceparent: header.traceparent } } });
    await socket.send({ type: 'connection_init', payload: { traceparent: connection.traceparent } });
    const query = 'query Seen { seen }';
    await socket.send({ type: 'subscribe', id: 'a', payload: { query, extensions: { traceContext: own } } });
    await socket.send({ type: 'subscribe', id: 'b', payload: { query } });
    const [a, b] = serverSpans().map(shapeOf);
    expect([a?.parentSpanId, b?.parentSpanId]).toEqual([own.spanId, header.spanId]);
    // An operation's own slot is authoritative on a shared connection, even when malformed.
    await socket.send({ type: 'subscribe', id: 'c', payload: { query, extensions: { traceContext: 'bad' } } });
    expect(serverSpans()[2]?.parentSpanContext).toBeUndefined();
    await socket.closed(1000, 'bye');
  });

  it('the client completing a subscription ends its span; a resolver error fails a query', async () => {
    const socket = open();
    await socket.send({ type: 'connection_init' });
    const running = socket.send({ type: 'subscribe', id: 's', payload: { query: 'subscription { forever }' } });
    await expect.poll(() => socket.sent.length).toBeGreaterThan(2);
    await socket.send({ type: 'complete', id: 's' });
    await running;
    await socket.send({ type: 'subscribe', id: 'q', payload: { query: 'query Fail { fail }' } });
    expect(serverSpans().map(shapeOf)).toMatchObject([
      { name: 'subscription', status: { code: SpanStatusCode.UNSET } },
      { name: 'query Fail', attributes: { 'error.type': 'TeapotError' }, status: { code: SpanStatusCode.ERROR } },
    ]);
    await socket.closed(1000, 'bye');
  });

  it('a socket closed under a running subscription ends its span', async () => {
    const socket = open();
    await socket.send({ type: 'connection_init' });
    void socket.send({ type: 'subscribe', id: 's', payload: { query: 'subscription Forever { forever }' } });
    await expect.poll(() => socket.sent.length).toBeGreaterThan(1);
    await socket.closed(1001, 'going away');
    await expect.poll(() => serverSpans().length).toBe(1);
    expect(shapeOf(onlyServerSpan())).toMatchObject({ name: 'subscription Forever' });
  });

  it('throwing hooks and malformed carriers never reach graphql-ws', async () => {
    const socket = open({ requestHook: throwing, responseHook: throwing, spanName: throwing, isError: throwing });
    await socket.send({ type: 'connection_init', payload: { traceContext: { traceparent: '00-bad' } } });
    await socket.send({
      type: 'subscribe',
      id: '1',
      payload: { query: '{ hello }', extensions: { traceContext: 'not an object' } },
    });
    expect(socket.sent.slice(1)).toEqual([
      { id: '1', type: 'next', payload: { data: { hello: 'hi' } } },
      { id: '1', type: 'complete' },
    ]);
    expect(shapeOf(onlyServerSpan())).toMatchObject({ name: 'query', parentSpanId: undefined });
    await socket.closed(1000, 'bye');
  });
});
