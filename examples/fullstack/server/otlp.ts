import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { StoredSpan } from '../shared/spans.ts';
import type { TraceStore } from './store.ts';

/** The server's `service.name`. */
export const SERVER_SERVICE = process.env.OTEL_SERVICE_NAME ?? 'fullstack-server';

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
const STATUSES = ['UNSET', 'OK', 'ERROR'] as const;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;
const array = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** OTLP/JSON ids are hex; protobuf-style JSON encoders may send base64. */
function hexId(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^[0-9a-f]+$/i.test(value)) return value.toLowerCase();
  try {
    return Buffer.from(value, 'base64').toString('hex');
  } catch {
    return undefined;
  }
}

/** OTLP/JSON nanoseconds: a decimal string, a number, or `{ low, high }` long bits. */
function nanosToMs(value: unknown): number {
  if (typeof value === 'string') return Number(BigInt(value) / 1000n) / 1000;
  if (typeof value === 'number') return value / 1e6;
  if (isObject(value) && typeof value.low === 'number' && typeof value.high === 'number') {
    return ((value.high >>> 0) * 2 ** 32 + (value.low >>> 0)) / 1e6;
  }
  return 0;
}

function anyValue(value: unknown): string | number | boolean | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return JSON.stringify(value.arrayValue);
  return undefined;
}

function attributes(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const entry of array(list)) {
    if (!isObject(entry) || typeof entry.key !== 'string') continue;
    const value = anyValue(entry.value);
    if (value !== undefined) out[entry.key] = value;
  }
  return out;
}

/**
 * Spans of an OTLP/HTTP JSON `ExportTraceServiceRequest`, as sent by the browser's exporter. Spans of the
 * `serverService` (when this server stands in as another one's collector) count as server spans.
 */
export function parseOtlpJson(body: unknown, serverService = SERVER_SERVICE): StoredSpan[] {
  const spans: StoredSpan[] = [];
  if (!isObject(body)) return spans;
  for (const resourceSpans of array(body.resourceSpans)) {
    if (!isObject(resourceSpans)) continue;
    const resource = isObject(resourceSpans.resource) ? attributes(resourceSpans.resource.attributes) : {};
    const service = String(resource['service.name'] ?? 'unknown');
    const side: StoredSpan['side'] = service === serverService ? 'server' : 'client';
    for (const scopeSpans of array(resourceSpans.scopeSpans)) {
      if (!isObject(scopeSpans)) continue;
      const scope =
        isObject(scopeSpans.scope) && typeof scopeSpans.scope.name === 'string' ? scopeSpans.scope.name : '';
      for (const raw of array(scopeSpans.spans)) {
        if (!isObject(raw)) continue;
        const traceId = hexId(raw.traceId);
        const spanId = hexId(raw.spanId);
        if (!traceId || !spanId) continue;
        const kind = typeof raw.kind === 'number' ? KINDS[raw.kind - 1] : undefined;
        const code = isObject(raw.status) && typeof raw.status.code === 'number' ? raw.status.code : 0;
        spans.push({
          traceId,
          spanId,
          parentSpanId: hexId(raw.parentSpanId),
          name: typeof raw.name === 'string' ? raw.name : '(unnamed)',
          side,
          service,
          kind: kind ?? 'INTERNAL',
          startMs: nanosToMs(raw.startTimeUnixNano),
          endMs: nanosToMs(raw.endTimeUnixNano),
          attributes: attributes(raw.attributes),
          status: STATUSES[code] ?? 'UNSET',
          scope,
        });
      }
    }
  }
  return spans;
}

const hrToMs = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6;

export function fromReadableSpan(span: ReadableSpan): StoredSpan {
  const context = span.spanContext();
  const attrs: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(span.attributes)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') attrs[key] = value;
    else if (value !== undefined) attrs[key] = JSON.stringify(value);
  }
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    side: 'server',
    service: String(span.resource.attributes['service.name'] ?? 'server'),
    kind: KINDS[span.kind] ?? 'INTERNAL',
    startMs: hrToMs(span.startTime),
    endMs: hrToMs(span.endTime),
    attributes: attrs,
    status: STATUSES[span.status.code] ?? 'UNSET',
    scope: span.instrumentationScope.name,
  };
}

/** Puts every span the server's SDK ends into the in-memory store. */
export class StoreSpanProcessor implements SpanProcessor {
  readonly #store: TraceStore;
  constructor(store: TraceStore) {
    this.#store = store;
  }
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.#store.add([fromReadableSpan(span)]);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
