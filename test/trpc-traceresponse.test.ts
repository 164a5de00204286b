// Issue #13's "trace id back to the caller" for tRPC: traceContextMiddleware({ traceResponse: true }) with
// traceResponseMeta as the adapter's responseMeta sends each call's SERVER span context back (`traceresponse` on a
// single operation, `x-trpc-trace-response` on a batch), and traceContextLink links each CLIENT span to it. Real
// standalone and fetch-adapter servers and a real tRPC client over loopback.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  type TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { type CreateHTTPContextOptions, createHTTPServer } from '@trpc/server/adapters/standalone';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatTraceResponse, parseTraceResponse } from '../src/core/traceresponse.js';
import {
  ATTR_TRPC_TRACERESPONSE,
  BATCH_RESPONSE_HEADER,
  TRACE_RESPONSE_HEADER,
  type TraceContextMiddlewareOptions,
  traceContextHeaders,
  traceContextLink,
  traceContextMiddleware,
  traceResponseMeta,
} from '../src/trpc.js';
import { oneSpan, asCaller as runAsCaller, spansNamed, traceEveryTest } from './support/trpc-calls.js';
import { fetchAdapterHandler, listenOnLoopback } from './support/trpc-servers.js';

// Every span a call started has ended (a failed call, a hostile response included).
const otel = traceEveryTest();

type Ctx = { req: unknown; info: unknown };

function makeRouter(options: TraceContextMiddlewareOptions) {
  const t = initTRPC.context<Ctx>().create();
  const procedure = t.procedure.use(traceContextMiddleware(options));
  return t.router({
    echo: procedure.input(z.object({ i: z.number(), delay: z.number().optional() })).query(async ({ input }) => {
      await sleep(input.delay ?? 1);
      return { i: input.i, spanId: trace.getSpanContext(context.active())?.spanId ?? '' };
    }),
    save: procedure.input(z.object({ i: z.number() })).mutation(({ input }) => input.i),
    missing: procedure.query(() => {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'nothing here' });
    }),
  });
}
type Router = ReturnType<typeof makeRouter>;
type Adapter = 'standalone' | 'fetch';

// Every server a test opens is closed when that test ends, whether it passed or not.
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Listens on loopback, the server closed after the test. */
async function listen(server: http.Server): Promise<string> {
  const { url, close } = await listenOnLoopback(server);
  closers.push(close);
  return url;
}

/** A tRPC server on loopback through `adapter`, with `traceResponseMeta` as its `responseMeta` unless told not to. */
async function serve(adapter: Adapter, options: TraceContextMiddlewareOptions, meta = true): Promise<string> {
  const router = makeRouter(options);
  const responseMeta = meta ? traceResponseMeta : undefined;
  if (adapter === 'standalone') {
    return listen(
      createHTTPServer({
        router,
        responseMeta,
        createContext: ({ req, info }: CreateHTTPContextOptions): Ctx => ({ req, info }),
      }),
    );
  }
  return listen(
    http.createServer(
      fetchAdapterHandler((req) =>
        fetchRequestHandler({
          endpoint: '',
          req,
          router,
          responseMeta,
          createContext: ({ req, info }): Ctx => ({ req, info }),
        }),
      ),
    ),
  );
}

type Terminating = 'httpLink' | 'httpBatchLink' | 'httpBatchStreamLink';

function client(url: string, terminating: Terminating = 'httpLink') {
  const options = { url, headers: traceContextHeaders };
  const last: TRPCLink<Router> =
    terminating === 'httpLink'
      ? httpLink(options)
      : terminating === 'httpBatchLink'
        ? httpBatchLink(options)
        : httpBatchStreamLink(options);
  return createTRPCClient<Router>({ links: [traceContextLink(), last] });
}

/** Runs `fn` under a fresh caller span in an otherwise empty context; its value. */
const asCaller = async <T>(fn: () => Promise<T>): Promise<T> => (await runAsCaller(otel.tracer, fn)).value;
const spans = (name: string, kind: SpanKind) => spansNamed(otel.exporter, name, kind);
const one = (name: string, kind: SpanKind) => oneSpan(otel.exporter, name, kind);

