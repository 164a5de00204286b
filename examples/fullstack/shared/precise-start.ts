import type { Context, HrTime } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** How far the precise clock may drift from `Date.now()` before it is re-anchored, in milliseconds. */
const MAX_DRIFT_MS = 2;

/**
 * Sub-millisecond start times for the waterfall. The OpenTelemetry JS SDK (2.x) starts a span at
 * `Date.now()`, whole milliseconds, and ends it at that start plus a `performance.now()` duration, precise to
 * microseconds. A child that starts in the next millisecond after a parent shorter than a millisecond is then
 * drawn starting after its parent ended (seen as 6 of 90 parent/child pairs in one run of the example).
 *
 * Registered first among the span processors, this restamps each span's start, as it starts, on one precise
 * clock: `performance.now()` anchored to `Date.now()` (re-anchored if the two drift apart by more than
 * 2 ms, e.g. after a laptop sleeps). The SDK adds the measured duration to this start when the span ends, so
 * starts and ends of every span of the process share that clock, and a child always lies inside its parent.
 * Spans given an explicit `startTime` are left alone. It relies on the SDK's `Span.startTime` being a plain
 * field read again at `end()` (true of SDK 2.x); for the example only, not a pattern for production code.
 */
export class PreciseStartSpanProcessor implements SpanProcessor {
  #wallMs = Date.now();
  #perfMs = performance.now();

  /** Now, in epoch milliseconds with the sub-millisecond part, on the anchored precise clock. */
  now(): number {
    let ms = this.#wallMs + (performance.now() - this.#perfMs);
    if (Math.abs(ms - Date.now()) > MAX_DRIFT_MS) {
      this.#wallMs = Date.now();
      this.#perfMs = performance.now();
      ms = this.#wallMs;
    }
    return ms;
  }

  onStart(span: Span, _parentContext: Context): void {
    const writable = span as unknown as { startTime: HrTime; _startTimeProvided?: boolean };
    if (writable._startTimeProvided === true || !Array.isArray(writable.startTime)) return;
    const ms = this.now();
    const seconds = Math.floor(ms / 1000);
    writable.startTime = [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
