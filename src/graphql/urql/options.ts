// traceContextExchange's options: every GraphQL client's, resolved by `resolveClientOptions` when the exchange
// is created (urql adds none of its own).
import type { GetRequestCarrier } from '../client-carrier.js';
import type { GraphQLClientIntegrationOptions } from '../client-options.js';

export type { GetRequestCarrier };

/**
 * Options for `traceContextExchange`; named and defaulted as `TraceContextLink`'s. Every field is optional.
 * The span options (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`, `tracer`),
 * `propagate`, `document`, `headers`, `get` and `propagator` are every GraphQL client's (see
 * `GraphQLClientOptions`); their `info` is a `GraphQLClientOperationInfo` whose `context` is urql's
 * `operation.context`. `responseHook` sees the last `OperationResult`, or the network error; a query or
 * mutation torn down before its first result is `cancelled`. `get` applies to the queries `fetchExchange`
 * sends as GET (urql's default `preferGetMethod: 'within-url-limit'`).
 *
 * @example
 * ```ts
 * traceContextExchange({
 *   spans: (info) => info.operationName !== 'IntrospectionQuery',
 *   captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' }),
 *   propagate: (info) => !(info.context as { url: string }).url.startsWith('https://third-party.example'),
 *   document: false,
 *   headers: 'auto',
 *   get: 'headers',
 * });
 * ```
 */
export interface TraceContextExchangeOptions extends GraphQLClientIntegrationOptions {}
