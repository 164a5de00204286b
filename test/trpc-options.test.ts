// Issue #13's options on the tRPC client link and server middleware, over real loopback servers: spans
// (predicate), spanName, requestHook, responseHook, captureInput, isError, propagate, and cancellation.
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DiagLogger, DiagLogLevel, diag, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createTRPCClient, createWSClient, httpBatchLink, httpLink, type TRPCLink, wsLink } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { type CreateHTTPContextOptions, createHTTPServer } from '@trpc/server/adapters/standalone';
import { observable } from '@trpc/server/observable';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ATTR_TRPC_INPUT,
  BATCH_HEADER,
  type TraceContextIncomingInfo,
  type TraceContextLinkInfo,
  type TraceContextLinkOptions,
  type TraceContextMiddlewareOptions,
  traceContextEncoder,
  traceContextHeaders,
  traceContextLink,
  traceContextMiddleware,
  type WebSocketEncoder,
} from '../src/trpc.js';
import { oneSpan, asCaller as runAsCaller, spansNamed, traceEveryTest } from './support/trpc-calls.js';
import { sseSplitLink } from './support/trpc-clients.js';
import { listenOnLoopback } from './support/trpc-servers.js';
import { type AppRouter, makeRouter as makeHarnessRouter, seen, startServers } from './trpc-harness.js';

// Every span an operation started has ended (a throwing option, a cancel included); diag is unhooked after
// every test, whether that check passed or not.
const otel = traceEveryTest(() => diag.disable());

/** What the server's createContext saw of each request. */
interface Received {
  headers: IncomingHttpHeaders;
  url: string;
}

type Ctx = { req: CreateHTTPContextOptions['req']; info: unknown; tenant: string | undefined };

function makeRouter(options: TraceContextMiddlewareOptions) {
  const t = initTRPC.context<Ctx>().create();
  const procedure = t.procedure.use(traceContextMiddleware(options));
  return t.router({
    health: procedure.query(() => seen(0)),
    echo: procedure
      .input(z.object({ name: z.string(), password: z.string().optional(), i: z.number().optional() }))
      .query(async ({ input }) => {
        await sleep(1);
        return { name: input.name, ...seen(input.i ?? 0) };
      }),
    notFound: procedure.query(() => {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'nothing here' });
    }),
    internal: procedure.query(() => {
      throw new Error('boom');
    }),
    slow: procedure.input(z.object({ delay: z.number() })).query(async ({ input, signal }) => {
      await sleep(input.delay, undefined, { signal }).catch(() => undefined);
      return seen(0);
    }),
    sub: procedure.input(z.object({ count: z.number() })).subscription(async function* ({ input, signal }) {
      for (let n = 0; n < input.count && !signal?.aborted; n++) {
        await sleep(2);
        yield { n };
      }
    }),
  });
}
type Router = ReturnType<typeof makeRouter>;

// Every server a test opens is closed when that test ends, whether it passed or not.
const servers: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A standalone tRPC server on loopback with the middleware configured by `options`. */
async function serve(options: TraceContextMiddlewareOptions = {}) {
  const received: Received[] = [];
  const { url, close } = await listenOnLoopback(
    createHTTPServer({
      router: makeRouter(options),
      createContext: ({ req, info }: CreateHTTPContextOptions): Ctx => {
        received.push({ headers: req.headers, url: req.url ?? '' });
        const tenant = req.headers['x-tenant'];
        return { req, info, tenant: typeof tenant === 'string' ? tenant : undefined };
      },
    }),
  );
  servers.push({ close });
  return { url, received };
}

function client(url: string, options: TraceContextLinkOptions = {}, batch = false) {
  const headers = (opts: Parameters<typeof traceContextHeaders>[0]) => ({
    ...traceContextHeaders(opts),
    'x-tenant': 'acme',
  });
  const terminating: TRPCLink<Router> = batch ? httpBatchLink({ url, headers }) : httpLink({ url, headers });
  return createTRPCClient<Router>({ links: [traceContextLink(options), terminating] });
}

