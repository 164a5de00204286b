// traceContextFetch on its own: which context the real fetch is called in, for every header shape and for
// bad input, plus a real tRPC batch over loopback. The browser proof is test/browser-instrumentation.test.ts.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_HEADER, traceContextFetch, traceContextHeaders, traceContextLink } from '../src/trpc.js';
import { resultsOutsideCallerTrace, traceEveryTest, underCallers } from './support/trpc-calls.js';
import { type AppRouter, makeRouter, type Servers, startServers } from './trpc-harness.js';

const A = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const B = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

interface Call {
  input: unknown;
  init: unknown;
  /** The span context active while the real fetch was called, `traceparent`-shaped. */
  active: string | undefined;
  baggage: string | undefined;
}

/** A fetch that records its arguments and the context it was called in, and answers 204. */
function recordingFetch(calls: Call[]) {
  return (input: unknown, init?: unknown) => {
    const active = context.active();
    const span = trace.getSpanContext(active);
    calls.push({
      input,
      init,
      active: span ? `00-${span.traceId}-${span.spanId}-0${span.traceFlags}` : undefined,
      baggage: propagation.getBaggage(active)?.getEntry('k')?.value,
    });
    return Promise.resolve(new Response(null, { status: 204 }));
  };
}

// Every span a call started has ended.
const tracing = traceEveryTest();

describe('traceContextFetch', () => {
  const send = async (headers: unknown, input: unknown = 'http://127.0.0.1:9/x') => {
    const calls: Call[] = [];
    const fetch = traceContextFetch({ fetch: recordingFetch(calls) });
    const init = headers === undefined ? undefined : { method: 'POST', headers };
    await context.with(ROOT_CONTEXT, () => fetch(input as string, init as RequestInit));
    expect(calls).toHaveLength(1);
    // Arguments pass through untouched, whatever the header held.
    expect(calls[0]?.input).toBe(input);
    expect(calls[0]?.init).toBe(init);
    return calls[0] as Call;
  };

  it('calls the real fetch inside the first entry that holds a valid span, with its baggage', async () => {
    const list = JSON.stringify([
      {},
      { traceparent: 'garbage' },
      { traceparent: A, baggage: 'k=a' },
      { traceparent: B },
    ]);
    const call = await send({ 'content-type': 'application/json', [BATCH_HEADER]: list });
    expect(call.active).toBe(A);
    expect(call.baggage).toBe('a');
  });

  it('reads every header shape: a record in any name case, Fetch Headers, [name, value] pairs, a Request', async () => {
    const list = JSON.stringify([{ traceparent: B }]);
    expect((await send({ 'X-Trpc-Trace-Context': list })).active).toBe(B);
    expect((await send(new Headers({ [BATCH_HEADER]: list }))).active).toBe(B);
    expect((await send([['X-TRPC-Trace-Context', list]])).active).toBe(B);
    const request = new Request('http://127.0.0.1:9/x', { headers: { [BATCH_HEADER]: list } });
    expect((await send(undefined, request)).active).toBe(B);
  });

  it('sends a request as is when nothing in it is usable, and never throws', async () => {
    const throwing = {
      get [BATCH_HEADER]() {
        throw new Error('hostile getter');
      },
    };
    const inputs: unknown[] = [
      {},
      { traceparent: A }, // the standard header alone says nothing about the operations
      { [BATCH_HEADER]: '[]' },
      { [BATCH_HEADER]: '[{}]' },
      { [BATCH_HEADER]: '[null, 1, "x", []]' },
      { [BATCH_HEADER]: `{"traceparent":"${A}"}` },
      { [BATCH_HEADER]: '[{"traceparent":"00-00000000000000000000000000000000-b7ad6b7169203331-01"}]' },
      { [BATCH_HEADER]: `[{"__proto__":{"traceparent":"${A}"}}]` },
      { [BATCH_HEADER]: `[{"traceparent":"${A}"}` }, // truncated JSON
      { [BATCH_HEADER]: JSON.stringify([{ traceparent: A, pad: 'x'.repeat(8200) }]) }, // past the cap
      { [BATCH_HEADER]: 42 },
      [['x', 1], null, 'junk'],
      throwing,
      null,
      undefined,
    ];
    for (const headers of inputs) {
      const call = await send(headers);
      expect({ headers, active: call.active }).toEqual({ headers, active: undefined });
      expect(call.baggage).toBeUndefined();
    }
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('looks up globalThis.fetch at call time (instrumentations patch it after the link is built)', async () => {
    const original = globalThis.fetch;
    const wrapped = traceContextFetch();
    const calls: Call[] = [];
    globalThis.fetch = recordingFetch(calls) as typeof fetch;
    try {
      await wrapped('http://127.0.0.1:9/x', { headers: { [BATCH_HEADER]: JSON.stringify([{ traceparent: A }]) } });
    } finally {
      globalThis.fetch = original;
    }
    expect(calls.map((call) => call.active)).toEqual([A]);
  });

  it("passes the real fetch's rejection through", async () => {
    const failing = traceContextFetch({ fetch: () => Promise.reject(new TypeError('offline')) });
    await expect(failing('http://127.0.0.1:9/x', { headers: {} })).rejects.toThrow('offline');
  });
});

describe('traceContextFetch with a real tRPC batch over loopback', () => {
  let servers: Servers;
  beforeAll(async () => {
    servers = await startServers(makeRouter());
  });
  afterAll(async () => {
    await servers.close();
  });

  it("each request's fetch runs in its first operation's context; each procedure still in its own caller's trace", async () => {
    const calls: Call[] = [];
    const record = recordingFetch(calls);
    const client = createTRPCClient<AppRouter>({
      links: [
        traceContextLink(),
        httpBatchLink({
          url: servers.standaloneUrl,
          headers: traceContextHeaders,
          // The recorder sees the context, then the real fetch sends the request.
          fetch: traceContextFetch({
            fetch: (input, init) => {
              record(input, init);
              return fetch(input, init);
            },
          }),
        }),
      ],
    });
    tracing.exporter.reset();
    // The batch leaves from a timer started in the root context, as in a browser.
    const { callers: spans, results } = await context.with(ROOT_CONTEXT, () =>
      underCallers(tracing.tracer, 20, (i) => client.a.q.query({ i })),
    );
    const callers = results.map((seen) => spans.get(seen.i)?.spanContext().traceId);
    expect(results.map((seen) => seen.traceId)).toEqual(callers);
    // Each procedure ran in its own SERVER span, the child of its own CLIENT span, the child of its caller.
    expect(resultsOutsideCallerTrace(tracing.exporter.getFinishedSpans(), results, spans)).toEqual([]);
    expect(calls).toHaveLength(1);
    // The request's fetch ran under operation 0's CLIENT span, the child of caller 0's span itself.
    const clientSpans = tracing.exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
    expect(clientSpans.map((span) => span.spanContext().traceId).sort()).toEqual([...callers].sort());
    const first = clientSpans.find((span) => span.spanContext().traceId === callers[0]);
    expect(first?.parentSpanContext?.spanId).toBe(spans.get(0)?.spanContext().spanId);
    expect(calls[0]?.active).toBe(`00-${callers[0]}-${first?.spanContext().spanId}-01`);
  });
});