/** The span contexts a span links to, as `traceresponse` strings. */
const linkedTo = (span: ReadableSpan) => span.links.map((link) => formatTraceResponse(link.context));

/** A raw single-operation GET, as `httpLink` sends it. */
function rawQuery(url: string, path: string, input: unknown): Promise<Response> {
  return fetch(`${url}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`);
}

describe('parseTraceResponse / formatTraceResponse', () => {
  it('round-trips a valid value and rejects anything not strictly version 00, lowercase hex, right lengths, non-zero ids', () => {
    const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(parseTraceResponse(value)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    expect(formatTraceResponse(parseTraceResponse(value))).toBe(value);
    for (const bad of [
      '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331',
      ` 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01`,
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01',
      '',
      null,
      42,
      { traceId: 'x' },
    ]) {
      expect(parseTraceResponse(bad), String(bad)).toBeUndefined();
    }
    expect(formatTraceResponse(undefined)).toBeUndefined();
    expect(
      formatTraceResponse(
        trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }).spanContext(),
      ),
    ).toBeUndefined();
  });
});

describe('off by default', () => {
  it.each<Adapter>(['standalone', 'fetch'])(
    '%s: without traceResponse the middleware records nothing, so responseMeta sends no header and the CLIENT span has no link',
    async (adapter) => {
      const url = await serve(adapter, { incoming: 'link' });
      const raw = await rawQuery(url, 'echo', { i: 0 });
      expect(raw.status).toBe(200);
      expect(raw.headers.get(TRACE_RESPONSE_HEADER)).toBeNull();
      expect(raw.headers.get(BATCH_RESPONSE_HEADER)).toBeNull();
      otel.exporter.reset();

      const trpc = client(url, 'httpBatchLink');
      await asCaller(() => Promise.all([trpc.echo.query({ i: 1 }), trpc.echo.query({ i: 2 })]));
      const clientSpans = spans('echo', SpanKind.CLIENT);
      expect(clientSpans).toHaveLength(2);
      for (const span of clientSpans) expect(span.links).toEqual([]);
      // incoming 'link': each SERVER span still links to its caller, as before.
      expect(spans('echo', SpanKind.SERVER)).toHaveLength(2);
      for (const span of spans('echo', SpanKind.SERVER)) expect(span.links).toHaveLength(1);
    },
  );
});

