// The options every GraphQL client integration (the Apollo link, the urql exchange) takes, and their one
// resolution to defaults, done once when the link or exchange is created.
import type { TextMapPropagator } from '@opentelemetry/api';
import { resolveSpanOptions, type SpanConfig, type SpanOptions, toPredicate } from '../core/span-options.js';
import type { GetRequestCarrier, HeadersMode } from './client-carrier.js';

/**
 * What the Apollo link and the urql exchange tell every function option (`spans`, `spanName`, `requestHook`,
 * `responseHook`, `captureInput`, `isError`, `propagate`) about one operation.
 *
 * @example
 * ```ts
 * new TraceContextLink({ spans: (info) => info.operationName !== 'IntrospectionQuery' });
 * traceContextExchange({ requestHook: (span, info) => span.setAttribute('app.kind', info.operationType) });
 * ```
 */
export interface GraphQLClientOperationInfo {
  /** The operation's name, `undefined` for an anonymous operation. */
  operationName: string | undefined;
  /** `query`, `mutation` or `subscription`. */
  operationType: string;
  /** The operation's variables, as the client sends them. */
  variables: unknown;
  /** The client's per-operation context: Apollo's `operation.getContext()`, urql's `operation.context`. */
  context: unknown;
}

/**
 * The span and propagation options the Apollo link and the urql exchange share, named and defaulted as
 * every other integration's (see `SpanOptions`), with {@link GraphQLClientOperationInfo} as `info`.
 *
 * @example
 * ```ts
 * const options: GraphQLClientOptions = {
 *   spans: (info) => info.operationName !== 'IntrospectionQuery',
 *   spanName: (info) => `gql ${info.operationName ?? info.operationType}`,
 *   captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' }),
 *   isError: (error) => (error as { extensions?: { code?: string } }).extensions?.code !== 'NOT_FOUND',
 *   propagate: (info) => (info.context as { uri?: string }).uri?.startsWith('https://api.example.com') ?? true,
 * };
 * ```
 */
export interface GraphQLClientOptions extends SpanOptions<GraphQLClientOperationInfo> {
  /**
   * Start one CLIENT span per operation, parent of the server's span: `true`, `false`, or a predicate per
   * operation (say, no span for `IntrospectionQuery`). An operation without a span still sends its caller's
   * context as is. A predicate that throws counts as `false`.
   * @default true
   */
  spans?: boolean | ((info: GraphQLClientOperationInfo) => boolean);
  /**
   * Send the carrier at all: `true`, `false`, or a predicate per operation. With `false` the operation sends
   * no `extensions.traceContext` and no W3C headers (a third-party API must not receive your trace ids or
   * baggage); its CLIENT span still starts (that is `spans`). A predicate that throws is reported once
   * through `diag` and counts as `false`: nothing is sent.
   * @default true
   */
  propagate?: boolean | ((info: GraphQLClientOperationInfo) => boolean);
}

/**
 * {@link GraphQLClientOptions} plus where the carrier travels: the options `TraceContextLinkOptions` and
 * `TraceContextExchangeOptions` both take, with the same names, meanings and defaults.
 */
export interface GraphQLClientIntegrationOptions extends GraphQLClientOptions {
  /** Record the operation's source text as `graphql.document` on the client span. @default false */
  document?: boolean;
  /**
   * Also send the carrier as standard W3C headers (`traceparent`, `tracestate`, `baggage`) on POST, so HTTP
   * server instrumentation (`@opentelemetry/instrumentation-http`) joins the caller's trace instead of
   * starting one of its own. `'auto'` sends them where that costs nothing: not in a browser (a custom header
   * makes a cross-origin request preflight), and not when Node's fetch is instrumented already (see
   * {@link HeadersMode}). The per-operation carrier in `extensions` goes either way; servers read that first.
   * @default 'auto'
   */
  headers?: HeadersMode;
  /** What a GET operation carries; see {@link GetRequestCarrier}. @default 'headers' */
  get?: GetRequestCarrier;
  /** The propagator that writes the carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** {@link GraphQLClientIntegrationOptions} resolved to their defaults, once, when the link or exchange is created. */
export interface ClientConfig {
  /** The span options. */
  span: SpanConfig<GraphQLClientOperationInfo>;
  /** Whether an operation sends its carrier. */
  propagate: (info: GraphQLClientOperationInfo) => boolean;
  document: boolean;
  headers: HeadersMode;
  get: GetRequestCarrier;
  propagator: TextMapPropagator | undefined;
}

/** Every option of {@link GraphQLClientIntegrationOptions} resolved to its default, in one place. */
export function resolveClientOptions(options: GraphQLClientIntegrationOptions): ClientConfig {
  const { propagate = true } = options;
  // `??`, not destructuring defaults: a `null` from plain JavaScript means the default too.
  return {
    // The tracer, when not given, is resolved per operation (cheaply), so a provider registered later is found.
    span: resolveSpanOptions(options),
    propagate: toPredicate(propagate),
    document: options.document ?? false,
    headers: options.headers ?? 'auto',
    get: options.get ?? 'headers',
    propagator: options.propagator,
  };
}