/** Runs `fn` under a fresh caller span (ended once `fn` settled), in an otherwise empty context. */
const asCaller = <T>(fn: (caller: Span) => Promise<T>) => runAsCaller(otel.tracer, fn);
const finished = (name: string, kind: SpanKind) => spansNamed(otel.exporter, name, kind);
const one = (name: string, kind: SpanKind) => oneSpan(otel.exporter, name, kind);

/** Collects what `diag.warn` reports while a test runs. */
function spyDiag() {
  const warnings: string[] = [];
  const log = () => undefined;
  const logger: DiagLogger = {
    error: log,
    warn: (message: string) => {
      if (message.startsWith('otel-rpc-context')) warnings.push(message);
    },
    info: log,
    debug: log,
    verbose: log,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return warnings;
}

describe('spans', () => {
  it('a predicate skips the health procedure on both sides; its server work still runs in the caller trace', async () => {
    const server = await serve({ spans: ({ path }) => path !== 'health' });
    const trpc = client(server.url, { spans: (info) => info.path !== 'health' });
    const { caller, value } = await asCaller(() => trpc.health.query());
    // No span of its own anywhere: the procedure ran directly under the caller's span, across the wire.
    expect(value.traceId).toBe(caller.spanContext().traceId);
    expect(value.spanId).toBe(caller.spanContext().spanId);
    expect(otel.exporter.getFinishedSpans().filter((span) => span.name === 'health')).toEqual([]);

    const other = await asCaller(() => trpc.echo.query({ name: 'a' }));
    const clientSpan = one('echo', SpanKind.CLIENT);
    const serverSpan = one('echo', SpanKind.SERVER);
    expect(clientSpan.parentSpanContext?.spanId).toBe(other.caller.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(other.value.spanId).toBe(serverSpan.spanContext().spanId);
  });
});

describe('spanName', () => {
  it('names the spans on both sides from info (path, type, input, context, ctx)', async () => {
    const serverInfos: TraceContextIncomingInfo[] = [];
    const server = await serve({
      spanName: (info) => {
        serverInfos.push(info);
        return `server ${info.type} ${info.path} ${(info.ctx as Ctx).tenant}`;
      },
    });
    const linkInfos: TraceContextLinkInfo[] = [];
    const trpc = client(server.url, {
      spanName: (info) => {
        linkInfos.push(info);
        return `client ${info.type} ${info.path} ${(info.input as { name: string }).name} ${info.context.tag}`;
      },
    });
    await asCaller(() => trpc.echo.query({ name: 'ann' }, { context: { tag: 't1' } }));
    const clientSpan = one('client query echo ann t1', SpanKind.CLIENT);
    const serverSpan = one('server query echo acme', SpanKind.SERVER);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    // The semantic-convention attributes stay.
    expect(clientSpan.attributes).toMatchObject({ 'rpc.method': 'echo', 'trpc.procedure.type': 'query' });
    expect(serverSpan.attributes).toMatchObject({ 'rpc.method': 'echo', 'trpc.procedure.type': 'query' });
    expect(linkInfos).toEqual([{ path: 'echo', type: 'query', input: { name: 'ann' }, context: { tag: 't1' } }]);
    expect(serverInfos.map(({ path, type }) => ({ path, type }))).toEqual([{ path: 'echo', type: 'query' }]);
  });
});

describe('requestHook', () => {
  it('sets attributes when each span starts', async () => {
    const server = await serve({
      requestHook: (span, info) => span.setAttribute('app.tenant', String((info.ctx as Ctx).tenant)),
    });
    const trpc = client(server.url, {
      requestHook: (span, info) => span.setAttribute('app.name', (info.input as { name: string }).name),
    });
    await asCaller(() => trpc.echo.query({ name: 'bob' }));
    expect(one('echo', SpanKind.CLIENT).attributes['app.name']).toBe('bob');
    expect(one('echo', SpanKind.SERVER).attributes['app.tenant']).toBe('acme');
  });
});

describe('responseHook', () => {
  it('sees the result and the error on both sides, before the span ends', async () => {
    const outcomes: { side: string; path: string; result?: unknown; error?: unknown; cancelled?: boolean }[] = [];
    const server = await serve({
      responseHook: (span, info) => {
        outcomes.push({ side: 'server', path: info.path, result: info.result, error: info.error });
        span.setAttribute('app.outcome', info.error ? 'error' : 'ok');
      },
    });
    const trpc = client(server.url, {
      responseHook: (span, info) => {
        outcomes.push({ side: 'client', path: info.path, result: info.result, error: info.error });
        span.setAttribute('app.outcome', info.error ? 'error' : 'ok');
      },
    });
    await asCaller(() => trpc.echo.query({ name: 'cy', i: 7 }));
    await expect(trpc.notFound.query()).rejects.toThrow('nothing here');
    expect(outcomes).toHaveLength(4);
    const [serverEcho, clientEcho, serverFail, clientFail] = outcomes;
    expect(serverEcho).toMatchObject({ side: 'server', path: 'echo', result: { name: 'cy', i: 7 } });
    expect(clientEcho).toMatchObject({ side: 'client', path: 'echo', result: { name: 'cy', i: 7 } });
    expect(serverFail?.side).toBe('server');
    expect(serverFail?.error).toBeInstanceOf(TRPCError);
    expect((serverFail?.error as TRPCError | undefined)?.code).toBe('NOT_FOUND');
    expect(clientFail?.side).toBe('client');
    expect((clientFail?.error as { data?: { code?: string } } | undefined)?.data?.code).toBe('NOT_FOUND');
    expect(clientFail?.result).toBeUndefined();
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      expect(one('echo', kind).attributes['app.outcome']).toBe('ok');
      expect(one('notFound', kind).attributes['app.outcome']).toBe('error');
    }
  });
});

describe('options that throw', () => {
  it('never break the call; each is reported once through diag', async () => {
    const warnings = spyDiag();
    const boom = (name: string) => () => {
      throw new Error(`${name} broke`);
    };
    const throwing = () => ({
      spanName: boom('spanName'),
      requestHook: boom('requestHook'),
      responseHook: boom('responseHook'),
      isError: boom('isError'),
      captureInput: boom('captureInput'),
    });
    const server = await serve(throwing());
    const trpc = client(server.url, { ...throwing(), propagate: boom('propagate') });
    for (let i = 0; i < 3; i++) {
      const result = await asCaller(() => trpc.echo.query({ name: 'dee' }));
      expect(result.value.name).toBe('dee');
      await expect(trpc.notFound.query()).rejects.toThrow('nothing here');
    }
    // Default names, no input recorded, and the default isError.
    const clientSpans = finished('echo', SpanKind.CLIENT);
    const serverSpans = finished('echo', SpanKind.SERVER);
    expect(clientSpans).toHaveLength(3);
    expect(serverSpans).toHaveLength(3);
    for (const span of [...clientSpans, ...serverSpans]) expect(span.attributes[ATTR_TRPC_INPUT]).toBeUndefined();
    expect(finished('notFound', SpanKind.CLIENT)).toHaveLength(3);
    expect(finished('notFound', SpanKind.SERVER)).toHaveLength(3);
    for (const span of finished('notFound', SpanKind.CLIENT)) expect(span.status.code).toBe(SpanStatusCode.ERROR);
    for (const span of finished('notFound', SpanKind.SERVER)) {
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes['error.type']).toBe('NOT_FOUND');
    }
    // A propagate predicate that throws counts as false: the server spans start their own traces.
    for (const span of serverSpans) expect(span.parentSpanContext).toBeUndefined();
    const named = (option: string) => warnings.filter((warning) => warning.includes(`the ${option} option threw`));
    for (const option of ['spanName', 'requestHook', 'responseHook', 'isError', 'captureInput']) {
      // Once per function: one for the link's, one for the middleware's.
      expect(named(option), option).toHaveLength(2);
    }
    expect(named('propagate')).toHaveLength(1);
  });

  it('a spans predicate that throws means no span, and the call still runs in its caller trace', async () => {
    const warnings = spyDiag();
    const server = await serve({
      spans: () => {
        throw new Error('server spans broke');
      },
    });
    const trpc = client(server.url, {
      spans: () => {
        throw new Error('client spans broke');
      },
    });
    const { caller, value } = await asCaller(() => trpc.health.query());
    expect(value.spanId).toBe(caller.spanContext().spanId);
    expect(otel.exporter.getFinishedSpans().map((span) => span.name)).toEqual(['caller']);
    expect(warnings.filter((warning) => warning.includes('the spans option threw'))).toHaveLength(2);
  });

  it('a spanName that returns no string falls back to the path', async () => {
    const server = await serve({ spanName: () => 42 as unknown as string });
    const trpc = client(server.url, { spanName: () => undefined as unknown as string });
    await asCaller(() => trpc.echo.query({ name: 'eve' }));
    expect(one('echo', SpanKind.CLIENT).name).toBe('echo');
    expect(one('echo', SpanKind.SERVER).name).toBe('echo');
  });
});

