// The subscription URL parameter, one wire slot: `traceContextUrl` writes it on the client, `urlCarrier` reads
// it back on the server.
import { context, createContextKey } from '@opentelemetry/api';
import { type ContextCarrier, isObject, parsedContextCarrier } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import { MAX_BATCH_HEADER_LENGTH } from './batch-header.js';
import { CLIENT_OPERATION_KEY } from './shared.js';
import { sentOverHttp } from './ws-pending.js';

/** The query parameter of a subscription URL (`httpSubscriptionLink`) that carries its carrier. */
export const URL_PARAM = 'traceContext';

/**
 * Set in the context an operation's downstream links run in when `propagate` said no for it: the terminating
 * link's helpers ({@link traceContextUrl}) then send no carrier.
 */
export const NO_CARRIER_KEY = createContextKey('otel-rpc-context/trpc no carrier');

/**
 * The `url` of `httpSubscriptionLink`: adds the operation's carrier to the subscription's URL as
 * `?traceContext={"traceparent":…}`, the one per-operation slot a native `EventSource` has (it sends no
 * custom headers). tRPC resolves `url` synchronously when the subscription starts, inside the operation's
 * context that {@link traceContextLink} set, so this works with browser context managers too. `EventSource`
 * reconnects reuse the URL. Servers without the middleware ignore the parameter.
 *
 * @example
 * ```ts
 * import { httpSubscriptionLink } from '@trpc/client';
 * import { traceContextUrl } from 'otel-rpc-context/trpc';
 *
 * httpSubscriptionLink({ url: traceContextUrl('http://localhost:3000') });
 * ```
 */
export function traceContextUrl(url: string | (() => string | Promise<string>)): () => string | Promise<string> {
  return () => {
    // Read now: after tRPC's next `await` a browser context manager no longer knows the operation.
    const active = context.active();
    // This operation goes by SSE: no WebSocket message may claim it, however long it stays open.
    const operation = active.getValue(CLIENT_OPERATION_KEY);
    if (isObject(operation)) sentOverHttp(operation);
    const carrier = active.getValue(NO_CARRIER_KEY) ? {} : getContext({ context: active });
    const base = typeof url === 'function' ? url() : url;
    return typeof base === 'string' ? withCarrierParam(base, carrier) : base.then((b) => withCarrierParam(b, carrier));
  };
}

/** `url` with the carrier as its {@link URL_PARAM}; unchanged for an empty carrier or one over the size limit. */
export function withCarrierParam(url: string, carrier: ContextCarrier): string {
  if (Object.keys(carrier).length === 0) return url;
  const value = JSON.stringify(carrier);
  if (value.length > MAX_BATCH_HEADER_LENGTH) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${URL_PARAM}=${encodeURIComponent(value)}`;
}

/**
 * The carrier in the {@link URL_PARAM} of tRPC's `info.url`: `undefined` without the parameter (or when it is
 * over the size limit), `{}` ("no context") when it is not a usable carrier. Never throws.
 */
export function urlCarrier(info: unknown): ContextCarrier | undefined {
  if (!isObject(info) || !(info.url instanceof URL)) return undefined;
  const raw = info.url.searchParams.get(URL_PARAM);
  if (raw === null || raw.length > MAX_BATCH_HEADER_LENGTH) return undefined;
  try {
    return parsedContextCarrier(JSON.parse(raw)) ?? {};
  } catch {
    return {};
  }
}
