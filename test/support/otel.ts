import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
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
  };
}

/** {@link setupTracing} plus a count of the spans started and not yet ended. */
export function setupTracingWithOpenSpans(extraProcessors: SpanProcessor[] = []) {
  const { processor, openSpans, openSpanNames } = openSpanCounter();
  return { ...setupTracing([processor, ...extraProcessors]), openSpans, openSpanNames };
}

/**
 * For `afterEach`: waits (up to `timeout` ms) until every span the test started has ended, then resets the
 * exporter and runs `cleanup` whatever happened, so a failing test cannot carry its spans into the next.
 */
export async function expectNoOpenSpans(
  tracing: { openSpanNames: () => string[]; exporter: InMemorySpanExporter },
  cleanup?: () => void,
  timeout = 5000,
) {
  try {
    await expect.poll(tracing.openSpanNames, { timeout }).toEqual([]);
  } finally {
    tracing.exporter.reset();
    cleanup?.();
  }
}
