// How the tRPC tests start operations under caller spans and find the spans they made: one copy, so each
// file's assertions read the same way.
import { context, ROOT_CONTEXT, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';

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
