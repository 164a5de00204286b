// Where a GraphQL client's carrier travels: the operation's own `extensions.traceContext`, the W3C headers, or
// both. The Apollo link and the urql exchange each say whether an operation goes as GET; this file decides the
// rest, so both send the same thing for the same options.
import { type ContextCarrier, hasEntries } from '../core/carrier.js';
import { nodeFetchInstrumented } from '../core/fetch.js';
import { TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY } from './shared.js';

/**
 * The `extensions` key that carries each operation's context carrier: `'traceContext'`.
 *
 * @example
 * ```ts
 * // What TraceContextLink and traceContextExchange put on the wire, per operation:
 * // { "query": "…", "extensions": { "traceContext": { "traceparent": "00-…-01" } } }
 * import { TRACE_CONTEXT_EXTENSION } from 'otel-rpc-context/apollo'; // or 'otel-rpc-context/urql'
 *
 * const carrier = operation.extensions?.[TRACE_CONTEXT_EXTENSION];
 * ```
 */
export const TRACE_CONTEXT_EXTENSION = SHARED_EXTENSION_KEY;

/**
 * When standard W3C headers go with an operation: `true` always, `false` never, `'auto'` wherever a custom
 * header costs nothing. In a browser (a page or a web worker) a custom header makes every cross-origin request
 * preflight, and `@opentelemetry/instrumentation-fetch` already injects headers for same-origin URLs, so
 * `'auto'` sends none there. Elsewhere (Node.js, Deno, Bun, edge and worker runtimes) there is no CORS, so
 * `'auto'` sends them, unless fetch is instrumented already (`@opentelemetry/instrumentation-undici` on
 * Node.js): that instrumentation appends its own `traceparent` to ours, and the joined value is rejected.
 *
 * @example
 * ```ts
 * new TraceContextLink({ headers: 'auto' }); // the default
 * traceContextExchange({ headers: false }); // extensions only, everywhere
 * ```
 */
export type HeadersMode = boolean | 'auto';

/**
 * What a GET operation carries (Apollo: an `HttpLink` with `useGETForQueries`, or
 * `context.fetchOptions.method: 'GET'`; urql: a query `fetchExchange` sends as GET, its default
 * `preferGetMethod: 'within-url-limit'`):
 * - `'headers'`: the W3C headers only; the URL stays the same for every call, so HTTP caches and CDNs
 *   still hit (a cross-origin browser request then needs a CORS preflight). Where Node's fetch is
 *   instrumented (`@opentelemetry/instrumentation-undici`), they are left to it: it sets them from its request
 *   span, a child of the operation's CLIENT span, and would append its `traceparent` to ours;
 * - `'url'`: the carrier in the URL's `extensions` like any other operation; every URL becomes unique, so
 *   nothing is ever served from a cache;
 * - `'none'`: nothing; the server falls back to its own HTTP-level context.
 *
 * @example
 * ```ts
 * new TraceContextLink({ useGETForQueries: true, get: 'headers' });
 * traceContextExchange({ get: 'url' });
 * ```
 */
export type GetRequestCarrier = 'headers' | 'url' | 'none';

/** Whether this runtime is a browser: a page (`document`) or a web worker (`WorkerGlobalScope`). */
function inBrowser(): boolean {
  const scope = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return typeof scope.document !== 'undefined' || typeof scope.WorkerGlobalScope !== 'undefined';
}

/** Resolves a {@link HeadersMode} for an operation starting now. */
export function sendsHeaders(mode: HeadersMode): boolean {
  if (mode !== 'auto') return mode === true;
  return !inBrowser() && !nodeFetchInstrumented();
}

/** Where one operation's carrier goes. */
export interface CarrierSlots {
  /** In the operation's own `extensions.traceContext`. */
  extensions: boolean;
  /** In the request's W3C headers. */
  headers: boolean;
}

/**
 * Where the carrier of an operation goes, `get` telling whether it travels as GET: a POST carries it in
 * `extensions`, plus the headers as `headers` says; a GET as `get` says, except that with `'headers'` an
 * instrumented Node fetch sets them itself (from the operation's context, which the request runs in: one
 * operation per GET, so its headers are that operation's). Headers only for a non-empty carrier: an empty one
 * says nothing the server's own default does not.
 */
export function carrierSlots(
  carrier: ContextCarrier,
  get: boolean,
  config: { readonly headers: HeadersMode; readonly get: GetRequestCarrier },
): CarrierSlots {
  const headers = get ? config.get === 'headers' && !nodeFetchInstrumented() : sendsHeaders(config.headers);
  return { extensions: !get || config.get === 'url', headers: headers && hasEntries(carrier) };
}

/** Each operation's carrier in a GraphQL request body (a JSON operation or batch), in order. */
function bodyCarriers(body: unknown): unknown[] {
  if (typeof body !== 'string' || body.length === 0 || (body[0] !== '{' && body[0] !== '[')) return [];
  try {
    const parsed: unknown = JSON.parse(body);
    const operations: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    return operations.map(
      (operation) =>
        (operation as { extensions?: Record<string, unknown> } | null)?.extensions?.[TRACE_CONTEXT_EXTENSION],
    );
  } catch {
    return []; // Not JSON: no carrier in the body.
  }
}

/**
 * The carriers a `fetch(input, init)` call sends, read back from the slots {@link carrierSlots} chose: the
 * body's `extensions.traceContext` per operation, then (a GET) the W3C headers.
 */
export function requestCarriers(_input: unknown, init: unknown): readonly unknown[] {
  const request = init as RequestInit | undefined;
  const carriers = bodyCarriers(request?.body);
  const headers = request?.headers;
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) carriers.push(headers);
  return carriers;
}
