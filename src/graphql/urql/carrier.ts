// Where traceContextExchange puts an operation's carrier: its `extensions` and/or the headers of its
// `fetchOptions`, as `carrierSlots` decides from whether fetchExchange will send it as GET.
import { makeOperation, type Operation } from '@urql/core';
import type { ContextCarrier } from '../../core/carrier.js';
import { carrierSlots } from '../client-carrier.js';
import type { ClientConfig } from '../client-options.js';
import { withTraceContextExtension } from '../shared.js';

type Headers = Record<string, string>;

/** Any `HeadersInit` (a `Headers`, entry pairs or a record) as a plain record. */
function headersRecord(init: unknown): Headers {
  const out: Headers = {};
  if (init == null || typeof init !== 'object') return out;
  if (typeof (init as { forEach?: unknown }).forEach === 'function' && !Array.isArray(init)) {
    (init as { forEach(fn: (value: string, key: string) => void): void }).forEach((value, key) => {
      out[key] = value;
    });
  } else if (Array.isArray(init)) {
    for (const pair of init) if (Array.isArray(pair) && pair.length === 2) out[String(pair[0])] = String(pair[1]);
  } else {
    for (const key of Object.keys(init)) out[key] = String((init as Record<string, unknown>)[key]);
  }
  return out;
}

/** The operation as it leaves the exchange: the carrier in `extensions`, or in headers for a GET query. */
export function withCarrier(
  operation: Operation,
  carrier: ContextCarrier | undefined,
  config: ClientConfig,
): Operation {
  // `propagate` said no: the operation goes on as it came, nothing in extensions, nothing in headers.
  if (carrier === undefined) return operation;
  const { context } = operation;
  const slots = carrierSlots(carrier, operation.kind === 'query' && !!context.preferGetMethod, config);
  // Always set on the way out, `{}` included: in a batch or on a shared socket, an operation's own slot is
  // authoritative, so "no context" is said explicitly. A fresh object: `extensions` may be shared.
  const request = slots.extensions
    ? { ...operation, extensions: withTraceContextExtension(operation.extensions, carrier) }
    : operation;
  if (!slots.headers) return makeOperation(operation.kind, request, context);
  const previous = context.fetchOptions;
  return makeOperation(operation.kind, request, {
    ...context,
    fetchOptions: () => {
      const options = (typeof previous === 'function' ? previous() : previous) ?? {};
      return { ...options, headers: { ...headersRecord(options.headers), ...carrier } };
    },
  });
}
