// The Cloudflare Worker that workerd-cell.mjs bundles and serves: /core checks the core API inside
// workerd, /trpc is tRPC's fetch adapter and /graphql is Yoga, both with the package's server plugins.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { attachContext, getContext } from 'otel-rpc-context';
import { activeTraceId, contextFor, traceIdFor, trpcFetchHandler, yogaServer } from './apps.mjs';

/** A context manager on workerd's AsyncLocalStorage (compatibility flag nodejs_compat). */
class AsyncLocalStorageContextManager {
  #storage = new AsyncLocalStorage();
  active() {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with(ctx, fn, thisArg, ...args) {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind(ctx, target) {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function bound(...args) {
      return manager.with(ctx, () => target.apply(this, args));
    };
  }
  enable() {
    return this;
  }
  disable() {
    return this;
  }
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);

async function core() {
  const parent = propagation.setBaggage(contextFor('f'), propagation.createBaggage({ k: { value: 'v' } }));
  const carrier = context.with(parent, () => getContext());
  const seen = await attachContext(carrier, async () => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    return { traceId: activeTraceId(), k: propagation.getBaggage(context.active())?.getEntry('k')?.value };
  });
  const ok =
    carrier.traceparent?.startsWith(`00-${traceIdFor('f')}-`) &&
    seen.traceId === traceIdFor('f') &&
    seen.k === 'v' &&
    activeTraceId() === null;
  return Response.json({ ok, carrier, seen });
}

let trpc;
let yoga;
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/core') return core();
    if (pathname.startsWith('/trpc')) {
      trpc ??= await trpcFetchHandler();
      return trpc(request);
    }
    if (pathname.startsWith('/graphql')) {
      yoga ??= await yogaServer();
      return yoga.fetch(request);
    }
    return new Response('not found', { status: 404 });
  },
};
