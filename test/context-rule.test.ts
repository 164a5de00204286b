// The shared rule for where an operation's context comes from, as the tRPC integration applies it: header
// shapes from real adapters and proxies, in-process callers, the batch header's size cap, trust deciders
// that misbehave, nameless procedures, and a provider registered late through another API copy.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  context,
  type DiagLogger,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTRPCClient, httpBatchLink, localLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ContextCarrier } from '../src/core/carrier.js';
import { getContext } from '../src/index.js';
import { encodeBatchHeader } from '../src/trpc/batch-header.js';
import {
  BATCH_HEADER,
  type TraceContextMiddlewareOptions,
  traceContextHeaders,
  traceContextLink,
  traceContextMiddleware,
} from '../src/trpc.js';
import { useTraceContext } from '../src/yoga.js';
import { expectNoOpenSpans, setupTracingWithOpenSpans } from './support/otel.js';

let otel: ReturnType<typeof setupTracingWithOpenSpans>;
beforeAll(() => {
  otel = setupTracingWithOpenSpans();
});
beforeEach(() => otel.exporter.reset());
// Every span an operation started has ended; the exporter is reset even if not.
afterEach(() => expectNoOpenSpans(otel));

const FOREIGN_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const FOREIGN = `00-${FOREIGN_TRACE}-00f067aa0ba902b7-01`;

function seen() {
  const span = trace.getSpanContext(context.active());
  return { traceId: span?.traceId ?? '', spanId: span?.spanId ?? '' };
}

type Ctx = { req?: Request; info?: unknown; headers?: unknown; event?: unknown };

function makeRouter(options: TraceContextMiddlewareOptions = {}) {
  const t = initTRPC.context<Ctx>().create();
  const procedure = t.procedure.use(traceContextMiddleware(options));
  const inner = t.router({ q: procedure.input((value) => value as { i: number }).query(() => seen()) });
  const createInner = t.createCallerFactory(inner);
  return t.router({
    q: procedure
      .input((value) => value as { i: number })
      .query(async () => {
        await sleep(1);
        return seen();
      }),
    nested: procedure.query(async ({ ctx }) => ({ outer: seen(), inner: await createInner(ctx).q({ i: 0 }) })),
  });
}

/** The parent span id of the SERVER span the procedure ran in. */
function parentOf(spanId: string): string | undefined {
  const span = otel.exporter.getFinishedSpans().find((item) => item.spanContext().spanId === spanId);
  return span?.parentSpanContext?.spanId;
}

describe('header shapes: each operation of a batch in its own caller trace', () => {
  // What proxies and adapters hand the middleware, built from the real request the tRPC client sent.
  const canonical = (name: string) =>
    name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  const entries = (req: Request) => [...req.headers.entries()];
  const shapes: Record<string, (req: Request) => unknown> = {
    'Fetch Headers': (req) => req.headers,
    'canonical case (X-Trpc-Trace-Context)': (req) =>
      Object.fromEntries(entries(req).map(([k, v]) => [canonical(k), v])),
    'rawHeaders case (X-TRPC-Trace-Context)': (req) =>
      Object.fromEntries(entries(req).map(([k, v]) => [k === BATCH_HEADER ? 'X-TRPC-Trace-Context' : k, v])),
    'headersDistinct (array values)': (req) => Object.fromEntries(entries(req).map(([k, v]) => [k, [v]])),
    'Lambda REST v1 headers': (req) => Object.fromEntries(entries(req).map(([k, v]) => [canonical(k), v])),
    'Lambda REST v1 multiValueHeaders': (req) => Object.fromEntries(entries(req).map(([k, v]) => [canonical(k), [v]])),
    'Lambda HTTP API v2 (lowercase)': (req) => Object.fromEntries(entries(req)),
  };
  let server: http.Server;
  let url: string;
  let shape = 'Fetch Headers';
  beforeAll(async () => {
    const router = makeRouter({
      getRequest: (ctx) => ({ headers: (ctx as Ctx).headers as never, info: (ctx as Ctx).info }),
    });
    server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
      });
      const response = await fetchRequestHandler({
        endpoint: '',
        req: request,
        router,
        createContext: ({ req, info }) => ({ headers: shapes[shape]?.(req), info }),
      });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it.each(Object.keys(shapes))('%s', async (name) => {
    shape = name;
    const client = createTRPCClient<ReturnType<typeof makeRouter>>({
      links: [traceContextLink(), httpBatchLink({ url, headers: traceContextHeaders })],
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        otel.tracer.startActiveSpan(`caller ${i}`, async (caller) => {
          const result = await client.q.query({ i });
          caller.end();
          return { caller: caller.spanContext().traceId, seen: result };
        }),
      ),
    );
    expect(new Set(results.map((r) => r.caller)).size).toBe(6);
    for (const result of results) expect(result.seen.traceId).toBe(result.caller);
  });
});

