import { type Attributes, createContextKey, diag } from '@opentelemetry/api';
import type { ContextCarrier } from '../core/carrier.js';
import { isObject, toContextCarrier } from '../core/carrier.js';

export { isObject };

// Semantic-convention names, copied so that the package has no runtime dependency on
// @opentelemetry/semantic-conventions.
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name';
/** The `rpc.system.name` of tRPC calls. */
export const TRPC_SYSTEM = 'trpc';
export const ATTR_RPC_METHOD = 'rpc.method';
export { ATTR_ERROR_TYPE, resolveTracer, TRACER_NAME } from '../core/conventions.js';
/** The tRPC operation type: `query`, `mutation` or `subscription`. */
export const ATTR_TRPC_TYPE = 'trpc.procedure.type';

/** The span attribute that `captureInput` writes: the procedure's input as JSON. */
export const ATTR_TRPC_INPUT = 'trpc.procedure.input';

/**
 * The tRPC error codes that mark a SERVER span ERROR by default: the server-side ones (HTTP 5xx equivalents).
 * The others (`BAD_REQUEST`, `UNAUTHORIZED`, `NOT_FOUND`, ...) are the caller's mistakes: recorded as
 * `error.type`, status left unset.
 */
export const SERVER_ERROR_CODES: ReadonlySet<string> = new Set([
  'INTERNAL_SERVER_ERROR',
  'NOT_IMPLEMENTED',
  'BAD_GATEWAY',
  'SERVICE_UNAVAILABLE',
  'GATEWAY_TIMEOUT',
]);

/** A server-side error's tRPC code: its `code`, or `INTERNAL_SERVER_ERROR` for an error that is not a TRPCError. */
export function serverErrorCode(error: unknown): string {
  return isObject(error) && typeof error.code === 'string' ? error.code : 'INTERNAL_SERVER_ERROR';
}

/** The key under which {@link traceContextLink} stores each operation's carrier in `op.context`. */
export const OP_CONTEXT_KEY = 'traceContext';

/**
 * The request header that carries one carrier per operation of an HTTP batch, as a JSON array aligned
 * with the batch (`null` = "same as the request's standard headers"). Browsers send it only if your
 * CORS configuration allows it.
 *
 * @example
 * ```ts
 * import cors from 'cors';
 * import { BATCH_HEADER } from 'otel-rpc-context/trpc';
 *
 * app.use(cors({ allowedHeaders: ['content-type', 'traceparent', 'tracestate', 'baggage', BATCH_HEADER] }));
 * ```
 */
export const BATCH_HEADER = 'x-trpc-trace-context';

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

/** The query parameter of a subscription URL (`httpSubscriptionLink`) that carries its carrier. */
export const URL_PARAM = 'traceContext';

/** The top-level field of a WebSocket message that carries the operation's carrier. */
export const WS_FIELD = 'traceContext';

/** The batch header is never longer than this: Node's default limit for all headers is 16 KiB. */
export const MAX_BATCH_HEADER_LENGTH = 8192;

/**
 * How long the span of a subscription lives: `'start'` until it is established, `'lifetime'` until it ends.
 *
 * @example
 * ```ts
 * traceContextLink({ subscriptionSpan: 'lifetime' });
 * ```
 */
export type SubscriptionSpanMode = 'start' | 'lifetime';

/** Reads the carrier that {@link traceContextLink} stored on an operation. */
export function carrierOf(op: { context?: unknown } | undefined): ContextCarrier | undefined {
  const opContext = op?.context;
  if (opContext === null || typeof opContext !== 'object') return undefined;
  return toContextCarrier((opContext as Record<string, unknown>)[OP_CONTEXT_KEY]);
}

/**
 * Set in the context an operation's downstream links run in. A server middleware that finds it active is
 * running in the same process and async flow as the client (`unstable_localLink`): nothing to extract.
 */
export const CLIENT_OPERATION_KEY = createContextKey('otel-rpc-context/trpc client operation');

/**
 * Set in the context an operation's downstream links run in when `propagate` said no for it: the terminating
 * link's helpers ({@link traceContextUrl}) then send no carrier.
 */
export const NO_CARRIER_KEY = createContextKey('otel-rpc-context/trpc no carrier');

/**
 * A procedure's span name: its path. Calls without a path (Next.js server actions made with
 * `experimental_caller`) are named after the RPC system, as the semantic conventions name spans whose method
 * is unknown.
 */
export function procedureSpanName(path: string): string {
  return path || 'trpc';
}

/** The attributes of a procedure's CLIENT or SERVER span; `rpc.method` only when the path is known. */
export function procedureAttributes(path: string, type: string): Attributes {
  const attributes: Attributes = { [ATTR_RPC_SYSTEM_NAME]: TRPC_SYSTEM, [ATTR_TRPC_TYPE]: type };
  if (path) attributes[ATTR_RPC_METHOD] = path;
  return attributes;
}

let warnedTrimmed = false;

/**
 * The batch header's value: every carrier as sent while the whole fits in {@link MAX_BATCH_HEADER_LENGTH};
 * else without baggage; else the entries past the limit as `{}`. Never longer than the limit.
 */
export function encodeBatchHeader(carriers: readonly ContextCarrier[]): string {
  const full = JSON.stringify(carriers);
  if (full.length <= MAX_BATCH_HEADER_LENGTH) return full;
  const lean = carriers.map((carrier) => {
    if (carrier.baggage === undefined) return JSON.stringify(carrier);
    const { baggage: _baggage, ...rest } = carrier;
    return JSON.stringify(rest);
  });
  // `[` + entries joined by `,` + `]`; an entry that does not fit costs `{}`.
  const placeholder = 2;
  let length = 2 + (lean.length - 1) + placeholder * lean.length;
  let dropped = 0;
  // Not even `{}` each fits: an empty list, which the server reads as "no context" for every operation.
  if (length > MAX_BATCH_HEADER_LENGTH) {
    dropped = lean.length;
    lean.length = 0;
  }
  const kept = lean.map((entry) => {
    if (length - placeholder + entry.length > MAX_BATCH_HEADER_LENGTH) {
      dropped++;
      return '{}';
    }
    length += entry.length - placeholder;
    return entry;
  });
  if (!warnedTrimmed) {
    warnedTrimmed = true;
    diag.warn(
      `otel-rpc-context: a batch of ${carriers.length} operations does not fit the ${MAX_BATCH_HEADER_LENGTH}-character ` +
        `${BATCH_HEADER} header: baggage was left out${dropped > 0 ? ` and ${dropped} operations were sent without a context` : ''}. ` +
        'Set maxItems on the batch link (said once).',
    );
  }
  return `[${kept.join(',')}]`;
}

/**
 * Decodes a {@link BATCH_HEADER} value: one entry per operation of the batch, the operation's carrier (`{}` when
 * the entry is not a usable carrier), or `undefined` for `null` (older clients: "as the standard headers").
 * `null` when the value is absent, too long, not JSON or not a list. Never throws.
 */
export function decodeBatchHeader(raw: unknown): (ContextCarrier | undefined)[] | null {
  if (typeof raw !== 'string' || raw.length > MAX_BATCH_HEADER_LENGTH) return null;
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    return null;
  }
  return Array.isArray(list)
    ? list.map((entry) => (entry === null ? undefined : (toContextCarrier(entry) ?? {})))
    : null;
}
