import { setTimeout as sleep } from 'node:timers/promises';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  type TRPCLink,
} from '@trpc/client';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceContextHeaders, traceContextLink } from '../src/trpc.js';
import { resultsOutsideCallerTrace, traceEveryTest, underCallers } from './support/trpc-calls.js';
import { sseSplitLink, wsTraceClient } from './support/trpc-clients.js';
import { type AppRouter, makeRouter, type Seen, type Servers, startServers } from './trpc-harness.js';

// Every span an operation started has ended (an error, an abort, a killed connection included).
const otel = traceEveryTest();
let servers: Servers;

beforeAll(async () => {
  servers = await startServers(makeRouter());
});
afterAll(async () => {
  await servers.close();
});

const N = 60;

/** The results (or events) whose SERVER span is not the child of the CLIENT span of their own caller. */
const mismatches = (results: Seen[], callers: Map<number, Span>) =>
  resultsOutsideCallerTrace(otel.exporter.getFinishedSpans(), results, callers);

/** Runs `call(i)` for N operations concurrently, each under its own caller span. */
const concurrently = <T>(call: (i: number) => Promise<T>) => underCallers(otel.tracer, N, call);

function mixed(client: ReturnType<typeof createTRPCClient<AppRouter>>, i: number): Promise<Seen> {
  const input = { i, delay: i % 7 };
  if (i % 3 === 0) return client.a.q.query(input);
  if (i % 3 === 1) return client.b.q.query(input);
  return client.m.mutate(input);
}

const httpLinks: [string, (url: string) => TRPCLink<AppRouter>][] = [
  ['httpLink', (url) => httpLink({ url, headers: traceContextHeaders })],
  ['httpBatchLink', (url) => httpBatchLink({ url, headers: traceContextHeaders })],
  ['httpBatchStreamLink', (url) => httpBatchStreamLink({ url, headers: traceContextHeaders })],
];

describe.each(httpLinks)('%s', (_name, terminating) => {
  it.each(['standalone', 'fetch'] as const)(
    'gives each of %s concurrent operations its own caller',
    async (adapter) => {
      const url = adapter === 'standalone' ? servers.standaloneUrl : servers.fetchUrl;
      const client = createTRPCClient<AppRouter>({ links: [traceContextLink(), terminating(url)] });
      const { callers, results } = await concurrently((i) => mixed(client, i));
      expect(results).toHaveLength(N);
      expect(mismatches(results, callers)).toEqual([]);
      const clientSpans = otel.exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
      expect(clientSpans).toHaveLength(N);
      const first = clientSpans.find((span) => span.name === 'm');
      expect(first?.attributes).toMatchObject({ 'rpc.system.name': 'trpc', 'rpc.method': 'm' });
      expect(first?.attributes['trpc.procedure.type']).toBe('mutation');
    },
  );
});

async function collect(
  subscribe: (i: number, onData: (value: Seen & { n: number }) => void, done: () => void) => void,
) {
  const callers = new Map<number, Span>();
  const events: (Seen & { n: number })[] = [];
  await Promise.all(
    Array.from(
      { length: N },
      (_, i) =>
        new Promise<void>((resolve) =>
          otel.tracer.startActiveSpan(`caller ${i}`, (span) => {
            callers.set(i, span);
            subscribe(i, (value) => events.push(value), resolve);
            span.end();
          }),
        ),
    ),
  );
  return { callers, events };
}

describe('httpSubscriptionLink', () => {
  it('gives each of many concurrent subscriptions, and every event after timers, its caller', async () => {
    const client = createTRPCClient<AppRouter>({
      links: [traceContextLink(), sseSplitLink<AppRouter>(servers.standaloneUrl)],
    });
    const { callers, events } = await collect((i, onData, done) => {
      const sub = client.sub.subscribe(
        { i, count: 3 },
        {
          onData: (value) => {
            onData(value.data);
            if (value.data.n === 2) {
              sub.unsubscribe();
              done();
            }
          },
          onError: done,
        },
      );
    });
    expect(events).toHaveLength(N * 3);
    expect(mismatches(events, callers)).toEqual([]);
    // Queries on the same client still go through the batch link.
    const { callers: qc, results } = await concurrently((i) => mixed(client, i));
    expect(mismatches(results, qc)).toEqual([]);
  });
});

