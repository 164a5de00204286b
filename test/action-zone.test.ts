// User actions under ZoneContextManager with zone.js loaded in Node (Angular's server rendering, jsdom test
// runners): zone.js swaps the global Promise for its own and, here, runs all of its queued microtasks within one
// native microtask, while native `await` keeps native promises. A claim counted on the global Promise's turns was
// over before the user's first `await` resumed; it must last as many of the user's own turns as without zone.js.
// (In Chromium, zone.js interleaves its microtasks with native ones: test/action-browser.test.ts runs its page
// under ZoneContextManager too.) Runs in its own test file: zone.js patches this worker's globals for good.
import 'zone.js';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import { ZoneContextManager } from '@opentelemetry/context-zone-peer-dep';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Action } from '../src/core/action.js';
import { callerContext } from '../src/core/action-scope.js';
import { startAction } from '../src/index.js';
import { traceContextHeaders, traceContextLink, traceContextMiddleware } from '../src/trpc.js';

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('zone');
const open: Action[] = [];

beforeAll(() => {
  context.disable();
  context.setGlobalContextManager(new ZoneContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterEach(() => {
  for (const action of open.splice(0)) action.end();
  exporter.reset();
});
// Each test starts in a task of its own, as an event handler does.
beforeEach(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));

function click(name: string): Span {
  const span = tracer.startSpan(name, {}, ROOT_CONTEXT);
  open.push(startAction(span));
  return span;
}
const parentOfOperation = () => trace.getSpan(callerContext())?.spanContext().spanId ?? 'root';

/** `n` native awaits, as an `async` function compiled for today's browsers takes them. */
async function nativeAwaits(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}
/** `n` turns of zone.js's Promise, as a library transpiled to `.then` chains takes them. */
function zoneTurns(n: number): Promise<void> {
  let chain = Promise.resolve();
  for (let i = 0; i < n; i++) chain = chain.then(() => undefined);
  return chain;
}

describe('a user action under ZoneContextManager', () => {
  it('zone.js is loaded: the global Promise is its own', () => {
    expect((Promise as unknown as { name?: string }).name).toBe('ZoneAwarePromise');
    expect(typeof (globalThis as { Zone?: unknown }).Zone).toBe('function');
  });

  it.each([1, 3, 40])('gives operations its span after %i native awaits of the task that started it', async (n) => {
    const span = click('click');
    await nativeAwaits(n);
    expect(context.active()).toBe(ROOT_CONTEXT); // the context manager forgot it
    expect(parentOfOperation()).toBe(span.spanContext().spanId);
  });

  it('and after zone.js promise chains, and both mixed', async () => {
    const span = click('click');
    await zoneTurns(10);
    await nativeAwaits(3);
    await zoneTurns(10);
    expect(parentOfOperation()).toBe(span.spanContext().spanId);
  });

  it('never reaches into the next task', async () => {
    click('click');
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(parentOfOperation()).toBe('root');
  });
});

describe('a click whose handler awaits before calling tRPC, over loopback', () => {
  const t = initTRPC.context<{ req: unknown }>().create();
  const router = t.router({
    create: t.procedure
      .use(traceContextMiddleware({ spans: false }))
      .mutation(() => trace.getSpanContext(context.active())?.traceId ?? 'none'),
  });
  const server = createHTTPServer({ router, createContext: ({ req }) => ({ req }) });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('runs the procedure in the click trace, with the CLIENT span under the click', async () => {
    const client = createTRPCClient<typeof router>({
      links: [traceContextLink(), httpLink({ url, headers: traceContextHeaders })],
    });
    const span = click('click');
    // What a mutationFn does: awaits (a token, a validation) before it calls the client.
    const traceId = await (async () => {
      await nativeAwaits(2);
      return client.create.mutate();
    })();
    expect(traceId).toBe(span.spanContext().traceId);
    const clientSpan = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });
});
