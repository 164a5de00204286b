import { setTimeout as sleep } from 'node:timers/promises';
import { propagation, type Span, SpanKind } from '@opentelemetry/api';
import { createTRPCClient, createWSClient, httpBatchLink, wsLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { getContext } from '../src/index.js';
import { URL_PARAM } from '../src/trpc/url-param.js';
import { BATCH_HEADER, traceContextEncoder, traceContextHeaders, traceContextLink } from '../src/trpc.js';
import { asCaller, traceEveryTest } from './support/trpc-calls.js';
import { listenOnLoopback } from './support/trpc-servers.js';
import { type AppRouter, makeRouter, type Seen, type Servers, startServers } from './trpc-harness.js';

// Every span a call started has ended, whatever its carrier.
const otel = traceEveryTest();
/** Middleware with spans off: a procedure sees exactly the caller's span, or none. */
let plain: Servers;

beforeAll(async () => {
  plain = await startServers(makeRouter({ spans: false }));
});
afterAll(async () => {
  await plain.close();
});

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const SPAN_A = 'b7ad6b7169203331';
const TP_A = `00-${TRACE_A}-${SPAN_A}-01`;
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_B = '00f067aa0ba902b7';
const TP_B = `00-${TRACE_B}-${SPAN_B}-01`;

/** A raw batch of `a.q` calls over GET, as httpBatchLink would send it. */
async function rawBatch(url: string, count: number, headers: Record<string, string>): Promise<Seen[]> {
  const paths = Array.from({ length: count }, () => 'a.q').join(',');
  const input = Object.fromEntries(Array.from({ length: count }, (_, i) => [i, { i }]));
  const response = await fetch(`${url}/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers,
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { result: { data: Seen } }[];
  return body.map((item) => item.result.data);
}

describe('bad per-operation carriers over HTTP', () => {
  // A header that cannot be read as a list gives no operation a slot: each falls back to the request's
  // standard headers. A readable list is authoritative per entry: an entry that is malformed, empty or
  // missing means "no context" for its operation, never another operation's (`null` is what older clients
  // sent for "as the standard headers").
  const A = [TRACE_A, SPAN_A] as const;
  const NONE = ['', ''] as const;
  const cases: [string, string, (readonly [string, string])[]][] = [
    ['malformed JSON', '[{"traceparent":', [A, A]],
    ['not JSON at all', 'hello', [A, A]],
    ['not a list', JSON.stringify({ 0: { traceparent: TP_B }, 1: { traceparent: TP_B } }), [A, A]],
    ['oversized', JSON.stringify([null, { traceparent: TP_B, pad: 'x'.repeat(9000) }]), [A, A]],
    ['shorter than the batch', JSON.stringify([null]), [A, NONE]],
    ['longer than the batch (forged indices)', JSON.stringify([null, null, { traceparent: TP_B }]), [A, A]],
    ['entries of the wrong type', JSON.stringify([5, 'x']), [NONE, NONE]],
    ['invalid traceparent', JSON.stringify([null, { traceparent: '00-zz-zz-01' }]), [A, NONE]],
    ['all-zero ids', JSON.stringify([null, { traceparent: `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01` }]), [A, NONE]],
    ['prototype keys', '[null, {"__proto__": {"traceparent": "x"}, "constructor": "y"}]', [A, NONE]],
  ];
  it.each(cases)(
    '%s: every call succeeds, in its own slot or else the request-level context',
    async (_name, header, expected) => {
      for (const url of [plain.standaloneUrl, plain.fetchUrl]) {
        const results = await rawBatch(url, 2, { traceparent: TP_A, [BATCH_HEADER]: header });
        expect(results.map((r) => [r.traceId, r.spanId])).toEqual(expected);
      }
    },
  );

  it('a valid list gives each call its own carrier', async () => {
    const results = await rawBatch(plain.standaloneUrl, 2, {
      traceparent: TP_A,
      [BATCH_HEADER]: JSON.stringify([null, { traceparent: TP_B }]),
    });
    expect(results.map((r) => r.spanId)).toEqual([SPAN_A, SPAN_B]);
  });

  it('huge baggage is ignored, and nothing leaks into the next request', async () => {
    const huge = Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join(',');
    const [first] = await rawBatch(plain.standaloneUrl, 1, { traceparent: TP_A, baggage: huge });
    expect(first?.traceId).toBe(TRACE_A);
    expect(first?.baggage).toBeUndefined();
    for (const url of [plain.standaloneUrl, plain.fetchUrl]) {
      const next = await rawBatch(url, 2, {});
      expect(next.map((r) => r.traceId)).toEqual(['', '']);
      expect(next.map((r) => r.baggage)).toEqual([undefined, undefined]);
    }
  });
});

describe('the subscription URL slot', () => {
  async function single(param: string | undefined): Promise<Seen> {
    const query = `input=${encodeURIComponent(JSON.stringify({ i: 0 }))}`;
    const extra = param === undefined ? '' : `&${URL_PARAM}=${encodeURIComponent(param)}`;
    const response = await fetch(`${plain.standaloneUrl}/a.q?${query}${extra}`, { headers: { traceparent: TP_A } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { result: { data: Seen } }).result.data;
  }
  it('comes before the headers', async () => {
    expect((await single(JSON.stringify({ traceparent: TP_B }))).spanId).toBe(SPAN_B);
  });
  it.each([
    ['malformed JSON', '{"traceparent":'],
    ['not an object', '"x"'],
    ['invalid traceparent', JSON.stringify({ traceparent: 'nope' })],
    ['oversized', JSON.stringify({ traceparent: TP_B, pad: 'x'.repeat(9000) })],
  ])('%s falls back to the headers', async (_name, param) => {
    expect((await single(param)).spanId).toBe(SPAN_A);
  });
});

describe('bad per-operation carriers over WebSocket', () => {
  async function rawSocket(): Promise<{ send: (frame: unknown) => Promise<unknown[]>; close: () => void }> {
    const socket = new WebSocket(plain.wsUrl);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const replies: Record<string, unknown>[] = [];
    socket.on('message', (data) => replies.push(JSON.parse(String(data))));
    return {
      async send(frame) {
        const ids = (Array.isArray(frame) ? frame : [frame]).map((message) => (message as { id: unknown }).id);
        socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
        while (!ids.every((id) => replies.some((reply) => reply.id === id))) await sleep(5);
        return ids.map((id) => replies.find((reply) => reply.id === id));
      },
      close: () => socket.close(),
    };
  }
  const query = (id: number, traceContext?: unknown) => ({
    id,
    method: 'query',
    params: { path: 'a.q', input: { i: id } },
    ...(traceContext === undefined ? {} : { traceContext }),
  });
  const dataOf = (reply: unknown) => (reply as { result?: { data?: Seen } }).result?.data;

  it('every call succeeds; good carriers apply to their own message only; nothing leaks', async () => {
    const socket = await rawSocket();
    try {
      const replies = await socket.send([
        query(1, 'not an object'),
        query(2, { traceparent: TP_B }),
        query(3, [1, 2, 3]),
        query(4, { traceparent: 'x'.repeat(100_000) }),
        query(5, { __proto__: { traceparent: TP_B } }),
        query(6, null),
        query(7, { traceparent: TP_A, baggage: Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join(',') }),
      ]);
      const traces = replies.map((reply) => dataOf(reply)?.traceId);
      expect(traces).toEqual(['', TRACE_B, '', '', '', '', TRACE_A]);
      expect(dataOf(replies[6])?.baggage).toBeUndefined();
      const [later] = await socket.send([query(8)]);
      expect(dataOf(later)?.traceId).toBe('');
      const [single] = await socket.send(query(9, { traceparent: TP_A }));
      expect(dataOf(single)?.spanId).toBe(SPAN_A);
    } finally {
      socket.close();
    }
  });
});

describe('trust policy', () => {
  async function callWith(server: Servers) {
    const client = createTRPCClient<AppRouter>({
      links: [
        traceContextLink({ spans: false }),
        httpBatchLink({ url: server.standaloneUrl, headers: traceContextHeaders }),
      ],
    });
    const baggage = propagation.createBaggage({ k: { value: 'from-caller' } });
    let caller: Span | undefined;
    const { context } = await import('@opentelemetry/api');
    const result = await context.with(propagation.setBaggage(context.active(), baggage), () =>
      otel.tracer.startActiveSpan('caller', (span) => {
        caller = span;
        const promise = Promise.all([client.a.q.query({ i: 0 }), client.b.q.query({ i: 1 })]);
        span.end();
        return promise;
      }),
    );
    return { caller: caller!.spanContext(), result };
  }

  it("'continue' (default) parents on the caller and passes baggage on", async () => {
    const server = await startServers(makeRouter({ spans: false }));
    try {
      const { caller, result } = await callWith(server);
      for (const seen of result) {
        expect(seen.spanId).toBe(caller.spanId);
        expect(seen.baggage).toBe('from-caller');
      }
    } finally {
      await server.close();
    }
  });

  it("'link' starts a new trace linked to the caller, without its baggage", async () => {
    const server = await startServers(makeRouter({ incoming: 'link' }));
    try {
      const { caller, result } = await callWith(server);
      const spans = otel.exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
      expect(spans).toHaveLength(2);
      for (const seen of result) {
        // Each procedure ran in its own SERVER span, in a trace of its own (not the caller's).
        const own = spans.find((span) => span.spanContext().spanId === seen.spanId);
        expect(seen.traceId).toBe(own?.spanContext().traceId);
        expect(seen.traceId).not.toBe(caller.traceId);
        expect(seen.baggage).toBeUndefined();
      }
      expect(new Set(result.map((seen) => seen.traceId)).size).toBe(2);
      for (const span of spans) {
        expect(span.parentSpanContext).toBeUndefined();
        expect(span.links.map((link) => link.context.spanId)).toEqual([caller.spanId]);
      }
    } finally {
      await server.close();
    }
  });

  it("'ignore' uses the server's own context", async () => {
    const server = await startServers(makeRouter({ incoming: 'ignore', spans: false }));
    try {
      const { result } = await callWith(server);
      for (const seen of result) {
        expect(seen.traceId).toBe('');
        expect(seen.baggage).toBeUndefined();
      }
    } finally {
      await server.close();
    }
  });

  it('a function decides per call, and a throwing one means link', async () => {
    const server = await startServers(
      makeRouter({
        spans: false,
        incoming: ({ path }) => {
          if (path === 'b.q') throw new Error('boom');
          return 'continue';
        },
      }),
    );
    try {
      const { caller, result } = await callWith(server);
      expect(result[0]?.spanId).toBe(caller.spanId);
      expect(result[1]?.traceId).not.toBe(caller.traceId);
      // 'link' with spans: false: no span to carry the link, so the procedure runs in no trace at all.
      expect(result[1]?.traceId).toBe('');
      expect(result[1]?.baggage).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe('server details', () => {
  it('nested createCaller calls run as children of the outer procedure, not the remote caller', async () => {
    const server = await startServers(makeRouter());
    try {
      const client = createTRPCClient<AppRouter>({
        links: [traceContextLink(), httpBatchLink({ url: server.standaloneUrl, headers: traceContextHeaders })],
      });
      const {
        value: { outer, inner },
      } = await asCaller(otel.tracer, () => client.nested.query({ i: 1 }));
      const inSpan = otel.exporter.getFinishedSpans().find((span) => span.spanContext().spanId === inner.spanId);
      expect(inner.traceId).toBe(outer.traceId);
      expect(inSpan?.parentSpanContext?.spanId).toBe(outer.spanId);
    } finally {
      await server.close();
    }
  });

  it('finds the request through getRequest for other context shapes', async () => {
    const { initTRPC } = await import('@trpc/server');
    const { createHTTPServer } = await import('@trpc/server/adapters/standalone');
    const { traceContextMiddleware } = await import('../src/trpc.js');
    const { seen } = await import('./trpc-harness.js');
    const t = initTRPC.context<{ nested: { incoming: Headers } }>().create();
    const procedure = t.procedure.use(
      traceContextMiddleware({
        spans: false,
        getRequest: (ctx) => ({ headers: (ctx as typeof t._config.$types.ctx).nested.incoming }),
      }),
    );
    const router = t.router({ who: procedure.query(() => seen(0)) });
    const server = await listenOnLoopback(
      createHTTPServer({
        router,
        createContext: ({ req }) => ({ nested: { incoming: new Headers(req.headers as Record<string, string>) } }),
      }),
    );
    try {
      const response = await fetch(`${server.url}/who`, { headers: { traceparent: TP_A } });
      const body = (await response.json()) as { result: { data: Seen } };
      expect(body.result.data.spanId).toBe(SPAN_A);
    } finally {
      await server.close();
    }
  });

  it('without batchIndex (tRPC < 11.10) finds the batch call through info.calls', async () => {
    const { context, trace } = await import('@opentelemetry/api');
    const { traceContextMiddleware } = await import('../src/trpc.js');
    const middleware = traceContextMiddleware({ spans: false });
    const calls = [{ getRawInput: async () => ({ i: 0 }) }, { getRawInput: async () => ({ i: 1 }) }];
    const headers = { traceparent: TP_A, [BATCH_HEADER]: JSON.stringify([null, { traceparent: TP_B }]) };
    const spanIds: (string | undefined)[] = [];
    for (const call of calls) {
      await middleware({
        ctx: { headers, info: { calls } },
        path: 'a.q',
        type: 'query',
        getRawInput: call.getRawInput,
        // Adapters always pass a signal; createCaller without one is an in-process call.
        signal: new AbortController().signal,
        next: async () => {
          await sleep(1);
          spanIds.push(trace.getSpanContext(context.active())?.spanId);
          return { ok: true, data: null };
        },
      });
    }
    expect(spanIds).toEqual([SPAN_A, SPAN_B]);
  });
  it('with spans: false, what next gives (result, failed result, rejection, throw) reaches tRPC unchanged', async () => {
    const { traceContextMiddleware } = await import('../src/trpc.js');
    const middleware = traceContextMiddleware({ spans: false });
    const call = (next: () => Promise<unknown>) => ({
      ctx: { headers: { traceparent: TP_A } },
      path: 'a.q',
      type: 'query' as const,
      getRawInput: async () => null,
      signal: new AbortController().signal,
      next,
    });
    const ok = { ok: true, data: 1 };
    const failed = { ok: false, error: new Error('failed result') };
    const rejected = new Error('rejected');
    const thrown = new Error('thrown');
    await expect(middleware(call(async () => ok))).resolves.toBe(ok);
    await expect(middleware(call(async () => failed))).resolves.toBe(failed);
    await expect(middleware(call(() => Promise.reject(rejected)))).rejects.toBe(rejected);
    await expect(
      middleware(
        call(() => {
          throw thrown;
        }),
      ),
    ).rejects.toBe(thrown);
  });

  it("with spans: false, a subscription's events still run in its caller's context", async () => {
    const { context, ROOT_CONTEXT, trace } = await import('@opentelemetry/api');
    const { traceContextMiddleware } = await import('../src/trpc.js');
    const middleware = traceContextMiddleware({ spans: false });
    async function* events() {
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        yield trace.getSpanContext(context.active())?.spanId;
      }
    }
    const outcome = (await middleware({
      ctx: { headers: { traceparent: TP_A } },
      path: 'a.s',
      type: 'subscription',
      getRawInput: async () => null,
      signal: new AbortController().signal,
      next: async () => ({ ok: true, data: events() }),
    })) as { ok: true; data: AsyncIterable<string | undefined> };
    const seen: (string | undefined)[] = [];
    // The adapter pulls the events later, outside the middleware's context.
    await context.with(ROOT_CONTEXT, async () => {
      for await (const spanId of outcome.data) seen.push(spanId);
    });
    expect(seen).toEqual([SPAN_A, SPAN_A, SPAN_A]);
  });
});

describe('WebSocket fallbacks', () => {
  it('without the server encoder, procedures fall back to the connection (connectionParams)', async () => {
    const server = await startServers(makeRouter({ spans: false }), { encoder: false });
    const { context } = await import('@opentelemetry/api');
    const { caller, client } = otel.tracer.startActiveSpan('connection opener', (span) => {
      const params = getContext();
      span.end();
      return {
        caller: span.spanContext(),
        client: createWSClient({
          url: server.wsUrl,
          experimental_encoder: traceContextEncoder(),
          connectionParams: () => params,
        }),
      };
    });
    const trpc = createTRPCClient<AppRouter>({ links: [traceContextLink({ spans: false }), wsLink({ client })] });
    try {
      const result = await context.with(context.active(), () => trpc.a.q.query({ i: 1 }));
      expect(result.spanId).toBe(caller.spanId);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
