// The core pair, getContext() then attachContext(), against the same work done with the raw
// OpenTelemetry API (inject into a fresh object, extract onto the root context, context.with); the
// SDK floor: what one traced operation costs the OpenTelemetry SDK alone, the figure our with-spans
// overhead is measured above; and one tRPC operation through our link, headers and middleware against the
// OTel floor's (bench/lib/floor.mjs), without tRPC around them: what the adapters themselves execute.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { observable } from '@trpc/server/observable';
import { trpcFloorHeaders, trpcFloorLink, trpcFloorMiddleware } from '../lib/floor.mjs';
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

/**
 * One tRPC query, `spans: false`, through a client link and the `headers` option of `httpLink`, then the
 * server middleware (in the root context, as a server's request starts) with the request's headers as Node
 * gives them; tRPC itself is reduced to a terminating link that answers at once and a `next` that resolves.
 * @returns the loop's function
 */
function trpcAdapters({ link, headers, middleware }) {
  const answer = { result: { type: 'data', data: 1 }, context: {} };
  let sent;
  const next = (op) =>
    observable((observer) => {
      sent = op;
      observer.next(answer);
      observer.complete();
    });
  const observer = {};
  const handled = Promise.resolve({ ok: true, data: 1 });
  const signal = new AbortController().signal;
  const proceed = () => handled;
  const chain = link({});
  return () => {
    chain({ op: { id: 1, type: 'query', path: 'greet', input: 1, context: {}, signal: null }, next }).subscribe(
      observer,
    );
    const requestHeaders = { host: '127.0.0.1', 'content-type': 'application/json', ...headers({ op: sent }) };
    const getRawInput = () => handled;
    const call = {
      ctx: { req: { headers: requestHeaders }, info: { calls: [{ getRawInput }], isBatchCall: false } },
      path: 'greet',
      type: 'query',
      signal,
      batchIndex: 0,
      getRawInput,
      next: proceed,
    };
    return context.with(ROOT_CONTEXT, () => middleware(call));
  };
}

export async function createSuite() {
  const trpc = await importOwn('trpc');
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
    'trpc-ours': {
      label:
        'tRPC adapters, ours (`spans: false`): `traceContextLink` + `traceContextHeaders` + `traceContextMiddleware`',
      sync: true,
      fn: trpcAdapters({
        link: trpc.traceContextLink({ spans: false }),
        headers: trpc.traceContextHeaders,
        middleware: trpc.traceContextMiddleware({ spans: false }),
      }),
    },
    'trpc-floor': {
      label:
        'tRPC adapters, OTel floor: inject in the link, the carrier as headers, extract + `context.with` in the middleware',
      sync: true,
      fn: trpcAdapters({
        link: trpcFloorLink({ observable, spans: false }),
        headers: trpcFloorHeaders,
        middleware: trpcFloorMiddleware({ spans: false }),
      }),
    },
  };
  return { scenarios, memory: [] };
}