describe('captureInput', () => {
  it('true records the input as trpc.procedure.input on both sides', async () => {
    const server = await serve({ captureInput: true });
    const trpc = client(server.url, { captureInput: true });
    await asCaller(() => trpc.echo.query({ name: 'fay', i: 3 }));
    const expected = JSON.stringify({ name: 'fay', i: 3 });
    expect(one('echo', SpanKind.CLIENT).attributes[ATTR_TRPC_INPUT]).toBe(expected);
    expect(one('echo', SpanKind.SERVER).attributes[ATTR_TRPC_INPUT]).toBe(expected);
  });

  it('a function redacts what is recorded; the procedure gets the real input', async () => {
    const redact = (input: unknown, info: { path: string }) => ({
      ...(input as object),
      password: '[redacted]',
      path: info.path,
    });
    const server = await serve({ captureInput: redact });
    const trpc = client(server.url, { captureInput: redact });
    const { value } = await asCaller(() => trpc.echo.query({ name: 'gus', password: 'hunter2' }));
    expect(value.name).toBe('gus');
    const expected = JSON.stringify({ name: 'gus', password: '[redacted]', path: 'echo' });
    expect(one('echo', SpanKind.CLIENT).attributes[ATTR_TRPC_INPUT]).toBe(expected);
    expect(one('echo', SpanKind.SERVER).attributes[ATTR_TRPC_INPUT]).toBe(expected);
  });

  it('a circular value records nothing and breaks nothing', async () => {
    const circular = (input: unknown) => {
      const value: Record<string, unknown> = { input };
      value.self = value;
      return value;
    };
    const server = await serve({ captureInput: circular });
    const trpc = client(server.url, { captureInput: circular });
    const { value } = await asCaller(() => trpc.echo.query({ name: 'hal' }));
    expect(value.name).toBe('hal');
    expect(one('echo', SpanKind.CLIENT).attributes[ATTR_TRPC_INPUT]).toBeUndefined();
    expect(one('echo', SpanKind.SERVER).attributes[ATTR_TRPC_INPUT]).toBeUndefined();
  });

  it('is off by default: the server never reads the input for it', async () => {
    const server = await serve();
    const trpc = client(server.url);
    await asCaller(() => trpc.echo.query({ name: 'ida', password: 'secret' }));
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      expect(one('echo', kind).attributes[ATTR_TRPC_INPUT]).toBeUndefined();
    }
  });
});

