// What every GraphQL integration, client and server, agrees on: the two slots this package uses in an
// operation's `extensions` (each encoder beside its decoder), the semantic-convention names, and how a
// GraphQL error is recorded. Only @opentelemetry/api and the core are imported: every GraphQL entry point
// pulls this in, and none may drag another (or graphql itself) along.
import type { Attributes } from '@opentelemetry/api';
import { type ContextCarrier, own, toContextCarrier } from '../core/carrier.js';
import type { OperationSpan } from '../core/operation.js';

/**
 * The key under a GraphQL request's `extensions` that holds the caller's context carrier, e.g.
 * `{ "extensions": { "traceContext": { "traceparent": "00-…-01" } } }`. The GraphQL-over-HTTP spec leaves
 * `extensions` to implementers; servers without the plugin ignore the key.
 */
export const TRACE_CONTEXT_EXTENSION = 'traceContext';

/** Client side: `extensions` (a copy, the others kept) with the caller's carrier under `traceContext`. */
export function withTraceContextExtension<T extends object>(
  extensions: T | undefined,
  carrier: ContextCarrier,
): T & { [TRACE_CONTEXT_EXTENSION]: ContextCarrier } {
  return { ...(extensions as T), [TRACE_CONTEXT_EXTENSION]: carrier };
}

/**
 * Server side: the carrier an operation sent in its `extensions.traceContext` (untrusted input, read without
 * getters): `undefined` when it sent none; `{}` when it sent one of the wrong type, so that the operation
 * still has its own say and is never given another's context.
 */
export function readTraceContextExtension(extensions: unknown): ContextCarrier | undefined {
  const sent = own(extensions, TRACE_CONTEXT_EXTENSION);
  return sent === undefined ? undefined : (toContextCarrier(sent) ?? {});
}

/**
 * Server side: the carrier of a graphql-ws `connection_init` payload, shared by the connection's operations:
 * its `traceContext`, else the payload itself (`connectionParams: getContext()`).
 */
export function readConnectionCarrier(connectionParams: unknown): ContextCarrier | undefined {
  const nested = own(connectionParams, TRACE_CONTEXT_EXTENSION);
  return toContextCarrier(nested !== undefined ? nested : connectionParams);
}

/** The key of a result's `extensions` that the server's `traceresponse` goes under (`traceResponse: true`). */
export const TRACE_RESPONSE = 'traceresponse';

/** Server side: `value` (a GraphQL result) with `extensions.traceresponse`: a copy, or `value` itself when it is no object. */
export function withTraceResponse<T>(value: T, traceresponse: string | undefined): T {
  if (traceresponse === undefined || typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const extensions = own(value, 'extensions');
  return {
    ...value,
    extensions: {
      ...(typeof extensions === 'object' && extensions !== null ? extensions : {}),
      [TRACE_RESPONSE]: traceresponse,
    },
  };
}

/**
 * Client side: the raw `extensions.traceresponse` of a result (untrusted: parse it with `parseTraceResponse`),
 * or `undefined`. A hostile result's getter may throw: callers catch.
 */
export function readTraceResponse(result: unknown): unknown {
  const extensions = (result as { extensions?: unknown } | null)?.extensions;
  return typeof extensions === 'object' && extensions !== null
    ? (extensions as Record<string, unknown>)[TRACE_RESPONSE]
    : undefined;
}

// GraphQL semantic conventions (incubating in @opentelemetry/semantic-conventions): copied, not imported,
// so the package keeps zero runtime dependencies and does not depend on the `/incubating` entry point.
export const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
export const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
export const ATTR_GRAPHQL_DOCUMENT = 'graphql.document';
/** The attribute `captureInput` records an operation's variables under, as JSON (client and server spans). */
export const ATTR_GRAPHQL_OPERATION_VARIABLES = 'graphql.operation.variables';

export { ATTR_ERROR_TYPE, resolveTracer, TRACER_NAME } from '../core/conventions.js';

/** Fallback span name while (or when) the operation's type is unknown, e.g. a document that fails to parse. */
export const UNKNOWN_OPERATION_SPAN_NAME = 'GraphQL Operation';

/** `{type} {name}`, or `{type}` for an anonymous operation, as the GraphQL conventions name spans. */
export function operationSpanName(type: string, name: string | undefined): string {
  return name ? `${type} ${name}` : type;
}

/** The GraphQL convention attributes of an operation: its type, its name if any, and its document when given. */
export function operationAttributes(type: string, name: string | undefined, document: string | undefined): Attributes {
  const attributes: Attributes = { [ATTR_GRAPHQL_OPERATION_TYPE]: type };
  if (name) attributes[ATTR_GRAPHQL_OPERATION_NAME] = name;
  if (document !== undefined) attributes[ATTR_GRAPHQL_DOCUMENT] = document;
  return attributes;
}

/** At most this many errors of one result become exception events: a result can hold thousands. */
const MAX_RECORDED_ERRORS = 8;

interface GraphQLErrorLike {
  message?: unknown;
  extensions?: { code?: unknown } | null;
  originalError?: { name?: unknown } | null;
}

/** A low-cardinality `error.type`: the error's `extensions.code`, else its original error's name. */
function errorType(error: GraphQLErrorLike): string {
  const code = error.extensions?.code;
  if (typeof code === 'string' && code.length > 0) return code;
  const name = error.originalError?.name;
  return typeof name === 'string' && name.length > 0 && name !== 'Error' ? name : 'GraphQLError';
}

/**
 * A low-cardinality `error.type` for anything a GraphQL integration fails with: a GraphQL error (its
 * `extensions.code`, else its original error's name, else `GraphQLError`) or a thrown error (its name).
 */
export function graphqlErrorType(error: unknown): string {
  if (error instanceof Error && !('extensions' in error) && !('originalError' in error)) return error.name;
  if (error === null || typeof error !== 'object') return typeof error;
  return errorType(error as GraphQLErrorLike);
}

/**
 * Fails an operation for the `errors` of a GraphQL result: the first decides `error.type`, the status (by
 * `isError`) and the message; each of the first eight becomes an exception event.
 */
export function failResult(operation: OperationSpan, errors: unknown): void {
  if (!Array.isArray(errors) || errors.length === 0) return;
  operation.fail(errors[0]);
  const span = operation.span;
  if (!span) return;
  for (const error of errors.slice(1, MAX_RECORDED_ERRORS)) {
    const message =
      typeof (error as GraphQLErrorLike)?.message === 'string' ? (error as { message: string }).message : '';
    span.recordException({ name: errorType((error as GraphQLErrorLike) ?? {}), message });
  }
}