describe('in-process calls run under the active span and are never re-extracted', () => {
  const caller = (options: TraceContextMiddlewareOptions, headers?: Record<string, string>) =>
    initTRPC.context<Ctx>().create().createCallerFactory(makeRouter(options))({ headers });

  it.each([
    ['foreign headers', { traceparent: FOREIGN }, {}],
    ['no headers', undefined, {}],
    ["foreign headers under 'link'", { traceparent: FOREIGN }, { incoming: 'link' as const }],
    ["foreign headers and baggage under 'continue'", { traceparent: FOREIGN, baggage: 'tenant=evil' }, {}],
  ])('createCaller with %s: a child of the render span', async (_name, headers, options) => {
    await otel.tracer.startActiveSpan('render', async (render) => {
      const result = await caller(options, headers).q({ i: 0 });
      render.end();
      expect(result.traceId).toBe(render.spanContext().traceId);
      expect(parentOf(result.spanId)).toBe(render.spanContext().spanId);
    });
  });

  it('createCaller with headers of the same trace: still the render span, not the header span', async () => {
    await otel.tracer.startActiveSpan('render', async (render) => {
      const sameTrace = `00-${render.spanContext().traceId}-00f067aa0ba902b7-01`;
      const result = await caller({}, { traceparent: sameTrace }).q({ i: 0 });
      render.end();
      expect(parentOf(result.spanId)).toBe(render.spanContext().spanId);
    });
  });

  it('a createCaller nested inside a procedure is the child of that procedure', async () => {
    await otel.tracer.startActiveSpan('render', async (render) => {
      const { outer, inner } = await caller({}, { traceparent: FOREIGN }).nested();
      render.end();
      expect(outer.traceId).toBe(render.spanContext().traceId);
      expect(parentOf(inner.spanId)).toBe(outer.spanId);
    });
  });

  it('localLink with traceContextLink: the procedure is the child of its CLIENT span, whatever ctx holds', async () => {
    const router = makeRouter({ incoming: 'link' });
    const client = createTRPCClient<typeof router>({
      links: [
        traceContextLink(),
        localLink({ router, createContext: async () => ({ headers: { traceparent: FOREIGN } }) }),
      ],
    });
    await otel.tracer.startActiveSpan('render', async (render) => {
      const result = await client.q.query({ i: 0 });
      render.end();
      expect(result.traceId).toBe(render.spanContext().traceId);
      const clientSpan = otel.exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT);
      expect(clientSpan?.parentSpanContext?.spanId).toBe(render.spanContext().spanId);
      expect(parentOf(result.spanId)).toBe(clientSpan?.spanContext().spanId);
    });
  });
});