describe('isError', () => {
  it('by default: a SERVER span is ERROR for server-side codes only, a CLIENT span for any error', async () => {
    const server = await serve();
    const trpc = client(server.url);
    await expect(trpc.notFound.query()).rejects.toThrow('nothing here');
    await expect(trpc.internal.query()).rejects.toThrow();

    const notFoundServer = one('notFound', SpanKind.SERVER);
    expect(notFoundServer.status.code).toBe(SpanStatusCode.UNSET);
    expect(notFoundServer.attributes['error.type']).toBe('NOT_FOUND');
    expect(notFoundServer.events.some((event) => event.name === 'exception')).toBe(true);
    const notFoundClient = one('notFound', SpanKind.CLIENT);
    expect(notFoundClient.status.code).toBe(SpanStatusCode.ERROR);
    expect(notFoundClient.attributes['error.type']).toBe('NOT_FOUND');

    // A plain Error thrown by the procedure is an INTERNAL_SERVER_ERROR.
    const internalServer = one('internal', SpanKind.SERVER);
    expect(internalServer.status.code).toBe(SpanStatusCode.ERROR);
    expect(internalServer.attributes['error.type']).toBe('INTERNAL_SERVER_ERROR');
    const internalClient = one('internal', SpanKind.CLIENT);
    expect(internalClient.status.code).toBe(SpanStatusCode.ERROR);
    expect(internalClient.attributes['error.type']).toBe('INTERNAL_SERVER_ERROR');
  });

  it('an override decides the status; error.type and the exception event are recorded either way', async () => {
    const seenErrors: unknown[] = [];
    const server = await serve({
      isError: (error, info) => {
        seenErrors.push(info.path);
        return (error as TRPCError).code !== 'INTERNAL_SERVER_ERROR';
      },
    });
    const trpc = client(server.url, {
      isError: (error) => (error as { data?: { code?: string } }).data?.code !== 'NOT_FOUND',
    });
    await expect(trpc.notFound.query()).rejects.toThrow('nothing here');
    await expect(trpc.internal.query()).rejects.toThrow();
    expect(seenErrors).toEqual(['notFound', 'internal']);
    const expectations: [string, SpanKind, SpanStatusCode, string][] = [
      ['notFound', SpanKind.SERVER, SpanStatusCode.ERROR, 'NOT_FOUND'],
      ['notFound', SpanKind.CLIENT, SpanStatusCode.UNSET, 'NOT_FOUND'],
      ['internal', SpanKind.SERVER, SpanStatusCode.UNSET, 'INTERNAL_SERVER_ERROR'],
      ['internal', SpanKind.CLIENT, SpanStatusCode.ERROR, 'INTERNAL_SERVER_ERROR'],
    ];
    for (const [name, kind, status, type] of expectations) {
      const span = one(name, kind);
      expect(span.status.code, `${name} ${SpanKind[kind]}`).toBe(status);
      expect(span.attributes['error.type']).toBe(type);
      expect(span.events.some((event) => event.name === 'exception')).toBe(true);
    }
  });
});

