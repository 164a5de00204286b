// The `fetch` wrapper for Apollo's and urql's HTTP transports: it only changes the context a request is made in.
import { fetchInOperationContext, type TraceContextFetchOptions as SharedFetchOptions } from '../core/fetch.js';
import { requestCarriers } from './client-carrier.js';

/**
 * Options for the Apollo and urql {@link traceContextFetch}: `fetch` (default `globalThis.fetch`, looked up
 * per request) and `propagator` (default the global one).
 *
 * @example
 * ```ts
 * traceContextFetch({ fetch: myFetch, propagator: new W3CTraceContextPropagator() });
 * ```
 */
export type TraceContextFetchOptions = SharedFetchOptions<typeof fetch>;

/**
 * A `fetch` for Apollo's `HttpLink`/`BatchHttpLink` (their `fetch` option) or urql's `Client` (its `fetch`
 * option) that makes each request's HTTP-level spans part of the trace of the request's first operation.
 *
 * `BatchHttpLink` sends a batch from a timer, and urql after a microtask: in a browser, whose context manager
 * forgets the active context there, `@opentelemetry/instrumentation-fetch` then starts the request's fetch
 * span with no parent, and the fetch span and the server's HTTP span form a trace of their own. This calls
 * the real fetch inside the context of the first operation whose carrier holds a span (the body's
 * `extensions.traceContext`, or for a GET the W3C headers), so the fetch span is a child of that operation's
 * CLIENT span. Each operation still runs under its own CLIENT span on the server: servers read every
 * operation's own slot. Only the context changes; the request goes out as given. A body that is not JSON, or
 * holds no usable carrier, goes out in the context active at the call. Reading the request never throws;
 * what the real fetch throws or rejects with reaches the caller as is.
 *
 * @example
 * ```ts
 * import { ApolloLink } from '@apollo/client';
 * import { BatchHttpLink } from '@apollo/client/link/batch-http';
 * import { TraceContextLink, traceContextFetch } from 'otel-rpc-context/apollo';
 *
 * const link = ApolloLink.from([
 *   new TraceContextLink(),
 *   new BatchHttpLink({ uri: '/graphql', fetch: traceContextFetch() }),
 * ]);
 * ```
 */
export function traceContextFetch(options: TraceContextFetchOptions = {}): typeof fetch {
  return fetchInOperationContext(requestCarriers, options);
}
