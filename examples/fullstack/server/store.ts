import type { StoredSpan, StoredTrace } from '../shared/spans.ts';
import { formatTraceTree } from '../shared/spans.ts';

export interface TraceStoreOptions {
  /** Traces kept in memory; the oldest go first. */
  maxTraces?: number;
  /** A trace counts as finished this long after its last span arrived; then `onFinished` runs. */
  quietMs?: number;
  onFinished?: (trace: StoredTrace) => void;
}

/** Recent traces in memory, from both sides, keyed by trace id. */
export class TraceStore {
  readonly #traces = new Map<string, StoredSpan[]>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #max: number;
  readonly #quietMs: number;
  readonly #onFinished: ((trace: StoredTrace) => void) | undefined;

  constructor(options: TraceStoreOptions = {}) {
    this.#max = options.maxTraces ?? 200;
    this.#quietMs = options.quietMs ?? 1000;
    this.#onFinished = options.onFinished;
  }

  add(spans: readonly StoredSpan[]): void {
    for (const span of spans) {
      let list = this.#traces.get(span.traceId);
      if (!list) {
        list = [];
        this.#traces.set(span.traceId, list);
        while (this.#traces.size > this.#max) {
          const oldest = this.#traces.keys().next().value as string;
          this.#traces.delete(oldest);
          clearTimeout(this.#timers.get(oldest));
          this.#timers.delete(oldest);
        }
      }
      if (!list.some((s) => s.spanId === span.spanId)) list.push(span);
      this.#schedule(span.traceId);
    }
  }

  #schedule(traceId: string): void {
    if (!this.#onFinished) return;
    clearTimeout(this.#timers.get(traceId));
    const timer = setTimeout(() => {
      this.#timers.delete(traceId);
      const trace = this.get(traceId);
      if (trace) this.#onFinished?.(trace);
    }, this.#quietMs);
    timer.unref();
    this.#timers.set(traceId, timer);
  }

  get(traceId: string): StoredTrace | undefined {
    const spans = this.#traces.get(traceId);
    if (!spans || spans.length === 0) return undefined;
    const ids = new Set(spans.map((s) => s.spanId));
    const sorted = [...spans].sort((a, b) => a.startMs - b.startMs);
    const root = sorted.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? sorted[0]!;
    return {
      traceId,
      name: root.name,
      startMs: sorted[0]!.startMs,
      endMs: Math.max(...spans.map((s) => s.endMs)),
      spans: sorted,
    };
  }

  /** Newest first. */
  list(limit = 50): StoredTrace[] {
    const ids = [...this.#traces.keys()].reverse().slice(0, limit);
    return ids.map((id) => this.get(id)).filter((t): t is StoredTrace => t !== undefined);
  }

  clear(): void {
    this.#traces.clear();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

export function printTrace(trace: StoredTrace, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const sides = new Set(trace.spans.map((s) => s.side));
  write(
    `\n── ${trace.name} · ${trace.spans.length} spans · ${[...sides].join(' + ')}\n${formatTraceTree(trace.spans)}\n`,
  );
}