describe('the batch header never passes its cap', () => {
  const carriers = (count: number, baggage = false): ContextCarrier[] =>
    Array.from({ length: count }, (_, i) => {
      const span = trace.wrapSpanContext({
        traceId: i.toString(16).padStart(32, 'a'),
        spanId: i.toString(16).padStart(16, 'b'),
        traceFlags: 1,
      });
      let ctx = trace.setSpan(ROOT_CONTEXT, span);
      if (baggage) ctx = propagation.setBaggage(ctx, propagation.createBaggage({ tenant: { value: `t${i}` } }));
      return getContext({ context: ctx });
    });

  it.each([1, 50, 110, 120, 121, 500, 3000, 5000])('%i operations', (count) => {
    for (const withBaggage of [false, true]) {
      const list = carriers(count, withBaggage);
      const header = encodeBatchHeader(list);
      expect(header.length).toBeLessThanOrEqual(8192);
      const parsed = JSON.parse(header) as ContextCarrier[];
      const fit = JSON.stringify(list).length <= 8192;
      if (fit) {
        expect(parsed).toEqual(list);
        continue;
      }
      // Baggage goes first; every entry that still fits is kept whole, in order; the rest are `{}`.
      const kept = parsed.filter((entry) => entry.traceparent !== undefined).length;
      if (parsed.length === count) {
        parsed.forEach((entry, i) => {
          if (i < kept) expect(entry).toEqual({ traceparent: list[i]?.traceparent });
          else expect(entry).toEqual({});
        });
        // Either every entry fitted once its baggage was left out, or one more would not have fitted.
        if (kept < count) {
          const next = JSON.stringify({ traceparent: list[kept]?.traceparent }).length;
          expect(header.length - 2 + next).toBeGreaterThan(8192);
        }
      } else {
        // Not even `{}` per operation fits: no operation gets a context, none gets another's.
        expect(parsed).toEqual([]);
      }
    }
  });

  it('a single operation without a context sends no slot; every operation of a batch has an explicit entry', () => {
    const empty = { context: { traceContext: {} } };
    expect(traceContextHeaders({ op: empty })).toEqual({});
    const full = { context: { traceContext: { traceparent: FOREIGN } } };
    const headers = traceContextHeaders({ opList: [full, empty] });
    expect(headers.traceparent).toBe(FOREIGN);
    expect(JSON.parse(headers[BATCH_HEADER] ?? '')).toEqual([{ traceparent: FOREIGN }, {}]);
    expect(JSON.parse(traceContextHeaders({ op: full })[BATCH_HEADER] ?? '')).toEqual([{ traceparent: FOREIGN }]);
  });

  it("leaves the standard headers to instrumentation-undici while Node's fetch is instrumented, keeps every slot", () => {
    const full = { context: { traceContext: { traceparent: FOREIGN, baggage: 'tenant=a' } } };
    const empty = { context: { traceContext: {} } };
    const undici = new UndiciInstrumentation();
    undici.enable();
    try {
      // undici appends its own traceparent to one already set: ours would make the pair the server rejects.
      expect(traceContextHeaders({ op: full })).toEqual({
        [BATCH_HEADER]: JSON.stringify([full.context.traceContext]),
      });
      expect(traceContextHeaders({ opList: [full, empty] })).toEqual({
        [BATCH_HEADER]: JSON.stringify([full.context.traceContext, {}]),
      });
      expect(traceContextHeaders({})).toEqual({});
    } finally {
      undici.disable();
    }
    expect(traceContextHeaders({ op: full })).toMatchObject({ traceparent: FOREIGN, baggage: 'tenant=a' });
  });
});

