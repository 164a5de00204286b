// The core pair, getContext() then attachContext(), against the same work done with the raw
// OpenTelemetry API (inject into a fresh object, extract onto the root context, context.with).
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
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

export async function createSuite() {
  const { attachContext, getContext } = await importOwn('index');
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
  };
  return { scenarios, memory: [] };
}
