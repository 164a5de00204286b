import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { PreciseStartSpanProcessor } from '../shared/precise-start.ts';

/**
 * OpenTelemetry in the page: a web tracer provider whose spans go to the example server over OTLP/HTTP
 * (JSON), which keeps them next to its own. `register()` installs the W3C trace context + baggage
 * propagators the links inject with, and a StackContextManager (so the context is lost across `await`;
 * each click is a `startAction` scope, which the links fall back to after one).
 */
export function startBrowserTelemetry() {
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'fullstack-browser' }),
    spanProcessors: [
      // First: sub-millisecond start times (the SDK starts spans at Date.now(), whole milliseconds).
      new PreciseStartSpanProcessor(),
      new BatchSpanProcessor(new OTLPTraceExporter({ url: new URL('/v1/traces', window.location.href).href }), {
        scheduledDelayMillis: 200,
      }),
    ],
  });
  provider.register();
  return { tracer: trace.getTracer('fullstack-browser'), flush: () => provider.forceFlush() };
}
