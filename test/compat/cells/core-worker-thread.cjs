// The worker side of core-worker.mjs: the CommonJS build of the package, attaching the carrier it is sent.
const { parentPort, workerData } = require('node:worker_threads');
const { context, propagation, trace } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core');
const { attachContext } = require('otel-rpc-context');

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);
const traceId = () => trace.getSpanContext(context.active())?.traceId ?? null;

const pending = attachContext(workerData.carrier, async () => {
  const inside = traceId();
  const tenant = propagation.getBaggage(context.active())?.getEntry('tenant')?.value;
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { traceId: inside, afterAwait: traceId(), tenant };
});
const outside = traceId();
pending.then((seen) => parentPort.postMessage({ ...seen, outside }));