describe('misbehaving trust deciders fall back to link, and say why once', () => {
  const messages: string[] = [];
  const logger: DiagLogger = {
    error: () => {},
    warn: (message) => messages.push(message),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  beforeAll(() => {
    diag.setLogger(logger, DiagLogLevel.WARN);
  });
  afterAll(() => diag.disable());

  const call = (middleware: ReturnType<typeof traceContextMiddleware>, signal = new AbortController().signal) =>
    middleware({
      ctx: { headers: { traceparent: FOREIGN } },
      path: 'a.q',
      type: 'query',
      batchIndex: 0,
      signal,
      getRawInput: async () => undefined,
      next: async () => ({ ok: true, data: seen() }),
    }) as Promise<{ data: { traceId: string } }>;

  it.each([
    [
      'throws',
      () => {
        throw new Error('boom');
      },
      'threw',
    ],
    ['is async', async () => 'continue' as const, 'returned a promise'],
    ['returns CONTINUE', () => 'CONTINUE' as never, 'returned "CONTINUE"'],
  ])('a decider that %s', async (_name, incoming, reason) => {
    messages.length = 0;
    const middleware = traceContextMiddleware({ incoming: incoming as never });
    const traces: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { data } = await call(middleware);
      // 'link': a new trace, not the caller's.
      expect(data.traceId).not.toBe(FOREIGN_TRACE);
      expect(data.traceId).not.toBe('');
      traces.push(data.traceId);
    }
    // Each call ran in its own root SERVER span (the trace it saw), linked to the caller's span.
    const spans = otel.exporter.getFinishedSpans();
    expect(spans.map((span) => span.spanContext().traceId)).toEqual(traces);
    expect(new Set(traces).size).toBe(3);
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.links.map((link) => `${link.context.traceId}-${link.context.spanId}`)).toEqual([
        `${FOREIGN_TRACE}-00f067aa0ba902b7`,
      ]);
    }
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(reason);
  });
});

describe('span names', () => {
  it("a procedure without a path (a Next.js server action) is named 'trpc' and has no rpc.method", async () => {
    const middleware = traceContextMiddleware();
    await middleware({
      ctx: {},
      path: '',
      type: 'mutation',
      signal: undefined,
      getRawInput: async () => undefined,
      next: async () => ({ ok: true, data: null }),
    });
    const [span] = otel.exporter.getFinishedSpans();
    expect(span?.name).toBe('trpc');
    expect(span?.attributes['rpc.method']).toBeUndefined();
    expect(span?.attributes['rpc.system.name']).toBe('trpc');
  });
});

describe('a provider registered after the middleware, through another copy of the API (Next.js Edge)', () => {
  it('still records the SERVER span', async () => {
    trace.disable();
    const middleware = traceContextMiddleware();
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    // What another @opentelemetry/api copy's setGlobalTracerProvider does to the shared global registry: our
    // copy's proxy provider is never told.
    const registry = (globalThis as Record<symbol, Record<string, unknown>>)[Symbol.for('opentelemetry.js.api.1')];
    if (!registry) throw new Error('no OpenTelemetry global registry');
    registry.trace = provider;
    try {
      await middleware({
        ctx: {},
        path: 'edge.q',
        type: 'query',
        signal: new AbortController().signal,
        getRawInput: async () => undefined,
        next: async () => ({ ok: true, data: null }),
      });
      expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['edge.q']);
    } finally {
      trace.disable();
      trace.setGlobalTracerProvider(otel.provider);
    }
  });
});

describe('Yoga: an operation slot in a batch is authoritative; a lone operation falls back to headers', () => {
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Seen { traceId: String } type Query { seen: Seen }',
      resolvers: { Query: { seen: () => seen() } },
    }),
    batching: true,
    logging: false,
    plugins: [useTraceContext({ spans: false })],
  });
  const post = async (body: unknown) => {
    const response = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: FOREIGN },
      body: JSON.stringify(body),
    });
    return (await response.json()) as unknown;
  };
  const operation = (traceContext: unknown) => ({ query: '{ seen { traceId } }', extensions: { traceContext } });

  it.each([
    ['of the wrong type', 5],
    ['empty', {}],
    ['with a malformed traceparent', { traceparent: '00-zz-zz-01' }],
  ])('a slot %s', async (_name, slot) => {
    const batch = (await post([operation({ traceparent: FOREIGN }), operation(slot)])) as {
      data: { seen: { traceId: string | null } };
    }[];
    expect(batch.map((result) => result.data.seen.traceId)).toEqual([FOREIGN_TRACE, '']);
    const lone = (await post(operation(slot))) as { data: { seen: { traceId: string | null } } };
    expect(lone.data.seen.traceId).toBe(FOREIGN_TRACE);
  });
});
