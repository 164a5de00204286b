// The core pair, getContext() then attachContext(), against the same work done with the raw
// OpenTelemetry API (inject into a fresh object, extract onto the root context, context.with); and the
// SDK floor: what one traced operation costs the OpenTelemetry SDK alone, the figure our with-spans
// overhead is measured above.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { importOwn } from '../lib/own.mjs';

export const variants = {
  sdk: { label: 'OpenTelemetry SDK registered' },
};

const noop = () => 0;
const setter = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};
const getter = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** A span processor that does nothing: the floor leaves out what a processor and exporter cost. */
const noopProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

export async function createSuite() {
  const { attachContext, getContext } = await importOwn('index');
  // Not registered: the registered bench SDK (context manager, W3C propagators) stays the global one.
  const floorTracer = new BasicTracerProvider({ spanProcessors: [noopProcessor] }).getTracer('bench floor');
  const scenarios = {
    pair: {
      label: '`getContext()` + `attachContext(carrier, fn)`',
      sync: true,
      fn: () => attachContext(getContext(), noop),
    },
    raw: {
      label: 'raw API: `propagation.inject` + `propagation.extract` + `context.with`',
      sync: true,
      fn: () => {
        const carrier = {};
        propagation.inject(context.active(), carrier, setter);
        return context.with(propagation.extract(ROOT_CONTEXT, carrier, getter), noop);
      },
    },
    floor: {
      label:
        'SDK floor: a CLIENT and a SERVER span started and ended (`BasicTracerProvider`, no-op processor), with `propagation.inject` + `propagation.extract` + `context.with`',
      sync: true,
      fn: () => {
        // Client side: a CLIENT span under the caller, its context injected into the request's carrier.
        const client = floorTracer.startSpan('floor client', { kind: SpanKind.CLIENT });
        const carrier = {};
        propagation.inject(trace.setSpan(context.active(), client), carrier, setter);
        // Server side: extracted, a SERVER span under it, the handler run inside.
        const parent = propagation.extract(ROOT_CONTEXT, carrier, getter);
        const server = floorTracer.startSpan('floor server', { kind: SpanKind.SERVER }, parent);
        context.with(trace.setSpan(parent, server), noop);
        server.end();
        client.end();
      },
    },
  };
  return { scenarios, memory: [] };
}
