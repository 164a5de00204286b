import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PreciseStartSpanProcessor } from '../shared/precise-start.ts';
import { SERVER_SERVICE, StoreSpanProcessor } from './otlp.ts';
import type { TraceStore } from './store.ts';

/** The collector to export to as well, from the standard OTLP environment variables, or `undefined`. */
export function collectorTracesUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key2=value2`, URL-encoded values), e.g. a collector's auth token. */
export function collectorHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = `${env.OTEL_EXPORTER_OTLP_HEADERS ?? ''},${env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? ''}`;
  for (const pair of raw.split(',')) {
    const index = pair.indexOf('=');
    if (index <= 0) continue;
    headers[pair.slice(0, index).trim()] = decodeURIComponent(pair.slice(index + 1).trim());
  }
  return headers;
}

/**
 * Starts the OpenTelemetry Node SDK: AsyncLocalStorage context, W3C trace context + baggage propagators, and
 * every span into the in-memory store; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, also to that collector.
 */
export function startTelemetry(store: TraceStore): { sdk: NodeSDK; collector: string | undefined } {
  const collector = collectorTracesUrl();
  // First: sub-millisecond start times, so the waterfall never draws a child after its parent ended.
  const spanProcessors: SpanProcessor[] = [new PreciseStartSpanProcessor(), new StoreSpanProcessor(store)];
  // The exporter reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout).
  if (collector) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': SERVER_SERVICE }),
    spanProcessors,
    instrumentations: [],
  });
  sdk.start();
  return { sdk, collector };
}
