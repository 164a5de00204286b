// How the Yoga plugin reads what Envelop hands it: the GraphQL context object and untrusted params.
import { type Context, createContextKey } from '@opentelemetry/api';
import { isHeaders, isObject } from '../../core/carrier.js';
import type { OperationCarriers } from '../../core/server.js';
import type { StartedOperation } from '../server.js';
import { readConnectionCarrier, readTraceContextExtension } from '../shared.js';

/** One operation's state, from its first phase to the end of its result (or of its event stream). */
export interface Operation {
  /** The context every phase, resolver and event runs in. */
  context: Context;
  /** The GraphQL params it was started for. */
  params: unknown;
  /** The started operation every outcome goes through. */
  started: StartedOperation;
  /** The result is a stream: the span ends with the stream, not with `execute`. */
  streaming: boolean;
  /** Validation failed: there will be no execution. */
  invalid: boolean;
  described: boolean;
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

/**
 * Where an operation's caller context may be, by the shared rule's names. `batched` holds the requests
 * whose body is a batch of several operations; `headers` is the resolved `headers` option.
 */
export function carriersOf(envelope: Envelope, headers: boolean, batched: WeakSet<object>): OperationCarriers {
  try {
    const request = envelope.request as { headers?: unknown } | undefined;
    return {
      operation: readTraceContextExtension(envelope.params?.extensions),
      // graphql-ws: one connection, many operations.
      shared: !isObject(request) || batched.has(request),
      headers: headers && isHeaders(request?.headers) ? request.headers : undefined,
      connection: readConnectionCarrier(envelope.connectionParams),
    };
  } catch {
    return {};
  }
}
