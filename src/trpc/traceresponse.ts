// The `traceresponse` headers, one wire slot: the server records each call's SERVER span and
// `traceResponseMeta` writes the headers; the client reads them back and links its CLIENT span.
import type { Span, SpanContext } from '@opentelemetry/api';
import { type HeadersLike, isHeaders, isObject } from '../core/carrier.js';
import { formatTraceResponse, linkServerSpan, parseTraceResponse } from '../core/traceresponse.js';
import { MAX_BATCH_HEADER_LENGTH } from './batch-header.js';
import { infoCalls } from './shared.js';

/**
 * The W3C Trace Context Level 2 response header: `00-{trace-id}-{span-id}-{flags}`, the SERVER span's own
 * context. {@link traceResponseMeta} sends it on a response to a single operation (and on a batch of one).
 */
export const TRACE_RESPONSE_HEADER = 'traceresponse';

/**
 * The response header that carries one `traceresponse` value per operation of an HTTP batch: a JSON array
 * aligned with the batch, `null` for an operation without a SERVER span (or whose span had not started when
 * a streamed response's headers went out), mirroring the request's {@link BATCH_HEADER}. Browsers read it (and
 * `traceresponse`) on cross-origin responses only if your CORS configuration exposes it.
 *
 * @example
 * ```ts
 * import cors from 'cors';
 * import { BATCH_RESPONSE_HEADER, TRACE_RESPONSE_HEADER } from 'otel-rpc-context/trpc';
 *
 * app.use(cors({ exposedHeaders: [TRACE_RESPONSE_HEADER, BATCH_RESPONSE_HEADER] }));
 * ```
 */
export const BATCH_RESPONSE_HEADER = 'x-trpc-trace-response';

/**
 * The attribute a CLIENT span records the server's `traceresponse` value under when its `@opentelemetry/api` has
 * no `Span.addLink` (before 1.9): the same fallback as the GraphQL clients' `graphql.traceresponse`.
 */
export const ATTR_TRPC_TRACERESPONSE = 'trpc.traceresponse';

/**
 * The SERVER span context of each HTTP call whose middleware has `traceResponse: true`, keyed by the call's
 * `getRawInput` (the very function tRPC hands `responseMeta` in `info.calls`): it lives as long as the request.
 */
const serverSpans = new WeakMap<object, SpanContext>();

/** Notes a call's SERVER span for {@link traceResponseMeta}; `call` is the call's `getRawInput`. */
export function recordServerSpan(call: object, spanContext: SpanContext): void {
  serverSpans.set(call, spanContext);
}

/**
 * A `responseMeta` for tRPC's HTTP adapters (standalone, fetch, Express, Next.js, ...) that sends each call's
 * SERVER span context back to the caller, for middlewares created with `traceResponse: true` (it sends nothing
 * for the others): the W3C `traceresponse` header on a response to one operation (`httpLink`, and a batch of
 * one), and {@link BATCH_RESPONSE_HEADER}, a JSON array of `traceresponse` values aligned with the batch (`null`
 * for a call without one), on a batch (`httpBatchLink`, `httpBatchStreamLink`). {@link traceContextLink} reads
 * them and links each CLIENT span to its SERVER span.
 *
 * Streamed batches (`httpBatchStreamLink`) send their headers before any procedure has finished: a slot is filled
 * only if the call's span had already started, which holds when nothing before the middleware awaits (put
 * `traceContextMiddleware` first, before `.input()` and asynchronous middlewares); the other slots are `null`.
 * The array stays within 8,192 characters: about 140 values fit, and the calls past those get `null` (with no
 * header at all past 1,638 calls).
 * Never throws; returns `{ headers: {} }` when there is nothing to send.
 *
 * @example
 * ```ts
 * import { createHTTPServer } from '@trpc/server/adapters/standalone';
 * import { traceResponseMeta } from 'otel-rpc-context/trpc';
 *
 * createHTTPServer({ router, createContext, responseMeta: traceResponseMeta });
 * // with your own headers:
 * createHTTPServer({
 *   router,
 *   createContext,
 *   responseMeta: (opts) => ({ headers: { ...traceResponseMeta(opts).headers, 'cache-control': 'no-store' } }),
 * });
 * ```
 */
export function traceResponseMeta(opts: { info?: unknown }): { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  try {
    const info = isObject(opts) ? opts.info : undefined;
    const calls = infoCalls(info);
    if (!calls || calls.length === 0) return { headers };
    const values = calls.map((item) => {
      const key = isObject(item) ? item.getRawInput : undefined;
      return (typeof key === 'function' && formatTraceResponse(serverSpans.get(key))) || null;
    });
    if (values.length === 1 && values[0]) headers[TRACE_RESPONSE_HEADER] = values[0];
    if (isObject(info) && info.isBatchCall === true && values.some((value) => value !== null)) {
      const encoded = encodeBatchResponseHeader(values);
      if (encoded !== undefined) headers[BATCH_RESPONSE_HEADER] = encoded;
    }
  } catch {
    // Never break a response over a header.
  }
  return { headers };
}

