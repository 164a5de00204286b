// The names every tRPC file shares: semantic-convention attributes, the server's error rule, the keys a client
// operation leaves in `op.context` and in the context its downstream links run in, and tRPC's `info.calls`.
import { type Attributes, createContextKey } from '@opentelemetry/api';
import { type ContextCarrier, isObject, toContextCarrier } from '../core/carrier.js';

// Semantic-convention names, copied so that the package has no runtime dependency on
// @opentelemetry/semantic-conventions.
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name';
/** The `rpc.system.name` of tRPC calls. */
export const TRPC_SYSTEM = 'trpc';
export const ATTR_RPC_METHOD = 'rpc.method';
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
 * Set in the context an operation's downstream links run in, to the operation's downstream `op.context`. A
 * server middleware that finds it active is running in the same process and async flow as the client
 * (`unstable_localLink`): nothing to extract. A helper that sends the operation over HTTP without seeing it
 * (`traceContextUrl`) finds it here.
 */
export const CLIENT_OPERATION_KEY = createContextKey('otel-rpc-context/trpc client operation');

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

/** The calls of an HTTP request as tRPC's `info` lists them (`info.calls`), `undefined` without `info`. */
export function infoCalls(info: unknown): { getRawInput?: unknown }[] | undefined {
  if (!isObject(info) || !Array.isArray(info.calls)) return undefined;
  return info.calls as { getRawInput?: unknown }[];
}
