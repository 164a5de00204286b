import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';

/** Registers a real tracer provider, AsyncLocalStorage context manager and W3C propagators globally. */
export function setupTracing(extraProcessors: SpanProcessor[] = []) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [...extraProcessors, new SimpleSpanProcessor(exporter)] });
  trace.disable();
  context.disable();
  propagation.disable();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  return { exporter, provider, tracer: trace.getTracer('test') };
}

/**
 * A SpanProcessor that keeps every span started and not yet ended, so a test can show that no operation
 * leaves a span open (an error, a cancel, a bad carrier, a killed connection).
 */
export function openSpanCounter() {
  const open = new Map<object, string>();
  const processor: SpanProcessor = {
    onStart: (span) => void open.set(span, span.name),
    onEnd: (span) => void open.delete(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  return {
    processor,
    /** How many spans are open now. */
    openSpans: () => open.size,
    /** The names of the spans open now, sorted (a failing check then says which). */
    openSpanNames: () => [...open.values()].sort(),
    /** Forgets the spans open now: one leak then fails its own test, not every test after it. */
    forgetOpenSpans: () => open.clear(),
  };
}

/** {@link setupTracing} plus a count of the spans started and not yet ended. */
export function setupTracingWithOpenSpans(extraProcessors: SpanProcessor[] = []) {
  const { processor, openSpans, openSpanNames, forgetOpenSpans } = openSpanCounter();
  return { ...setupTracing([processor, ...extraProcessors]), openSpans, openSpanNames, forgetOpenSpans };
}

/**
 * For `afterEach`: waits (up to `timeout` ms) until every span the test started has ended, then resets the
 * exporter, forgets the open spans and runs `cleanup` whatever happened, so a failing test cannot carry its
 * spans (or its leak) into the next.
 */
export async function expectNoOpenSpans(
  tracing: { openSpanNames: () => string[]; exporter: InMemorySpanExporter; forgetOpenSpans?: () => void },
  cleanup?: () => void,
  timeout = 5000,
) {
  try {
    await expect.poll(tracing.openSpanNames, { timeout }).toEqual([]);
  } finally {
    tracing.exporter.reset();
    tracing.forgetOpenSpans?.();
    cleanup?.();
  }
}

/** A span's ids, as `span.spanContext()` gives them or as server code reports what it saw active. */
export interface SpanIds {
  traceId: string | null;
  spanId: string | null;
}

/** One operation started under a caller span, for {@link operationsOutsideCallerTrace}. */
export interface CallerOperation {
  /** Names the operation in a failure message (its index when left out). */
  label?: string;
  /** The span active where the operation was started. */
  caller: { traceId: string; spanId: string };
  /**
   * What the operation's server-side code (procedure, resolvers) reported as its active span: each must be the
   * operation's SERVER span. Left out, only the CLIENT → SERVER chain is checked.
   */
  seen?: readonly SpanIds[];
  /** How many `seen` entries the operation must report (a result that lost a resolver is a mismatch too). */
  expectedSeen?: number;
}

/**
 * The one mismatch counter of the integration tests: given the exported spans, names every operation that did
 * not run in its caller's trace, i.e. whose CLIENT span is not the caller's child, whose SERVER span is not that
 * CLIENT span's child, either of them in another trace, or whose server-side code saw another active span than
 * that SERVER span. Returns one line per wrong operation (`[]` when every operation is right), so a failing
 * `toEqual([])` says which ones and why.
 */
export function operationsOutsideCallerTrace(
  spans: readonly ReadableSpan[],
  operations: Iterable<CallerOperation>,
): string[] {
  const childrenOf = childrenByParent(spans);
  const wrong: string[] = [];
  let index = 0;
  for (const operation of operations) {
    const why = whyOutsideCallerTrace(childrenOf, operation);
    if (why) wrong.push(`${operation.label ?? `operation ${index}`}: ${why}`);
    index++;
  }
  return wrong;
}

function childrenByParent(spans: readonly ReadableSpan[]): Map<string, ReadableSpan[]> {
  const children = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    if (parent) children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  return children;
}

/** Why one operation is outside its caller's trace, or `undefined` when it is not. */
function whyOutsideCallerTrace(
  childrenOf: Map<string, ReadableSpan[]>,
  operation: CallerOperation,
): string | undefined {
  const { caller, seen = [], expectedSeen } = operation;
  const inCallerTrace = (span: ReadableSpan) => span.spanContext().traceId === caller.traceId;
  const clients = (childrenOf.get(caller.spanId) ?? []).filter((span) => span.kind === SpanKind.CLIENT);
  if (clients.length === 0) return 'no CLIENT span under its caller';
  if (!clients.every(inCallerTrace)) return "a CLIENT span outside its caller's trace";
  const servers = clients.flatMap((client) =>
    (childrenOf.get(client.spanContext().spanId) ?? []).filter((span) => span.kind === SpanKind.SERVER),
  );
  if (servers.length === 0) return 'no SERVER span under its CLIENT span';
  if (!servers.every(inCallerTrace)) return "a SERVER span outside its caller's trace";
  if (expectedSeen !== undefined && seen.length !== expectedSeen) return `${seen.length} of ${expectedSeen} reports`;
  // Every report must name the same SERVER span, and one of this operation's own.
  const server = servers.find((span) => span.spanContext().spanId === seen[0]?.spanId) ?? servers[0];
  const { traceId, spanId } = server?.spanContext() ?? {};
  const off = seen.filter((entry) => entry.traceId !== traceId || entry.spanId !== spanId).length;
  return off > 0 ? `${off} of ${seen.length} reports not under its SERVER span` : undefined;
}