describe('single operation', () => {
  it.each<Adapter>(['standalone', 'fetch'])(
    "%s: with incoming 'link', traceresponse is the SERVER span's own context and the CLIENT span links to it",
    async (adapter) => {
      const url = await serve(adapter, { incoming: 'link', traceResponse: true });
      const raw = await rawQuery(url, 'echo', { i: 0 });
      const rawServer = one('echo', SpanKind.SERVER);
      expect(raw.headers.get(TRACE_RESPONSE_HEADER)).toBe(formatTraceResponse(rawServer.spanContext()));
      expect(raw.headers.get(TRACE_RESPONSE_HEADER)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      // Not a batch: no batch header.
      expect(raw.headers.get(BATCH_RESPONSE_HEADER)).toBeNull();
      otel.exporter.reset();

      const trpc = client(url);
      const value = await asCaller(() => trpc.echo.query({ i: 1 }));
      const clientSpan = one('echo', SpanKind.CLIENT);
      const serverSpan = one('echo', SpanKind.SERVER);
      expect(value.spanId).toBe(serverSpan.spanContext().spanId);
      // Two traces, linked both ways: SERVER -> CLIENT (incoming 'link'), CLIENT -> SERVER (traceresponse).
      expect(serverSpan.spanContext().traceId).not.toBe(clientSpan.spanContext().traceId);
      expect(linkedTo(serverSpan)).toEqual([formatTraceResponse(clientSpan.spanContext())]);
      expect(linkedTo(clientSpan)).toEqual([formatTraceResponse(serverSpan.spanContext())]);
      expect(clientSpan.links[0]?.context.isRemote).toBe(true);

      // A mutation (POST) and a failed call (the link is on the error path too).
      otel.exporter.reset();
      await asCaller(() => trpc.save.mutate({ i: 2 }));
      expect(linkedTo(one('save', SpanKind.CLIENT))).toEqual([
        formatTraceResponse(one('save', SpanKind.SERVER).spanContext()),
      ]);
      otel.exporter.reset();
      const error = await asCaller(() => trpc.missing.query().catch((caught: TRPCClientError<Router>) => caught));
      expect(error.data?.code).toBe('NOT_FOUND');
      const failedClient = one('missing', SpanKind.CLIENT);
      expect(failedClient.attributes['error.type']).toBe('NOT_FOUND');
      expect(linkedTo(failedClient)).toEqual([formatTraceResponse(one('missing', SpanKind.SERVER).spanContext())]);
    },
  );
});

describe('without Span.addLink (@opentelemetry/api < 1.9)', () => {
  it('records the value as trpc.traceresponse instead', async () => {
    const url = await serve('standalone', { incoming: 'link', traceResponse: true });
    const real = otel.tracer;
    // Spans as an older API shapes them: no addLink.
    const tracer = {
      startSpan: (...args: Parameters<Tracer['startSpan']>) => {
        const span = real.startSpan(...args);
        Object.defineProperty(span, 'addLink', { value: undefined });
        return span;
      },
      startActiveSpan: real.startActiveSpan.bind(real),
    } as Tracer;
    const trpc = createTRPCClient<Router>({
      links: [traceContextLink({ tracer }), httpLink({ url, headers: traceContextHeaders })],
    });
    await asCaller(() => trpc.echo.query({ i: 0 }));
    const clientSpan = one('echo', SpanKind.CLIENT);
    expect(clientSpan.links).toEqual([]);
    expect(clientSpan.attributes[ATTR_TRPC_TRACERESPONSE]).toBe(
      formatTraceResponse(one('echo', SpanKind.SERVER).spanContext()),
    );
  });
});

describe('batches', () => {
  it.each<[Adapter, Terminating]>([
    ['standalone', 'httpBatchLink'],
    ['fetch', 'httpBatchLink'],
    ['standalone', 'httpBatchStreamLink'],
    ['fetch', 'httpBatchStreamLink'],
  ])('%s, %s: each of 3 CLIENT spans links to its own SERVER span through its slot', async (adapter, terminating) => {
    const url = await serve(adapter, { incoming: 'link', traceResponse: true });
    const trpc = client(url, terminating);
    // Different delays: the SERVER spans finish out of order.
    const values = await asCaller(() =>
      Promise.all([
        trpc.echo.query({ i: 0, delay: 15 }),
        trpc.echo.query({ i: 1, delay: 1 }),
        trpc.echo.query({ i: 2, delay: 8 }),
      ]),
    );
    const clientSpans = spans('echo', SpanKind.CLIENT);
    const serverSpans = spans('echo', SpanKind.SERVER);
    expect(clientSpans).toHaveLength(3);
    expect(serverSpans).toHaveLength(3);
    const bySpanId = new Map(serverSpans.map((span) => [span.spanContext().spanId, span]));
    // Each CLIENT span is the one whose SERVER span links back to it (incoming 'link'); its own link must point
    // at that very SERVER span.
    for (const value of values) {
      const serverSpan = bySpanId.get(value.spanId) as ReadableSpan;
      const clientSpan = clientSpans.find(
        (span) => formatTraceResponse(span.spanContext()) === linkedTo(serverSpan)[0],
      ) as ReadableSpan;
      expect(clientSpan, `CLIENT span of call ${value.i}`).toBeDefined();
      expect(linkedTo(clientSpan)).toEqual([formatTraceResponse(serverSpan.spanContext())]);
    }
  });

  it('the batch header is a JSON array aligned with the batch; a call without a SERVER span has a null slot and no link', async () => {
    // spans predicate: no SERVER span for `save`.
    const url = await serve('standalone', {
      incoming: 'link',
      traceResponse: true,
      spans: ({ path }) => path !== 'save',
    });
    const get = await fetch(
      `${url}/echo,missing,echo?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { i: 0 }, 2: { i: 2 } }))}`,
    );
    const header = get.headers.get(BATCH_RESPONSE_HEADER);
    const list = JSON.parse(header ?? 'null') as (string | null)[];
    const echoes = spans('echo', SpanKind.SERVER);
    const body = (await get.json()) as { result?: { data: { i: number; spanId: string } } }[];
    const serverOf = (index: number) =>
      formatTraceResponse(
        echoes.find((span) => span.spanContext().spanId === body[index]?.result?.data.spanId)?.spanContext(),
      );
    expect(list).toEqual([
      serverOf(0),
      formatTraceResponse(one('missing', SpanKind.SERVER).spanContext()),
      serverOf(2),
    ]);
    // More than one operation: no single traceresponse.
    expect(get.headers.get(TRACE_RESPONSE_HEADER)).toBeNull();
    otel.exporter.reset();

    // Through the client: the operation without a SERVER span gets no link, its neighbours do.
    const trpc = client(url, 'httpBatchLink');
    await asCaller(() => Promise.all([trpc.save.mutate({ i: 0 }), trpc.save.mutate({ i: 1 })]));
    expect(spans('save', SpanKind.SERVER)).toEqual([]);
    expect(spans('save', SpanKind.CLIENT)).toHaveLength(2);
    for (const span of spans('save', SpanKind.CLIENT)) expect(span.links).toEqual([]);
    otel.exporter.reset();
    await asCaller(() => Promise.all([trpc.echo.query({ i: 0 }), trpc.save.mutate({ i: 1 })]));
    expect(spans('save', SpanKind.CLIENT)[0]?.links).toEqual([]);
    expect(linkedTo(one('echo', SpanKind.CLIENT))).toEqual([
      formatTraceResponse(one('echo', SpanKind.SERVER).spanContext()),
    ]);
  });

  it('a batch of one also gets the standard traceresponse header', async () => {
    const url = await serve('fetch', { incoming: 'link', traceResponse: true });
    const get = await fetch(`${url}/echo?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { i: 0 } }))}`);
    const expected = formatTraceResponse(one('echo', SpanKind.SERVER).spanContext());
    expect(get.headers.get(TRACE_RESPONSE_HEADER)).toBe(expected);
    expect(JSON.parse(get.headers.get(BATCH_RESPONSE_HEADER) ?? 'null')).toEqual([expected]);
  });
});

describe('spans: false', () => {
  it.each<Adapter>(['standalone', 'fetch'])('%s: no SERVER span, nothing sent, no link', async (adapter) => {
    const url = await serve(adapter, { incoming: 'link', traceResponse: true, spans: false });
    const raw = await rawQuery(url, 'echo', { i: 0 });
    expect(raw.status).toBe(200);
    expect(raw.headers.get(TRACE_RESPONSE_HEADER)).toBeNull();
    const batch = await fetch(
      `${url}/echo,echo?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { i: 0 }, 1: { i: 1 } }))}`,
    );
    expect(batch.status).toBe(200);
    expect(batch.headers.get(BATCH_RESPONSE_HEADER)).toBeNull();
    expect(batch.headers.get(TRACE_RESPONSE_HEADER)).toBeNull();
    expect(otel.exporter.getFinishedSpans()).toEqual([]);

    const trpc = client(url, 'httpBatchLink');
    await asCaller(() => Promise.all([trpc.echo.query({ i: 0 }), trpc.echo.query({ i: 1 })]));
    expect(spans('echo', SpanKind.SERVER)).toEqual([]);
    const clientSpans = spans('echo', SpanKind.CLIENT);
    expect(clientSpans).toHaveLength(2);
    for (const span of clientSpans) expect(span.links).toEqual([]);
  });
});

describe('hostile response headers', () => {
  /** A fake tRPC server that answers every call with `{ result: { data: 1 } }` and the given headers. */
  async function fakeServer(headers: Record<string, string>): Promise<string> {
    return listen(
      http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const paths = url.pathname.slice(1).split(',');
        const one = { result: { data: 1 } };
        const body = url.searchParams.get('batch') === '1' ? paths.map(() => one) : one;
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      }),
    );
  }

  const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const cases: [string, Record<string, string>][] = [
    ['uppercase hex', { traceresponse: valid.toUpperCase() }],
    ['version ff', { traceresponse: `ff${valid.slice(2)}` }],
    ['zero trace id', { traceresponse: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` }],
    ['trailing text', { traceresponse: `${valid}-00` }],
    ['batch header not JSON', { [BATCH_RESPONSE_HEADER]: '[00-' }],
    ['batch header an object', { [BATCH_RESPONSE_HEADER]: JSON.stringify({ 0: valid }) }],
    ['batch entries not strings', { [BATCH_RESPONSE_HEADER]: JSON.stringify([{ traceId: 1 }, 7, [valid]]) }],
    ['batch header of another length', { [BATCH_RESPONSE_HEADER]: JSON.stringify([valid, valid, valid, valid]) }],
    ['batch header too long', { [BATCH_RESPONSE_HEADER]: JSON.stringify(Array.from({ length: 200 }, () => valid)) }],
    ['batch entries malformed', { [BATCH_RESPONSE_HEADER]: JSON.stringify(['00-1-2-3', `${valid} `, null]) }],
  ];

  it.each(cases)('%s: no link, no throw, the results arrive', async (_name, headers) => {
    const url = await fakeServer(headers);
    const single = createTRPCClient<Router>({
      links: [traceContextLink(), httpLink({ url, headers: traceContextHeaders })],
    });
    const batched = client(url, 'httpBatchLink');
    await asCaller(async () => {
      expect(await single.save.mutate({ i: 0 })).toBe(1);
      expect(
        await Promise.all([
          batched.save.mutate({ i: 1 }),
          batched.save.mutate({ i: 2 }),
          batched.save.mutate({ i: 3 }),
        ]),
      ).toEqual([1, 1, 1]);
    });
    const clientSpans = spans('save', SpanKind.CLIENT);
    expect(clientSpans).toHaveLength(4);
    for (const span of clientSpans) expect(span.links).toEqual([]);
  });

  it('a well-formed value from a server the client does not know is used only where it is unambiguous', async () => {
    // A batch of three answered with one traceresponse: it cannot say which operation it belongs to.
    const url = await fakeServer({ traceresponse: valid });
    const batched = client(url, 'httpBatchLink');
    await asCaller(() => Promise.all([batched.save.mutate({ i: 1 }), batched.save.mutate({ i: 2 })]));
    expect(spans('save', SpanKind.CLIENT)).toHaveLength(2);
    for (const span of spans('save', SpanKind.CLIENT)) expect(span.links).toEqual([]);
    otel.exporter.reset();
    // Alone in its request: it is that operation's.
    const single = client(url);
    await asCaller(() => single.save.mutate({ i: 0 }));
    expect(linkedTo(one('save', SpanKind.CLIENT))).toEqual([valid]);
  });

  it('traceResponseMeta never throws on what it is given', () => {
    const hostile = {
      get info() {
        throw new Error('boom');
      },
    };
    for (const opts of [
      undefined,
      null,
      {},
      { info: 1 },
      { info: { calls: 'x' } },
      { info: { calls: [null, 1, { getRawInput: 'x' }] } },
      hostile,
    ]) {
      expect(traceResponseMeta(opts as never)).toEqual({ headers: {} });
    }
  });
});
