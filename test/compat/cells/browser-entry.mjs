// Runs in Chromium: a synchronous stack context manager (as in OpenTelemetry's web SDK) and the W3C
// propagators, then the core API or a client link against the page's own origin. Reports on window.__compat.
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { attachContext, getContext } from 'otel-rpc-context';
import { activeTraceId, apolloClientCheck, contextFor, traceIdFor, trpcClientCheck } from './apps.mjs';

class StackContextManager {
  #active = ROOT_CONTEXT;
  active() {
    return this.#active;
  }
  with(ctx, fn, thisArg, ...args) {
    const previous = this.#active;
    this.#active = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#active = previous;
    }
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

context.setGlobalContextManager(new StackContextManager());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);

async function core() {
  const parent = propagation.setBaggage(contextFor('9'), propagation.createBaggage({ k: { value: 'v' } }));
  const carrier = context.with(parent, () => getContext());
  const seen = attachContext(carrier, () => ({
    traceId: activeTraceId(),
    k: propagation.getBaggage(context.active())?.getEntry('k')?.value,
  }));
  const fromHeaders = attachContext(new Headers(carrier), activeTraceId);
  if (!carrier.traceparent?.startsWith(`00-${traceIdFor('9')}-`)) throw new Error(`carrier ${JSON.stringify(carrier)}`);
  if (seen.traceId !== traceIdFor('9') || seen.k !== 'v') throw new Error(`attached ${JSON.stringify(seen)}`);
  if (fromHeaders !== traceIdFor('9')) throw new Error(`attached from Headers: ${fromHeaders}`);
  if (activeTraceId() !== null) throw new Error('previous context not restored');
  return 'getContext/attachContext (plain carrier and fetch Headers), W3C trace context + baggage';
}

const mode = new URLSearchParams(location.search).get('mode');
const checks = {
  core,
  trpc: () => trpcClientCheck(`${location.origin}/trpc`),
  apollo: () => apolloClientCheck(`${location.origin}/graphql`),
};
checks[mode]().then(
  (detail) => {
    window.__compat = { ok: true, detail };
  },
  (error) => {
    window.__compat = { ok: false, detail: String(error?.stack ?? error) };
  },
);
