// What the Apollo link and the Yoga plugin agree on. Only @opentelemetry/api is imported: both entry points
// pull this in, and neither may drag the other (or graphql itself) along.
import type { Attributes } from '@opentelemetry/api';

/**
 * The key under a GraphQL request's `extensions` that holds the caller's context carrier, e.g.
 * `{ "extensions": { "traceContext": { "traceparent": "00-…-01" } } }`. The GraphQL-over-HTTP spec leaves
 * `extensions` to implementers; servers without the plugin ignore the key.
 */
export const TRACE_CONTEXT_EXTENSION = 'traceContext';

// GraphQL semantic conventions (incubating in @opentelemetry/semantic-conventions): copied, not imported,
// so the package keeps zero runtime dependencies and does not depend on the `/incubating` entry point.
export const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
export const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
export const ATTR_GRAPHQL_DOCUMENT = 'graphql.document';
/** The attribute `captureInput` records an operation's variables under, as JSON (client and server spans). */
export const ATTR_GRAPHQL_OPERATION_VARIABLES = 'graphql.operation.variables';

/** The key of a result's `extensions` that the server's `traceresponse` goes under (`traceResponse: true`). */
export const TRACE_RESPONSE = 'traceresponse';

import type { OperationSpan } from '../core/operation.js';

export { ATTR_ERROR_TYPE, resolveTracer, TRACER_NAME } from '../core/conventions.js';

/** Fallback span name while (or when) the operation's type is unknown, e.g. a document that fails to parse. */
export const UNKNOWN_OPERATION_SPAN_NAME = 'GraphQL Operation';

/** `{type} {name}`, or `{type}` for an anonymous operation, as the GraphQL conventions name spans. */
export function operationSpanName(type: string, name: string | undefined): string {
  return name ? `${type} ${name}` : type;
}

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

interface DefinitionLike {
  kind?: unknown;
  operation?: unknown;
  name?: { value?: unknown } | null;
}

/**
 * The type (`query`, `mutation`, `subscription`) of the operation a document runs: the definition named
 * `operationName`, else the document's only operation. `undefined` when that cannot be told.
 */
export function documentOperationType(
  document: { definitions?: readonly unknown[] } | null | undefined,
  operationName: string | null | undefined,
): string | undefined {
  const definitions = document?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  let found: DefinitionLike | undefined;
  for (const definition of definitions as DefinitionLike[]) {
    if (definition?.kind !== 'OperationDefinition') continue;
    if (operationName ? definition.name?.value === operationName : true) {
      if (found && !operationName) return undefined; // several operations and no name: the server rejects it
      found = definition;
      if (operationName) break;
    }
  }
  return typeof found?.operation === 'string' ? found.operation : undefined;
}

/** The name of a document's first operation (what urql names an operation by), or `undefined`. */
export function documentOperationName(
  document: { definitions?: readonly unknown[] } | null | undefined,
): string | undefined {
  const definitions = document?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  for (const definition of definitions as DefinitionLike[]) {
    if (definition?.kind !== 'OperationDefinition') continue;
    const name = definition.name?.value;
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  }
  return undefined;
}

interface DocumentLike {
  definitions?: readonly { kind?: string; operation?: string; name?: { value?: string } }[];
}

/**
 * The operation a document runs: the one named `operationName`, or its only operation. A tiny stand-in for
 * graphql's `getOperationAST`, so that the Yoga and graphql-ws entry points import nothing from graphql at runtime.
 */
export function findOperation(document: unknown, operationName: unknown) {
  const definitions = (document as DocumentLike | undefined)?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  const operations = definitions.filter((definition) => definition?.kind === 'OperationDefinition');
  if (typeof operationName === 'string' && operationName) {
    return operations.find((definition) => definition.name?.value === operationName);
  }
  return operations.length === 1 ? operations[0] : undefined;
}
