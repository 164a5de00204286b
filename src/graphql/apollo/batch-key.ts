// `traceContextBatchKey`: BatchHttpLink's default batch key without the headers TraceContextLink adds.
import type { ApolloLink } from '@apollo/client/core';
import { propagation, type TextMapPropagator } from '@opentelemetry/api';
import { NO_CARRIER, type OperationLike } from './carrier.js';

/** An operation as Apollo Client (3 or 4) types it. */
type ApolloOperation = Parameters<ApolloLink['request']>[0];

/**
 * A `batchKey` for `BatchHttpLink` that groups operations as its default key does, except that it leaves out
 * the trace context headers (`TraceContextLinkOptions.headers`), which differ per operation: with the
 * default key, operations that carry them go one request each. A batch request then carries its first
 * operation's headers. `uri` is what you give `BatchHttpLink` (an operation's `context.uri` wins, as there).
 * Only needed where the link sends headers on POST: outside browsers, unless fetch is instrumented.
 *
 * @example
 * ```ts
 * import { BatchHttpLink } from '@apollo/client/link/batch-http';
 * import { TraceContextLink, traceContextBatchKey } from 'otel-rpc-context/apollo';
 *
 * const uri = 'http://localhost:4000/graphql';
 * const link = ApolloLink.from([new TraceContextLink(), new BatchHttpLink({ uri, batchKey: traceContextBatchKey(uri) })]);
 * ```
 */
export function traceContextBatchKey(
  uri: string | ((operation: ApolloOperation) => string) = '/graphql',
  options: { propagator?: TextMapPropagator } = {},
): (operation: ApolloOperation) => string {
  return (operation) => {
    // Read per call: the global propagator may be registered after the link is built.
    const fields = new Set(['traceparent', 'tracestate', 'baggage']);
    for (const field of (options.propagator ?? propagation).fields()) fields.add(field.toLowerCase());
    const context = (operation as unknown as OperationLike).getContext() as {
      uri?: unknown;
      http?: unknown;
      fetchOptions?: unknown;
      credentials?: unknown;
      headers?: Record<string, unknown>;
      [NO_CARRIER]?: boolean;
    };
    let headers: Record<string, unknown> | undefined;
    if (context.headers) {
      headers = {};
      for (const name of Object.keys(context.headers)) {
        if (!fields.has(name.toLowerCase())) headers[name] = context.headers[name];
      }
    }
    const target =
      typeof context.uri === 'string'
        ? context.uri
        : typeof context.uri === 'function'
          ? String(context.uri(operation))
          : typeof uri === 'function'
            ? uri(operation)
            : uri;
    return (
      target +
      JSON.stringify({
        http: context.http,
        options: context.fetchOptions,
        credentials: context.credentials,
        headers,
        // An operation that sends no carrier (`propagate`) never shares a request with one whose headers do.
        propagate: context[NO_CARRIER] ? false : undefined,
      })
    );
  };
}
