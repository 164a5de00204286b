// `traceContextHeaders`, the HTTP links' headers: the first operation's standard W3C headers and every
// operation's own entry in the batch header.
import { type ContextCarrier, hasEntries, isObject } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import { nodeFetchInstrumented } from '../core/fetch.js';
import { BATCH_HEADER, encodeBatchHeader } from './batch-header.js';
import { carrierOf } from './shared.js';
import { rememberRequestSlot } from './traceresponse.js';
import { sentOverHttp } from './ws-pending.js';

/** The characters a carrier takes as headers: its values. */
function carrierLength(carrier: ContextCarrier): number {
  let length = 0;
  for (const value of Object.values(carrier)) length += typeof value === 'string' ? value.length : 0;
  return length;
}

/**
 * Headers for an operation (`httpLink`) or a batch (`httpBatchLink`, `httpBatchStreamLink`). Pass it as
 * the link's `headers` option. The standard `traceparent`/`tracestate`/`baggage` headers carry the
 * first operation's context, so HTTP instrumentation on the server joins that trace. Every operation also
 * gets its own entry in `x-trpc-trace-context`, a JSON array aligned with the batch (`{}` for an operation
 * without a context): the server prefers it, because other instrumentations append to or overwrite
 * `traceparent`, and a batch's standard headers belong to one operation only. An operation that
 * {@link traceContextLink}'s `propagate` said no to sends `{}` as its entry, and when it is the first of its
 * batch the request has no standard headers at all (never the context active when the headers are built).
 *
 * Where Node's `fetch` is instrumented (`@opentelemetry/instrumentation-undici` registered), the standard
 * headers are left to that instrumentation: it injects its own request span's context, a child of the
 * operation's (tRPC runs the fetch in the context {@link traceContextLink} made active), and would append its
 * `traceparent` to ours, a joined value the server's HTTP instrumentation rejects. Only `x-trpc-trace-context`
 * is sent then, and the server's HTTP span joins the trace under undici's span. A Node client that calls tRPC
 * through another `fetch` in such a process sends no standard headers: its procedures still run in their
 * callers' contexts (from `x-trpc-trace-context`), the server's HTTP span starts a trace of its own.
 *
 * The array stays within 8,192 characters, and within 12,288 together with the standard headers (Node's default limit
 * for all of a request's headers is 16 KiB; where the standard headers are undici's, their length is taken as the first
 * operation's carrier's). Past that, in turn: the first entry, if it has baggage, is sent as `null`, "as the standard
 * headers", so its baggage travels once; the other entries leave out their baggage; the entries that still do not fit
 * are sent as `{}` (those operations start their own traces on the server), and this says so once through `diag`.
 * Batches of more than about 100 operations do not fit: set `maxItems` on the batch link.
 *
 * @example
 * ```ts
 * import { httpBatchLink } from '@trpc/client';
 * import { traceContextHeaders } from 'otel-rpc-context/trpc';
 *
 * httpBatchLink({ url, maxItems: 50, headers: traceContextHeaders });
 * // with your own headers:
 * httpBatchLink({ url, headers: (opts) => ({ ...traceContextHeaders(opts), authorization: `Bearer ${token}` }) });
 * ```
 */
export function traceContextHeaders(opts: {
  op?: { context?: unknown };
  opList?: readonly { context?: unknown }[];
}): Record<string, string> {
  const ops = opts.opList ?? (opts.op ? [opts.op] : []);
  // Node's fetch instrumented: it sets the standard headers itself, from the context the request runs in.
  const standard = !nodeFetchInstrumented();
  if (ops.length === 0) return standard ? getContext() : {};
  const carriers: ContextCarrier[] = [];
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index] as { context?: unknown };
    if (isObject(op.context)) {
      sentOverHttp(op.context);
      rememberRequestSlot(op.context, index, ops.length);
    }
    carriers.push(carrierOf(op) ?? getContext());
  }
  const first = carriers[0] as ContextCarrier;
  const headers: Record<string, string> = standard ? { ...first } : {};
  // A lone operation without a context has nothing to say in its slot. The standard headers (ours, or
  // undici's from the same context) count against the slot's limit: together they must fit in Node's 16 KiB.
  if (carriers.length > 1 || hasEntries(first)) {
    headers[BATCH_HEADER] = encodeBatchHeader(carriers, carrierLength(first));
  }
  return headers;
}
