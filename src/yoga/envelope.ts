// How the Yoga plugin reads what Envelop hands it: the GraphQL context object, untrusted params, documents.
import { type Context, createContextKey, type Span } from '@opentelemetry/api';
import { isObject } from '../carrier.js';

/** One operation's state, from its first phase to the end of its result (or of its event stream). */
export interface Operation {
  /** The context every phase, resolver and event runs in. */
  context: Context;
  /** The GraphQL params it was started for. */
  params: unknown;
  span: Span | undefined;
  /** The result is a stream: the span ends with the stream, not with `execute`. */
  streaming: boolean;
  /** Validation failed: there will be no execution. */
  invalid: boolean;
  described: boolean;
  ended: boolean;
}

// Lets a hook find its operation from the active context when it is handed a different GraphQL context
// object than the instrumentation saw (e.g. a contextValue the user built by hand).
export const OPERATION_KEY = createContextKey('otel-rpc-context graphql operation');

// The GraphQL context object Envelop hands every phase: built by the server, so read with plain property
// access (Yoga's batched operations inherit `request` through the prototype); what it carries from the
// wire is read with `own`.
export type Envelope = {
  params?: { extensions?: unknown; query?: unknown; operationName?: unknown };
  request?: unknown;
  connectionParams?: unknown;
};

/** Reads an own property of untrusted input, without invoking getters that could throw. */
export function own(value: unknown, key: string): unknown {
  if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
  const descriptor = Object.getOwnPropertyDescriptor(value, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return isObject(value) && typeof value.then === 'function';
}

interface DocumentLike {
  definitions?: readonly { kind?: string; operation?: string; name?: { value?: string } }[];
}

/**
 * The operation a document runs: the one named `operationName`, or its only operation. A tiny stand-in for
 * graphql's `getOperationAST`, so that this entry point imports nothing from graphql at runtime.
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
