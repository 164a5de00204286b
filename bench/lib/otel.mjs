// OpenTelemetry set-up shared by every bench process: the same SDK in every variant, plus the
// auto-instrumentations that a variant asks for, registered before any app module is loaded.
import { createRequire, register } from 'node:module';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/**
 * Discards spans after counting them. The export itself (serialisation, network) is the same cost
 * whatever produced the spans, so it is left out; span creation, attributes and ending are in.
 */
class CountingExporter {
  count = 0;
  export(spans, done) {
    this.count += spans.length;
    done({ code: 0 });
  }
  shutdown() {
    return Promise.resolve();
  }
  forceFlush() {
    return Promise.resolve();
  }
}

/**
 * Collects only when asked (once per measurement, after it): the SDK aggregates every histogram record as
 * it would in production, and nothing is exported, so exporter I/O (the same whoever records) is left out.
 */
async function heldReader() {
  const { MetricReader } = await import('@opentelemetry/sdk-metrics');
  return new (class HeldMetricReader extends MetricReader {
    onForceFlush() {
      return Promise.resolve();
    }
    onShutdown() {
      return Promise.resolve();
    }
  })();
}

/**
 * Registers a NodeTracerProvider (AsyncLocalStorage context manager, W3C trace context + baggage
 * propagators, always-on sampling, BatchSpanProcessor) and the instrumentations named in `instrument`
 * (`http`, `undici`, `graphql`). Call it before importing tRPC, graphql or graphql-yoga.
 *
 * With `counters` (bench/lib/count.mjs), the same SDK pieces are registered behind counting wrappers.
 *
 * With `metrics`, a MeterProvider from @opentelemetry/sdk-metrics is registered globally too, its one reader
 * collected only by {@link histogramRecords}. Without it, no MeterProvider is registered: the metrics API
 * stays the no-op one, and our duration histograms record nothing.
 */
export async function setupOtel(instrument = [], { counters, metrics: withMetrics = false } = {}) {
  const exporter = new CountingExporter();
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 65536, maxExportBatchSize: 4096 });
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  if (counters) {
    // What provider.register() does, with each piece wrapped.
    const propagator = new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    });
    trace.setGlobalTracerProvider(counters.tracerProvider(provider));
    context.setGlobalContextManager(counters.contextManager(new AsyncLocalStorageContextManager().enable()));
    propagation.setGlobalPropagator(counters.propagator(propagator));
  } else {
    provider.register();
  }

  let meterProvider;
  let reader;
  if (withMetrics) {
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    reader = await heldReader();
    meterProvider = new MeterProvider({ readers: [reader] });
    if (!metrics.setGlobalMeterProvider(meterProvider)) throw new Error('a global MeterProvider was already set');
  }

  if (instrument.length > 0) {
    // ESM modules (graphql's .mjs, as graphql-yoga loads it) are only patchable through the loader hook.
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
    const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
    const instrumentations = [];
    if (instrument.includes('http')) {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      instrumentations.push(new HttpInstrumentation());
    }
    if (instrument.includes('undici')) {
      const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
      instrumentations.push(new UndiciInstrumentation());
    }
    if (instrument.includes('graphql')) {
      const { GraphQLInstrumentation } = await import('@opentelemetry/instrumentation-graphql');
      // Comparable work: operation-level spans (parse, validate, execute), no span per resolver.
      instrumentations.push(new GraphQLInstrumentation({ ignoreResolveSpans: true, mergeItems: true }));
    }
    registerInstrumentations({ tracerProvider: provider, instrumentations });
    // node:http is patched when it is first required; ESM importers share the patched prototypes.
    const require = createRequire(import.meta.url);
    require('node:http');
    require('node:https');
  }

  // The client-side contexts operations start from: sampled spans, as after a click, each in its own
  // trace. Consecutive operations (the ten of a batch too) come from different callers, so a server
  // that gives a whole request one context runs most of a batch in the wrong trace, and the probe sees it.
  const tracer = trace.getTracer('bench');
  const callers = Array.from({ length: 64 }, (_, i) => {
    const span = tracer.startSpan(`bench caller ${i}`);
    return { context: trace.setSpan(context.active(), span), traceId: span.spanContext().traceId };
  });
  let nextCaller = 0;
  let joined = 0;

  return {
    provider,
    tracer,
    /** The context calls start in: that of the first caller. */
    callerContext: callers[0].context,
    /**
     * Runs `fn` as the next caller (round robin): `fn` gets that caller's trace id, to send along in the
     * operation's input so that the server can {@link probe} it.
     */
    asCaller(fn) {
      const caller = callers[nextCaller];
      nextCaller = (nextCaller + 1) % callers.length;
      return context.with(caller.context, fn, undefined, caller.traceId);
    },
    /**
     * Called by every procedure, resolver and subscription event on the server with the trace id its
     * caller sent: counts those that run in their own caller's trace, i.e. whose context crossed the wire.
     */
    probe(expectedTraceId) {
      if (trace.getSpanContext(context.active())?.traceId === expectedTraceId) joined++;
    },
    joined: () => joined,
    /** The MeterProvider registered globally (`metrics`), else undefined. */
    meterProvider,
    /**
     * Histogram records so far (the sum of every histogram data point's count; cumulative), collected
     * through the held reader; undefined without `metrics`.
     */
    async histogramRecords() {
      if (!reader) return undefined;
      const { resourceMetrics } = await reader.collect();
      let count = 0;
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          for (const point of metric.dataPoints) count += point.value?.count ?? 0;
        }
      }
      return count;
    },
    /** Shuts the tracer provider down, and the MeterProvider if there is one. */
    async shutdown() {
      await provider.shutdown();
      await meterProvider?.shutdown();
    },
    /** Spans ended so far (exported or still queued). */
    async spanCount() {
      await processor.forceFlush();
      return exporter.count;
    },
  };
}
