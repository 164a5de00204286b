// getContext() in the main thread, attachContext() in a worker thread (which loads the CommonJS build),
// with a registered W3C trace-context + baggage propagator on both sides.
import { Worker } from 'node:worker_threads';
import { context, propagation } from '@opentelemetry/api';
import { attachContext, getContext } from 'otel-rpc-context';
import { activeTraceId, check, contextFor, done, fail, registerPropagation, traceIdFor } from './lib.mjs';

try {
  registerPropagation();
  const parent = propagation.setBaggage(contextFor('c'), propagation.createBaggage({ tenant: { value: 'acme' } }));
  const carrier = context.with(parent, () => getContext());
  check(carrier.traceparent?.startsWith(`00-${traceIdFor('c')}-`), `traceparent injected: ${JSON.stringify(carrier)}`);
  check(carrier.baggage === 'tenant=acme', `baggage injected: ${carrier.baggage}`);
  check(attachContext(carrier, activeTraceId) === traceIdFor('c'), 'attachContext in the same thread');
  check(activeTraceId() === null, 'previous context restored');

  const worker = new Worker(new URL('./core-worker-thread.cjs', import.meta.url), { workerData: { carrier } });
  const seen = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  check(seen.traceId === traceIdFor('c'), `worker saw trace ${seen.traceId}`);
  check(seen.afterAwait === traceIdFor('c'), `worker kept the context across await: ${seen.afterAwait}`);
  check(seen.tenant === 'acme', `worker saw baggage ${seen.tenant}`);
  check(seen.outside === null, 'worker restored the previous context');
  done(`worker-thread round trip (ESM main, CJS worker) on Node ${process.versions.node}`);
} catch (error) {
  fail(error);
}