describe('wsLink', () => {
  const wsClient = () => wsTraceClient<AppRouter>(servers.wsUrl, { retryDelayMs: () => 10 });

  it('gives each of many concurrent queries and mutations its own caller', async () => {
    const { ws, trpc } = wsClient();
    try {
      const { callers, results } = await concurrently((i) => mixed(trpc, i));
      expect(mismatches(results, callers)).toEqual([]);
      // No input at all: matched by path and order.
      const again = await concurrently(() => trpc.noInput.query());
      expect(again.results).toHaveLength(N);
      expect(
        mismatches(
          again.results.map((result, i) => ({ ...result, i })),
          again.callers,
        ),
      ).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it('gives each of many concurrent subscriptions, and every event, its caller', async () => {
    const { ws, trpc } = wsClient();
    try {
      const { callers, events } = await collect((i, onData, done) => {
        trpc.sub.subscribe({ i, count: 3 }, { onData: (value) => onData(value.data), onComplete: done, onError: done });
      });
      expect(events).toHaveLength(N * 3);
      expect(mismatches(events, callers)).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it('keeps each subscription its caller after the server kills the connection', async () => {
    const { ws, trpc } = wsClient();
    try {
      const before = servers.connections();
      let killed = false;
      // Kill once every subscription has had its first event (not after a fixed delay: on a loaded machine
      // the subscriptions could all be over by then), so each has events left to resume.
      const started = new Set<number>();
      const { callers, events } = await collect((i, onData, done) => {
        trpc.sub.subscribe(
          { i: i + 1000, count: 12 },
          {
            onData: (value) => {
              onData({ ...value.data, i: i, afterKill: killed } as Seen & { n: number });
              started.add(i);
              if (!killed && started.size === N) {
                killed = true;
                for (const socket of servers.wss.clients) socket.terminate();
              }
            },
            onComplete: done,
            onError: done,
          },
        );
      });
      // One connection, killed once, one reconnect.
      expect(servers.connections()).toBe(before + 2);
      const afterKill = events.filter((event) => (event as unknown as { afterKill: boolean }).afterKill);
      expect(afterKill.length).toBeGreaterThan(N);
      // Each subscription resumed from its last event id: all 12 events, none lost, none twice.
      const byCaller = new Map<number, number[]>();
      for (const event of events) byCaller.set(event.i, [...(byCaller.get(event.i) ?? []), event.n]);
      const all = Array.from({ length: 12 }, (_, n) => n);
      expect([...byCaller.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
      for (const [i, ns] of byCaller) expect({ i, ns }).toEqual({ i, ns: all });
      expect(mismatches(events, callers)).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it('works against a server without the encoder or the middleware (WebSocket, batch, SSE)', async () => {
    const { startServers: start } = await import('./trpc-harness.js');
    const stock = await start(makeRouter({ middleware: false }), { encoder: false });
    const { ws: client, trpc } = wsTraceClient<AppRouter>(stock.wsUrl);
    try {
      const result = await trpc.a.q.query({ i: 1 });
      expect(result.i).toBe(1);
      const events: number[] = [];
      await new Promise<void>((resolve) =>
        trpc.sub.subscribe({ i: 2, count: 2 }, { onData: (v) => events.push(v.data.n), onComplete: resolve }),
      );
      expect(events).toEqual([0, 1]);
      // The HTTP links too: a stock server ignores the batch header and the URL parameter.
      const http = createTRPCClient<AppRouter>({
        links: [traceContextLink(), sseSplitLink<AppRouter>(stock.standaloneUrl)],
      });
      let x = '';
      const batch = await otel.tracer.startActiveSpan('x', (span) => {
        x = span.spanContext().spanId;
        return Promise.all([http.a.q.query({ i: 1 }), http.b.q.query({ i: 2 }), http.m.mutate({ i: 3 })]).finally(() =>
          span.end(),
        );
      });
      expect(batch.map((result) => result.i)).toEqual([1, 2, 3]);
      // Each operation still had its CLIENT span under the caller, whatever the server made of the header.
      const children = otel.exporter
        .getFinishedSpans()
        .filter((span) => span.kind === SpanKind.CLIENT && span.parentSpanContext?.spanId === x);
      expect(children.map((span) => span.name).sort()).toEqual(['a.q', 'b.q', 'm']);
      const sse: number[] = [];
      await new Promise<void>((resolve) => {
        const sub = http.sub.subscribe(
          { i: 4, count: 2 },
          {
            onData: (v) => {
              sse.push(v.data.n);
              if (sse.length === 2) {
                sub.unsubscribe();
                resolve();
              }
            },
          },
        );
      });
      expect(sse).toEqual([0, 1]);
    } finally {
      await client.close();
      await stock.close();
    }
  });
});

describe('wsLink beside other transports', () => {
  /** Subscribes to `ticks` under a caller of its own; resolves with its first events' trace ids once it has 3. */
  function tick(trpc: ReturnType<typeof createTRPCClient<AppRouter>>) {
    return otel.tracer.startActiveSpan('caller', (caller) => {
      const traces: string[] = [];
      let stop = () => {};
      const three = new Promise<void>((resolve, reject) => {
        const sub = trpc.ticks.subscribe(undefined, {
          onData: (value) => {
            traces.push(value.traceId);
            if (traces.length === 3) resolve();
          },
          onError: reject,
        });
        stop = () => sub.unsubscribe();
      });
      caller.end();
      return { traceId: caller.spanContext().traceId, traces, three, stop };
    });
  }

  it.each([
    ['start', 'traceContextUrl'],
    ['lifetime', 'traceContextUrl'],
    // A link none of our helpers sees: the operation's first answer takes it off the WebSocket's records.
    ['lifetime', 'a plain URL'],
  ] as const)(
    'a WebSocket subscription never takes an open SSE subscription of the same procedure and input (subscriptionSpan: %s, %s)',
    async (subscriptionSpan, url) => {
      const plain = httpSubscriptionLink({ url: servers.standaloneUrl, EventSource });
      const sse = createTRPCClient<AppRouter>({
        links: [
          traceContextLink({ subscriptionSpan }),
          url === 'traceContextUrl' ? sseSplitLink<AppRouter>(servers.standaloneUrl) : (plain as TRPCLink<AppRouter>),
        ],
      });
      const { ws, trpc } = wsTraceClient<AppRouter>(servers.wsUrl, { link: { subscriptionSpan } });
      const overSse = tick(sse);
      try {
        await overSse.three;
        const overWs = tick(trpc);
        try {
          await overWs.three;
          // Without the URL parameter the SSE subscription runs in a trace of the server's own.
          if (url === 'traceContextUrl') expect(overSse.traces.slice(0, 3)).toEqual(Array(3).fill(overSse.traceId));
          expect(overWs.traces.slice(0, 3)).toEqual(Array(3).fill(overWs.traceId));
        } finally {
          overWs.stop();
        }
      } finally {
        overSse.stop();
        await ws.close();
      }
    },
  );
});

describe('spans', () => {
  it('records errors on both sides with the tRPC error code; an expected code leaves the SERVER span unset', async () => {
    const client = createTRPCClient<AppRouter>({
      links: [traceContextLink(), httpBatchLink({ url: servers.standaloneUrl, headers: traceContextHeaders })],
    });
    await expect(client.fail.query({ i: 1 })).rejects.toThrow('nothing here');
    const spans = otel.exporter.getFinishedSpans().filter((span) => span.name === 'fail');
    expect(spans.map((span) => span.kind).sort()).toEqual([SpanKind.SERVER, SpanKind.CLIENT].sort());
    for (const span of spans) {
      // A CLIENT span fails for any error; NOT_FOUND is a code the procedure meant to return (#13).
      expect(span.status.code).toBe(span.kind === SpanKind.CLIENT ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
      expect(span.attributes['error.type']).toBe('NOT_FOUND');
    }
    const server = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(server?.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([
      ['exception', 'nothing here'],
    ]);
  });

  it('ends the client span when an operation is aborted', async () => {
    const client = createTRPCClient<AppRouter>({
      links: [traceContextLink(), httpLink({ url: servers.standaloneUrl, headers: traceContextHeaders })],
    });
    const controller = new AbortController();
    const promise = client.slow.query({ i: 1, delay: 5000 }, { signal: controller.signal });
    await sleep(20);
    controller.abort();
    await expect(promise).rejects.toThrow();
    const span = otel.exporter.getFinishedSpans().find((s) => s.name === 'slow' && s.kind === SpanKind.CLIENT);
    expect(span?.attributes['error.type']).toBe('AbortError');
  });

  it('with spans: false propagates the caller span itself and records nothing', async () => {
    const router = makeRouter({ spans: false });
    const own = await startServers(router);

    try {
      const client = createTRPCClient<AppRouter>({
        links: [
          traceContextLink({ spans: false }),
          httpBatchLink({ url: own.standaloneUrl, headers: traceContextHeaders }),
        ],
      });
      const { callers, results } = await underCallers(otel.tracer, 20, (i) => client.a.q.query({ i }));
      for (const result of results) expect(result.spanId).toBe(callers.get(result.i)?.spanContext().spanId);
      expect(otel.exporter.getFinishedSpans().filter((s) => s.name === 'a.q')).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it("subscriptionSpan: 'lifetime' keeps the spans open until the subscription ends", async () => {
    const own = await startServers(makeRouter({ subscriptionSpan: 'lifetime' }));

    const { ws: client, trpc } = wsTraceClient<AppRouter>(own.wsUrl, { link: { subscriptionSpan: 'lifetime' } });
    try {
      let firstEventAt = 0;
      await new Promise<void>((resolve) =>
        trpc.sub.subscribe(
          { i: 1, count: 3 },
          {
            onData: () => {
              firstEventAt ||= Date.now();
            },
            onComplete: resolve,
          },
        ),
      );
      // The SERVER span ends when the server's generator returns, which may be just after onComplete.
      await expect.poll(() => otel.exporter.getFinishedSpans().filter((span) => span.name === 'sub')).toHaveLength(2);
      const spans = otel.exporter.getFinishedSpans().filter((span) => span.name === 'sub');
      for (const span of spans) {
        const end = span.endTime[0] * 1000 + span.endTime[1] / 1e6;
        expect(end).toBeGreaterThan(firstEventAt);
      }
    } finally {
      await client.close();
      await own.close();
    }
  });

  it('ends subscription spans once established by default', async () => {
    const { ws, trpc } = wsTraceClient<AppRouter>(servers.wsUrl);
    const sub = trpc.sub.subscribe({ i: 1, count: 1000 }, { onData: () => undefined });
    try {
      // Both spans end while the subscription (1,000 events, several seconds) still runs. Polled, not a fixed
      // delay: on a loaded machine the subscription may take longer than that to be established.
      const ended = () => otel.exporter.getFinishedSpans().filter((span) => span.name === 'sub');
      await expect
        .poll(() =>
          ended()
            .map((span) => span.kind)
            .sort(),
        )
        .toEqual([SpanKind.SERVER, SpanKind.CLIENT].sort());
      const server = ended().find((span) => span.kind === SpanKind.SERVER);
      const client = ended().find((span) => span.kind === SpanKind.CLIENT);
      expect(server?.parentSpanContext?.spanId).toBe(client?.spanContext().spanId);
      expect(server?.spanContext().traceId).toBe(client?.spanContext().traceId);
      // No caller: the CLIENT span is a root, and nothing of it stays active in the test's context.
      expect(client?.parentSpanContext).toBeUndefined();
      expect(trace.getSpan(context.active())).toBeUndefined();
    } finally {
      sub.unsubscribe();
      await ws.close();
    }
  });
});
