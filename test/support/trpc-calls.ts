// How the tRPC tests start operations under caller spans and find the spans they made: one copy, so each
// file's assertions read the same way.
import { context, ROOT_CONTEXT, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, expect } from 'vitest';
import { expectNoOpenSpans, operationsOutsideCallerTrace, setupTracingWithOpenSpans } from './otel.js';

/**
 * For a test file, called at its top level: registers tracing with an open-span count, starts each test with an
 * empty exporter, and fails any test that leaves a span open (then resets the exporter and runs `cleanup` either
 * way, so one test's spans never reach the next).
 */
export function traceEveryTest(cleanup?: () => void) {
  const tracing = setupTracingWithOpenSpans();
  beforeEach(() => tracing.exporter.reset());
  afterEach(() => expectNoOpenSpans(tracing, cleanup));
  return tracing;
}

/**
 * Runs `fn` under a fresh caller span in an otherwise empty context (nothing of the test runner's context
 * leaks in); the caller ends once `fn` settled, whether it resolved or threw.
 */
export function asCaller<T>(tracer: Tracer, fn: (caller: Span) => Promise<T>): Promise<{ caller: Span; value: T }> {
  return context.with(ROOT_CONTEXT, () =>
    tracer.startActiveSpan('caller', async (caller) => {
      try {
        return { caller, value: await fn(caller) };
      } finally {
        caller.end();
      }
    }),
  );
}

/**
 * Starts `call(i)` for `count` operations at once, each inside its own span `caller i` (ended as soon as the call
 * started, as a click handler's span is), and waits for them all.
 */
export async function underCallers<T>(
  tracer: Tracer,
  count: number,
  call: (i: number) => Promise<T>,
): Promise<{ callers: Map<number, Span>; results: T[] }> {
  const callers = new Map<number, Span>();
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      tracer.startActiveSpan(`caller ${i}`, (span) => {
        callers.set(i, span);
        const promise = call(i);
        span.end();
        return promise;
      }),
    ),
  );
  return { callers, results };
}

/** The finished spans named `name` of one kind. */
export function spansNamed(exporter: InMemorySpanExporter, name: string, kind: SpanKind): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name && span.kind === kind);
}

/** The one finished span named `name` of that kind; fails the test when there is none or more than one. */
export function oneSpan(exporter: InMemorySpanExporter, name: string, kind: SpanKind): ReadableSpan {
  const found = spansNamed(exporter, name, kind);
  expect(found, `${SpanKind[kind]} spans named ${name}`).toHaveLength(1);
  return found[0] as ReadableSpan;
}

/** What a procedure reported: its operation's index and the span it ran in. */
interface Reported {
  i: number;
  traceId: string;
  spanId: string;
}

/**
 * The results (or events) whose procedure did not run in a SERVER span that is the child of the CLIENT span of
 * their own caller (`callers` by index), one line each. Each result is judged on its own: a resumed
 * subscription's later events have a SERVER span of their own under the same CLIENT span.
 */
export function resultsOutsideCallerTrace(
  spans: readonly ReadableSpan[],
  results: readonly Reported[],
  callers: Map<number, Span>,
): string[] {
  return operationsOutsideCallerTrace(
    spans,
    results.map((result) => ({
      label: `op ${result.i}`,
      caller: callers.get(result.i)?.spanContext() ?? { traceId: '', spanId: '' },
      seen: [result],
      expectedSeen: 1,
    })),
  );
}
