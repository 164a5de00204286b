// Big but legal baggage (the W3C limit is 8,192 bytes) over tRPC's HTTP links, against the standalone adapter
// and Node's default 16 KiB limit for a request's headers: the standard headers and `x-trpc-trace-context`
// together must stay under it, or the server answers 431 and the call fails. Every call succeeds, runs in its
// caller's trace, and keeps the baggage it can; with instrumentation-undici setting the standard headers too.
import type { AddressInfo } from 'node:net';
import { type Baggage, context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createTRPCClient, httpBatchLink, httpLink, type TRPCLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_HEADER, MAX_TRACE_HEADERS_LENGTH } from '../src/trpc/batch-header.js';
import { traceContextHeaders, traceContextLink, traceContextMiddleware } from '../src/trpc.js';
import { traceEveryTest } from './support/trpc-calls.js';

const otel = traceEveryTest();

const t = initTRPC.context<{ req: unknown }>().create();
const router = t.router({
  /** What the procedure runs in: its trace and the baggage it sees. */
  seen: t.procedure.use(traceContextMiddleware({ spans: false })).query(() => {
    const active = context.active();
    const baggage = propagation.getBaggage(active);
    return { traceId: trace.getSpanContext(active)?.traceId, baggage: baggageSize(baggage) };
  }),
});
type Router = typeof router;

function baggageSize(baggage: Baggage | undefined) {
  const entries = baggage?.getAllEntries() ?? [];
  return { entries: entries.length, characters: entries.reduce((sum, [, entry]) => sum + entry.value.length, 0) };
}

let url = '';
const sentHeaders: Record<string, string | string[] | undefined>[] = [];
const server = createHTTPServer({ router, createContext: ({ req }) => ({ req }) });
server.on('request', (req) => sentHeaders.push(req.headers));
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/**
 * Runs `calls` concurrent queries under one caller whose baggage takes about `size` characters on the wire, in
 * entries of at most 4,000 (the W3C propagator drops a longer one). `sent`: the baggage's size as the
 * propagator carries it (`{ entries, characters }`), what a procedure should see.
 */
async function callWithBaggage(link: TRPCLink<Router>, size: number, calls = 1) {
  const client = createTRPCClient<Router>({ links: [traceContextLink({ spans: false }), link] });
  const entries: Record<string, { value: string }> = {};
  for (let i = 0, left = size; left > 0; i++, left -= 4_000)
    entries[`b${i}`] = { value: 'v'.repeat(Math.min(left, 4_000) - 4) };
  const withBaggage = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(entries));
  const carrier: Record<string, string> = {};
  propagation.inject(withBaggage, carrier);
  const sent = baggageSize(propagation.getBaggage(propagation.extract(ROOT_CONTEXT, carrier)));
  return context.with(withBaggage, () =>
    otel.tracer.startActiveSpan('caller', async (caller) => {
      try {
        const results = await Promise.all(Array.from({ length: calls }, () => client.seen.query()));
        return { traceId: caller.spanContext().traceId, results, sent };
      } finally {
        caller.end();
      }
    }),
  );
}

/** Characters of the trace context headers of the last request: the standard ones and the batch header. */
function traceHeaderLength(): number {
  const headers = sentHeaders.at(-1) ?? {};
  return standardLength() + String(headers[BATCH_HEADER] ?? '').length;
}

/** Characters of the standard trace context headers of the last request. */
function standardLength(): number {
  const headers = sentHeaders.at(-1) ?? {};
  return ['traceparent', 'tracestate', 'baggage']
    .map((name) => String(headers[name] ?? '').length)
    .reduce((a, b) => a + b, 0);
}

// Sizes around where the two copies of the baggage pass 16 KiB together, and the W3C limit's neighbourhood.
const SIZES = [4_000, 7_000, 8_040, 8_080, 8_100, 8_150, 9_000];

describe.each([
  ['httpLink', () => httpLink<Router>({ url, headers: traceContextHeaders }), 1],
  ['httpBatchLink, alone', () => httpBatchLink<Router>({ url, headers: traceContextHeaders }), 1],
  ['httpBatchLink, batch of 3', () => httpBatchLink<Router>({ url, headers: traceContextHeaders }), 3],
] as const)('%s', (_name, link, calls) => {
  it.each([false, true])('every call succeeds in its caller trace with big baggage (undici: %s)', async (undici) => {
    const instrumentation = new UndiciInstrumentation();
    if (undici) instrumentation.enable();
    else instrumentation.disable();
    try {
      for (const size of SIZES) {
        const { traceId, results, sent } = await callWithBaggage(link(), size, calls);
        expect(sent.entries).toBeGreaterThan(0);
        expect(results.map((result) => result.traceId)).toEqual(Array(calls).fill(traceId));
        // The batch header never takes the trace context headers past the limit; where the standard ones alone
        // pass it (baggage at the W3C limit), the batch header says only "as the standard headers" for the first.
        if (!undici)
          expect(traceHeaderLength()).toBeLessThanOrEqual(Math.max(MAX_TRACE_HEADERS_LENGTH, standardLength() + 6));
        // A lone operation keeps its baggage whole: it travels once, in the standard header.
        expect(results[0]?.baggage).toEqual(sent);
      }
    } finally {
      instrumentation.disable();
    }
  });
});
