// `traceContextFetch`: the HTTP links' `fetch`, called in the context of the first operation its request's
// batch header names.
import type { getFetch } from '@trpc/client';
import { type CarrierInput, isHeaders, isObject } from '../core/carrier.js';
import { fetchInOperationContext, type TraceContextFetchOptions as SharedFetchOptions } from '../core/fetch.js';
import { BATCH_HEADER, decodeBatchHeader, readBatchHeader } from './batch-header.js';

/** The `fetch` that tRPC's HTTP links call (their `fetch` option): a subset of the standard `fetch`. */
export type TraceContextFetchFunction = ReturnType<typeof getFetch>;

/**
 * Options for the tRPC {@link traceContextFetch}: `fetch` (default `globalThis.fetch`, looked up per request)
 * and `propagator` (default the global one).
 *
 * @example
 * ```ts
 * traceContextFetch({ fetch: myXhrFetch });
 * ```
 */
export type TraceContextFetchOptions = SharedFetchOptions<TraceContextFetchFunction>;

/** The carriers of a request's operations: its {@link BATCH_HEADER} entries, in order. */
function batchHeaderCarriers(input: unknown, init: unknown): readonly unknown[] {
  const fromInit = isObject(init) ? init.headers : undefined;
  const headers = fromInit ?? (isObject(input) && isHeaders(input.headers) ? input.headers : undefined);
  const entries = Array.isArray(headers)
    ? decodeBatchHeader(batchHeaderPair(headers))
    : readBatchHeader(headers as CarrierInput);
  return entries ?? [];
}

/** The {@link BATCH_HEADER} value in a `HeadersInit` list of `[name, value]` pairs (its first line when repeated). */
function batchHeaderPair(pairs: readonly unknown[]): unknown {
  const value = pairs.find((pair) => Array.isArray(pair) && String(pair[0]).toLowerCase() === BATCH_HEADER);
  const raw = Array.isArray(value) ? value[1] : undefined;
  return Array.isArray(raw) ? raw[0] : raw;
}

/**
 * A `fetch` for the `fetch` option of `httpLink`, `httpBatchLink` and `httpBatchStreamLink` that makes the
 * request's HTTP-level spans part of an operation's trace. tRPC calls `fetch` after an `await` (and batch
 * links from a timer), where a browser context manager no longer knows any operation: the span that
 * `@opentelemetry/instrumentation-fetch` (or `instrumentation-undici`) starts for the request, and the
 * server's HTTP span under it, would form a trace of their own. This calls the real `fetch` inside the
 * context of the first operation in the request's {@link BATCH_HEADER} entry list (written by
 * {@link traceContextHeaders}) that has a span, so the request's spans are children of that operation's
 * CLIENT span. Each procedure still runs under its own CLIENT span: servers read every operation's own
 * entry, and the middleware links a batch's SERVER spans to the server's HTTP span.
 *
 * A request without the header, or with nothing usable in it, goes out unchanged, in the context active at
 * the call. Reading the header never throws; what the real `fetch` throws or rejects with reaches tRPC as is.
 *
 * @example
 * ```ts
 * import { httpBatchLink } from '@trpc/client';
 * import { traceContextFetch, traceContextHeaders, traceContextLink } from 'otel-rpc-context/trpc';
 *
 * const links = [
 *   traceContextLink(),
 *   httpBatchLink({ url: 'https://api.example.com/trpc', headers: traceContextHeaders, fetch: traceContextFetch() }),
 * ];
 * ```
 */
export function traceContextFetch(options: TraceContextFetchOptions = {}): TraceContextFetchFunction {
  return fetchInOperationContext(batchHeaderCarriers, options);
}