/**
 * The {@link BATCH_RESPONSE_HEADER} value: the values that fit the size limit, in order, `null` for the rest,
 * so the array always stays aligned with the batch. `undefined` only when even an array of `null`s would not
 * fit (over 1,638 calls).
 */
export function encodeBatchResponseHeader(values: readonly (string | null)[]): string | undefined {
  // Room for every entry as `null` first (`[`, and `null` plus a comma or the closing `]` each); a value then
  // takes the room its JSON needs beyond that, while there is room left.
  let length = 1 + 5 * values.length;
  if (length > MAX_BATCH_HEADER_LENGTH) return undefined;
  const kept = values.map((value) => {
    if (value === null || length + value.length - 2 > MAX_BATCH_HEADER_LENGTH) return null;
    length += value.length - 2;
    return value;
  });
  return JSON.stringify(kept);
}

/** Where an operation sits in its HTTP request, by its `op.context`: its index and the request's size. */
interface RequestSlot {
  index: number;
  size: number;
}

/**
 * The slots of the operations with a span (`size` 0 until their request's headers are built): only those read
 * the response, to link to their SERVER span, so an operation without one costs no entry.
 */
const requestSlots = new WeakMap<object, RequestSlot>();

/** Gives an operation with a span a slot, filled in when its request's headers are built. */
export function expectRequestSlot(opContext: object): void {
  requestSlots.set(opContext, { index: 0, size: 0 });
}

/** Notes where an operation sits in its request, for the client to find its slot of the response. */
export function rememberRequestSlot(opContext: object, index: number, size: number): void {
  const slot = requestSlots.get(opContext);
  if (!slot) return;
  slot.index = index;
  slot.size = size;
}

/** The entry of a decoded {@link BATCH_RESPONSE_HEADER} list for the operation at `slot` (see below). */
function batchResponseEntry(list: unknown, slot: RequestSlot | undefined): unknown {
  if (!Array.isArray(list)) return undefined;
  if (slot) return slot.size === list.length ? list[slot.index] : undefined;
  return list.length === 1 ? list[0] : undefined;
}

/**
 * The `traceresponse` value a {@link BATCH_RESPONSE_HEADER} holds for the operation at `slot`: with no known slot,
 * the only entry of a list of one. `undefined` when the list does not match the request. Throws on bad JSON.
 */
export function decodeBatchResponseHeader(raw: string, slot: RequestSlot | undefined): unknown {
  return batchResponseEntry(JSON.parse(raw), slot);
}

/** A response's SERVER spans: its {@link BATCH_RESPONSE_HEADER}'s JSON (`hasList`), else its `traceresponse`. */
interface ResponseTraceHeaders {
  hasList: boolean;
  list: unknown;
  single: string | null;
}

function readResponseTraceHeaders(headers: HeadersLike): ResponseTraceHeaders {
  const batch = headers.get(BATCH_RESPONSE_HEADER);
  if (typeof batch !== 'string' || batch.length > MAX_BATCH_HEADER_LENGTH) {
    return { hasList: false, list: undefined, single: headers.get(TRACE_RESPONSE_HEADER) };
  }
  let list: unknown;
  try {
    list = JSON.parse(batch);
  } catch {
    // Malformed: no operation of this response gets a SERVER span from it.
  }
  return { hasList: true, list, single: null };
}

/** A batch's operations share one response: its headers are read and parsed once, by the first that asks. */
const readBatchResponses = new WeakMap<object, ResponseTraceHeaders>();

function batchResponseTraceHeaders(headers: HeadersLike): ResponseTraceHeaders {
  let read = readBatchResponses.get(headers);
  if (read === undefined) {
    read = readResponseTraceHeaders(headers);
    readBatchResponses.set(headers, read);
  }
  return read;
}

/**
 * The SERVER span context a response names for one operation: its slot of {@link BATCH_RESPONSE_HEADER} when the
 * response has that header, else `traceresponse` when the operation was alone in its request (or its place is
 * unknown). Anything malformed is ignored. Never throws.
 */
function serverSpanOf(opContext: object, response: unknown): SpanContext | undefined {
  try {
    if (!isObject(response) || !isHeaders(response.headers)) return undefined;
    const placed = requestSlots.get(opContext);
    const slot = placed && placed.size > 0 ? placed : undefined;
    const read =
      slot && slot.size > 1 ? batchResponseTraceHeaders(response.headers) : readResponseTraceHeaders(response.headers);
    if (read.hasList) return parseTraceResponse(batchResponseEntry(read.list, slot));
    if (slot && slot.size !== 1) return undefined;
    return parseTraceResponse(read.single);
  } catch {
    return undefined;
  }
}

/**
 * Links the CLIENT span to the SERVER span its response names. Without `Span.addLink` (@opentelemetry/api < 1.9)
 * the value is recorded as {@link ATTR_TRPC_TRACERESPONSE} instead.
 */
export function linkResponse(span: Span | undefined, opContext: object, response: unknown): void {
  if (!span) return;
  const server = serverSpanOf(opContext, response);
  if (server) linkServerSpan(span, server, ATTR_TRPC_TRACERESPONSE);
}