describe('propagate', () => {
  it('false: no carrier on the wire, the server span is a new root, the CLIENT span still starts', async () => {
    const server = await serve();
    const trpc = client(server.url, { propagate: false });
    const { caller, value } = await asCaller(() => trpc.echo.query({ name: 'jo' }));
    expect(server.received).toHaveLength(1);
    const headers = server.received[0]?.headers ?? {};
    expect(headers.traceparent).toBeUndefined();
    expect(headers.tracestate).toBeUndefined();
    expect(headers.baggage).toBeUndefined();
    expect(headers[BATCH_HEADER]).toBeUndefined();
    const clientSpan = one('echo', SpanKind.CLIENT);
    expect(clientSpan.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    const serverSpan = one('echo', SpanKind.SERVER);
    expect(serverSpan.parentSpanContext).toBeUndefined();
    expect(serverSpan.spanContext().traceId).not.toBe(caller.spanContext().traceId);
    expect(value.traceId).toBe(serverSpan.spanContext().traceId);
  });

  it('a predicate in a batch: the op that says no gets {} and never lends the batch its W3C headers', async () => {
    const server = await serve();
    const trpc = client(server.url, { propagate: (info) => info.path !== 'health' }, true);
    // health first: the standard headers stay empty; echo's own entry carries it.
    const first = await asCaller(() => Promise.all([trpc.health.query(), trpc.echo.query({ name: 'kai', i: 1 })]));
    // echo first: the standard headers are echo's; health's entry is still {}.
    const second = await asCaller(() => Promise.all([trpc.echo.query({ name: 'lu', i: 2 }), trpc.health.query()]));
    expect(server.received).toHaveLength(2);
    const [one1, two] = server.received.map((request) => request.headers);
    expect(one1?.traceparent).toBeUndefined();
    const entries1 = JSON.parse(String(one1?.[BATCH_HEADER]));
    expect(entries1).toHaveLength(2);
    expect(entries1[0]).toEqual({});
    expect(entries1[1].traceparent).toContain(first.caller.spanContext().traceId);
    const entries2 = JSON.parse(String(two?.[BATCH_HEADER]));
    expect(entries2[1]).toEqual({});
    expect(two?.traceparent).toBe(entries2[0].traceparent);
    expect(two?.traceparent).toContain(second.caller.spanContext().traceId);

    const clientSpans = finished('echo', SpanKind.CLIENT);
    for (const [run, index] of [
      [first, 1],
      [second, 0],
    ] as const) {
      const [health, echo] = index === 1 ? run.value : [run.value[1], run.value[0]];
      const callerTrace = run.caller.spanContext().traceId;
      // echo continues its caller, under its CLIENT span; health starts its own trace on the server.
      expect(echo.traceId).toBe(callerTrace);
      expect(health.traceId).not.toBe(callerTrace);
      expect(health.traceId).not.toBe('');
    }
    expect(finished('health', SpanKind.SERVER)).toHaveLength(2);
    for (const span of finished('health', SpanKind.SERVER)) expect(span.parentSpanContext).toBeUndefined();
    expect(clientSpans).toHaveLength(2);
    expect(finished('echo', SpanKind.SERVER)).toHaveLength(2);
    for (const span of finished('echo', SpanKind.SERVER)) {
      expect(clientSpans.map((c) => c.spanContext().spanId)).toContain(span.parentSpanContext?.spanId);
      // Exactly the echo CLIENT span of its own caller's trace, not the other batch's.
      const own = clientSpans.find((c) => c.spanContext().traceId === span.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(own?.spanContext().spanId);
    }
  });

  it('false on httpSubscriptionLink: traceContextUrl adds no parameter', async () => {
    const server = await serve();
    const links = (propagate: boolean) =>
      createTRPCClient<Router>({
        links: [traceContextLink({ propagate }), sseSplitLink<Router>(server.url, 'httpLink')],
      });
    for (const propagate of [true, false]) {
      const trpc = links(propagate);
      await asCaller(
        () =>
          new Promise<void>((resolve, reject) => {
            const sub = trpc.sub.subscribe(
              { count: 1 },
              {
                onData: () => {
                  sub.unsubscribe();
                  resolve();
                },
                onError: reject,
              },
            );
          }),
      );
    }
    const urls = server.received.map((request) => request.url);
    expect(urls).toHaveLength(2);
    expect(urls[0]).toContain('traceContext=');
    expect(urls[1]).not.toContain('traceContext=');
    const [withCarrier, without] = finished('sub', SpanKind.SERVER).sort((a, b) =>
      a.parentSpanContext ? -1 : b.parentSpanContext ? 1 : 0,
    );
    expect(withCarrier?.parentSpanContext).toBeDefined();
    expect(without?.parentSpanContext).toBeUndefined();
    // The carrier was the propagating subscription's own CLIENT span.
    const clientSubs = finished('sub', SpanKind.CLIENT);
    expect(clientSubs).toHaveLength(2);
    const propagating = clientSubs.find((span) => span.spanContext().traceId === withCarrier?.spanContext().traceId);
    expect(withCarrier?.parentSpanContext?.spanId).toBe(propagating?.spanContext().spanId);
  });
});

describe('propagate over a WebSocket', () => {
  it('false: the message carries an empty traceContext, and the server span is a new root', async () => {
    const stack = await startServers(makeHarnessRouter());
    servers.push(stack);
    const sent: unknown[] = [];
    const recording: WebSocketEncoder = {
      encode: (data) => {
        sent.push(data);
        return JSON.stringify(data);
      },
      decode: (data) => JSON.parse(String(data)),
    };
    const ws = createWSClient({ url: stack.wsUrl, experimental_encoder: traceContextEncoder({ encoder: recording }) });
    const trpc = createTRPCClient<AppRouter>({
      links: [traceContextLink({ propagate: (info) => info.path !== 'b.q' }), wsLink({ client: ws })],
    });
    const { caller, value } = await asCaller(() =>
      Promise.all([trpc.a.q.query({ i: 1 }), trpc.b.q.query({ i: 2 })]),
    ).finally(() => ws.close());
    const messages = sent.flat() as { params?: { path?: string }; traceContext?: Record<string, string> }[];
    const byPath = (path: string) => messages.find((message) => message.params?.path === path);
    expect(byPath('a.q')?.traceContext?.traceparent).toContain(caller.spanContext().traceId);
    expect(byPath('b.q')?.traceContext).toEqual({});
    const [a, b] = value;
    expect(a.traceId).toBe(caller.spanContext().traceId);
    expect(b.traceId).not.toBe(caller.spanContext().traceId);
    expect(one('b.q', SpanKind.SERVER).parentSpanContext).toBeUndefined();
    expect(one('b.q', SpanKind.CLIENT).parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
  });
});

describe('cancellation', () => {
  it('a query aborted through its signal leaves the CLIENT span unset with error.type AbortError', async () => {
    const server = await serve();
    const outcomes: { cancelled?: boolean; error?: unknown }[] = [];
    const trpc = client(server.url, {
      responseHook: (_span, info) => outcomes.push({ cancelled: info.cancelled, error: info.error }),
    });
    const controller = new AbortController();
    const promise = asCaller(() => trpc.slow.query({ delay: 5000 }, { signal: controller.signal }));
    await sleep(30);
    controller.abort();
    await expect(promise).rejects.toThrow();
    const span = one('slow', SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['error.type']).toBe('AbortError');
    expect(span.events.some((event) => event.name === 'exception')).toBe(false);
    expect(outcomes).toEqual([{ cancelled: true, error: undefined }]);
  });

  it('a query unsubscribed before it settled is cancelled; one unsubscribed after its result is not', async () => {
    const server = await serve();
    // A link before ours that gives up on `slow` after 30 ms, as a caching layer might.
    const impatient: TRPCLink<Router> =
      () =>
      ({ op, next }) =>
        observable((observer) => {
          const subscription = next(op).subscribe(observer);
          if (op.path !== 'slow') return () => subscription.unsubscribe();
          const timer = setTimeout(() => {
            subscription.unsubscribe();
            observer.error(new TRPCError({ code: 'TIMEOUT', message: 'gave up' }) as never);
          }, 30);
          return () => {
            clearTimeout(timer);
            subscription.unsubscribe();
          };
        });
    const trpc = createTRPCClient<Router>({
      links: [impatient, traceContextLink(), httpLink({ url: server.url, headers: traceContextHeaders })],
    });
    await expect(trpc.slow.query({ delay: 2000 })).rejects.toThrow('gave up');
    await trpc.echo.query({ name: 'mo' });
    const slow = one('slow', SpanKind.CLIENT);
    expect(slow.status.code).toBe(SpanStatusCode.UNSET);
    expect(slow.attributes['error.type']).toBe('cancelled');
    const echo = one('echo', SpanKind.CLIENT);
    expect(echo.status.code).toBe(SpanStatusCode.UNSET);
    expect(echo.attributes['error.type']).toBeUndefined();
  });

  it("a subscription unsubscribed normally is no cancellation (subscriptionSpan: 'lifetime')", async () => {
    const serverResults: unknown[] = [];
    const server = await serve({
      subscriptionSpan: 'lifetime',
      responseHook: (_span, info) => serverResults.push(info.result),
    });
    const results: unknown[] = [];
    const trpc = createTRPCClient<Router>({
      links: [
        traceContextLink({ subscriptionSpan: 'lifetime', responseHook: (_span, info) => results.push(info.result) }),
        sseSplitLink<Router>(server.url, 'httpLink'),
      ],
    });
    await new Promise<void>((resolve, reject) => {
      const sub = trpc.sub.subscribe(
        { count: 100 },
        {
          onData: (data) => {
            if (data.n === 1) {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    const span = one('sub', SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['error.type']).toBeUndefined();
    // The last event's data.
    expect(results).toEqual([{ n: 1 }]);
    // The server's span ends when the iteration stops, shortly after the client went away.
    await expect.poll(() => finished('sub', SpanKind.SERVER).length).toBe(1);
    const serverSpan = one('sub', SpanKind.SERVER);
    expect(serverSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(serverSpan.attributes['error.type']).toBeUndefined();
    expect((serverResults[0] as { n: number }).n).toBeGreaterThanOrEqual(1);
  });
});
