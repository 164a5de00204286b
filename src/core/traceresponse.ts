import { type Span, type SpanContext, trace } from '@opentelemetry/api';

/**
 * W3C Trace Context Level 2 `traceresponse`: `00-{trace-id}-{span-id}-{flags}`, the server
 * span's own context, sent back so a caller can link its span to the server's trace.
 */
const TRACE_RESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Formats a span context as a W3C `traceresponse` value (`00-{trace-id}-{span-id}-{flags}`).
 * Returns `undefined` for an invalid span context (a non-recording or no-op span).
 */
export function formatTraceResponse(spanContext: SpanContext | undefined): string | undefined {
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * Parses a W3C `traceresponse` value strictly: version `00`, lowercase hex, 32/16/2 digits,
 * non-zero trace and span ids. Anything else (other types, other versions, extra text) is
 * `undefined`. The result is a remote span context, usable as a span link.
 */
export function parseTraceResponse(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string' || value.length !== 55) return undefined;
  const match = TRACE_RESPONSE.exec(value);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
  };
  return trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * Links a CLIENT span to the SERVER span a `traceresponse` named. `Span.addLink` arrived in
 * @opentelemetry/api 1.9; with an older API the value is recorded as the attribute `fallbackAttribute`.
 * Never throws.
 */
export function linkServerSpan(span: Span, server: SpanContext, fallbackAttribute: string): void {
  try {
    if (typeof (span as { addLink?: unknown }).addLink === 'function') span.addLink({ context: server });
    else span.setAttribute(fallbackAttribute, formatTraceResponse(server) as string);
  } catch {
    // A span that takes neither: nothing to record.
  }
}
