// What the GraphQL client tests (Apollo Client 4 and 3, urql) check against the real Yoga fixture: each
// caller's chain caller span → CLIENT span → SERVER span → every resolver, and what went on the wire.
import type { Span, SpanKind } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import type { setupGraphqlTracing } from './graphql-fixture.js';
import {
  allSeen,
  PROBE_RESOLVERS,
  PROBE_SOURCE,
  type Seen,
  TICKS_RESOLVERS,
  TICKS_SOURCE,
} from './support/graphql-probe.js';
import { operationsOutsideCallerTrace } from './support/otel.js';

export { allSeen, PROBE_RESOLVERS, PROBE_SOURCE, type Seen, TICKS_RESOLVERS, TICKS_SOURCE };

/** A W3C traceparent for a finished span. */
export const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

export function clientChecks(tracing: ReturnType<typeof setupGraphqlTracing>) {
  const { exporter, tracer } = tracing as { exporter: InMemorySpanExporter; tracer: typeof tracing.tracer };
  const spansOf = (kind: SpanKind) =>
    exporter
      .getFinishedSpans()
      .filter((span) => span.kind === kind && span.instrumentationScope.name === 'otel-rpc-context');
  const childOf = (kind: SpanKind, parent: { spanId: string }) => {
    const found = spansOf(kind).filter((span) => span.parentSpanContext?.spanId === parent.spanId);
    expect(found).toHaveLength(1);
    return found[0] as ReadableSpan;
  };

  /** Runs `fn` as `name`'s caller: inside its own active span, ended when `fn` settles. */
  async function asCaller<T>(name: string, fn: () => Promise<T>): Promise<{ span: Span; result: T }> {
    return tracer.startActiveSpan(name, async (span) => {
      try {
        return { span, result: await fn() };
      } finally {
        span.end();
      }
    });
  }

  /**
   * Checks one operation's whole chain: caller span → CLIENT span → SERVER span → every resolver (`resolvers`
   * of them reported in `data`), and says what is not in the caller's trace (`[]` when all of it is).
   */
  function mismatchesOf(caller: Span, data: unknown, resolvers: number): string[] {
    const ours = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'otel-rpc-context');
    // The SDK's spans are readable: the caller's name says which operation failed.
    const label = (caller as Partial<ReadableSpan>).name;
    return operationsOutsideCallerTrace(ours, [
      { label, caller: caller.spanContext(), seen: allSeen(data), expectedSeen: resolvers },
    ]);
  }

  return { spansOf, childOf, asCaller, mismatchesOf };
}
