// TraceContextLink's options and their resolution to defaults, once, when the link is created.
import type { GetRequestCarrier } from '../client-carrier.js';
import { type ClientConfig, type GraphQLClientIntegrationOptions, resolveClientOptions } from '../client-options.js';

export type { GetRequestCarrier };

/**
 * Options for `TraceContextLink`. Every field is optional. The span options (`spans`, `spanName`,
 * `requestHook`, `responseHook`, `captureInput`, `isError`, `tracer`), `propagate`, `document`, `headers`, `get`
 * and `propagator` are every GraphQL client's (see `GraphQLClientOptions`); their `info` is a
 * `GraphQLClientOperationInfo` whose `context` is `operation.getContext()`. `responseHook` sees the last
 * GraphQL result, or the error the request failed with; an operation unsubscribed before its first result (a
 * query or mutation) is `cancelled`. `BatchHttpLink` groups operations by headers: where the link sends them
 * (`headers`), give it `batchKey: traceContextBatchKey(uri)`, or each operation goes in a request of its own.
 *
 * @example
 * ```ts
 * new TraceContextLink({
 *   spans: (info) => info.operationName !== 'IntrospectionQuery',
 *   captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' }),
 *   propagate: (info) => (info.context as { uri?: string }).uri !== 'https://third-party.example/graphql',
 *   headers: 'auto',
 *   useGETForQueries: false,
 *   get: 'headers',
 * });
 * ```
 */
export interface TraceContextLinkOptions extends GraphQLClientIntegrationOptions {
  /** Set it to what you give `HttpLink`: queries then travel as GET, and {@link TraceContextLinkOptions.get} applies. @default false */
  useGETForQueries?: boolean;
}

/** {@link TraceContextLinkOptions} resolved to their defaults. */
export interface LinkConfig extends ClientConfig {
  useGETForQueries: boolean;
}

/** Every option of {@link TraceContextLinkOptions} resolved to its default, in one place. */
export function resolveLinkOptions(options: TraceContextLinkOptions): LinkConfig {
  return { ...resolveClientOptions(options), useGETForQueries: options.useGETForQueries ?? false };
}
