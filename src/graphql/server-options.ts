// The options every GraphQL server integration (the Yoga plugin, the Apollo Server plugin, the graphql-ws
// wrapper) takes, what their functions are given, and their one resolution to defaults. Imports nothing of
// any GraphQL server or of graphql itself.
import type { Span, TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { IncomingOption } from '../core/incoming.js';
import { type OperationOutcome, resolveSpanOptions, type SpanConfig, type SpanOptions } from '../core/span-options.js';

/**
 * Where an operation's carrier was found: its `extensions.traceContext`, the graphql-ws `connection_init`
 * payload, or the HTTP request's W3C headers.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: ({ source }) => (source === 'headers' ? 'link' : 'continue') });
 * ```
 */
export type TraceContextSource = 'extensions' | 'connectionParams' | 'headers';

/**
 * What every span option function (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`,
 * `isError`) of a GraphQL server integration is given about an operation.
 *
 * The span starts when the operation arrives, before its document is parsed, so that parsing, validation,
 * context building and execution all run under it. At that moment only the request is known:
 * `operationName` is the `operationName` the client sent (Apollo Client, urql and graphql-ws clients send it
 * for named operations; `undefined` when it was not sent) and `operationType` is `undefined`. Once the
 * document is parsed the same object is updated in place: `operationName` becomes the name in the document,
 * `operationType` `'query'`, `'mutation'` or `'subscription'`; `spanName` is asked again, and
 * `responseHook` and `isError` see the updated object. So `spans` and `requestHook` decide on what the
 * request says; `spanName`, `responseHook` and `isError` also on what the document says.
 *
 * @example
 * ```ts
 * useTraceContext({
 *   spans: (info) => info.operationName !== 'IntrospectionQuery',
 *   spanName: (info) => (info.operationType ? `${info.operationType} ${info.operationName ?? '(anonymous)'}` : 'GraphQL'),
 * });
 * ```
 */
export interface GraphQLServerOperationInfo {
  /** The operation's name: as the request sent it, then as the document says. `undefined` when anonymous. */
  operationName: string | undefined;
  /** `'query'`, `'mutation'` or `'subscription'` once the document is parsed; `undefined` before, or when it fails to parse. */
  operationType: string | undefined;
  /** The operation's variables as sent (untrusted input). */
  variables: unknown;
  /**
   * The GraphQL context: Yoga's per-operation context (with `request` and `params`, or what the graphql-ws
   * recipe passes to `getEnveloped`); Apollo Server's context value as your `context` function built it;
   * graphql-ws's connection context (`connectionParams`, `extra`).
   */
  contextValue: unknown;
  /**
   * The request: Yoga's Fetch `Request` (`undefined` over graphql-ws); Apollo Server's `GraphQLRequest`
   * (`query`, `operationName`, `variables`, `extensions`, `http`); graphql-ws's Subscribe payload.
   */
  request?: unknown;
}

/**
 * The options every GraphQL server integration takes, with the same names and defaults. `TInfo` is what an
 * `incoming` decider function is given (each integration documents its own); every span option function is
 * given a {@link GraphQLServerOperationInfo}.
 *
 * @example
 * ```ts
 * const options: GraphQLServerTraceOptions<{ source: TraceContextSource }> = {
 *   incoming: 'link',
 *   spans: (info) => info.operationName !== 'IntrospectionQuery',
 *   captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' }),
 * };
 * ```
 */
export interface GraphQLServerTraceOptions<TInfo> extends SpanOptions<GraphQLServerOperationInfo> {
  /**
   * What to do with a context that arrives with an operation: `'continue'` its trace, start a new trace
   * that `'link'`s to it, `'ignore'` it, or a function deciding per operation. See the README's trust policy.
   * @default 'continue'
   */
  incoming?: IncomingOption<TInfo>;
  /**
   * Start one SERVER span per operation: `true`, `false`, or a predicate per operation, asked once when the
   * operation arrives (so it sees the `operationName` the client sent, not yet the `operationType`; see
   * {@link GraphQLServerOperationInfo}). An operation without a span still runs, phases and resolvers alike,
   * in its caller's context (by the trust policy).
   * @default true
   * @example `spans: (info) => info.operationName !== 'IntrospectionQuery'`
   */
  spans?: boolean | ((info: GraphQLServerOperationInfo) => boolean);
  /**
   * The span's name. Asked when the span starts (`operationType` still `undefined`) and again once the
   * document says what the operation is; a throwing function or one that returns anything but a non-empty
   * string gives the default there.
   * @default `{operationType} {operationName}` (`{operationType}` when anonymous; `GraphQL Operation` until
   * the document is parsed, and for a document that fails to parse)
   * @example `spanName: (info) => \`graphql ${info.operationName ?? info.operationType ?? 'operation'}\``
   */
  spanName?: (info: GraphQLServerOperationInfo) => string;
  /**
   * Called once when the span starts, before the document is parsed, with what the request says. A hook
   * that throws is reported once through `diag`; the operation is unaffected.
   * @example `requestHook: (span, info) => span.setAttribute('app.client', String((info.request as Request)?.headers.get('x-client')))`
   */
  requestHook?: (span: Span, info: GraphQLServerOperationInfo) => void;
  /**
   * Called once just before the span ends, with the updated info plus the outcome: `result` is the
   * execution result (for a subscription or an incremental response, the last event or payload), `error`
   * the error it failed with (the first of a result's `errors`, a parse or validation error, or a thrown
   * error). A hook that throws is reported once through `diag`; the operation is unaffected.
   * @example `responseHook: (span, { result }) => span.setAttribute('app.has_data', Boolean((result as { data?: unknown })?.data))`
   */
  responseHook?: (span: Span, info: GraphQLServerOperationInfo & OperationOutcome) => void;
  /**
   * Record the operation's variables as `graphql.operation.variables` (JSON, at most 4,096 characters).
   * `true` records them as sent; a function returns what to record instead (redact here; `undefined`
   * records nothing). Off by default: variables hold personal data and secrets.
   * @default false
   * @example `captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' })`
   */
  captureInput?: boolean | ((variables: unknown, info: GraphQLServerOperationInfo) => unknown);
  /**
   * Whether an error marks the span ERROR: a thrown error, a parse or validation error, or the first error of
   * a result (of any event of a subscription). `error.type` (the error's `extensions.code`, else its
   * original error's name, else `GraphQLError`) and an exception event are recorded either way. A throwing
   * function counts as the default.
   * @default every error is an error
   * @example `isError: (error) => (error as { extensions?: { code?: unknown } }).extensions?.code !== 'NOT_FOUND'`
   */
  isError?: (error: unknown, info: GraphQLServerOperationInfo) => boolean;
  /** Record the operation's source text as `graphql.document`. It can hold inlined arguments. @default false */
  document?: boolean;
  /** Fall back to the request's W3C headers (`traceparent`, …) when no carrier travels in the operation. @default true */
  headers?: boolean;
  /** The tracer for the server spans. @default this package's tracer from the global provider, looked up per operation */
  tracer?: Tracer;
  /** The propagator that reads carriers and headers. @default the global propagator */
  propagator?: TextMapPropagator;
  /**
   * Send each operation's SERVER span context back to the caller, in W3C Trace Context Level 2
   * `traceresponse` form (`00-{trace-id}-{span-id}-{flags}`), as `extensions.traceresponse` of the
   * operation's result: each result of an HTTP batch, each event of a subscription (graphql-ws, SSE) and
   * each incremental payload. Under `incoming: 'link'` the server's trace differs from the caller's: with
   * this, `TraceContextLink` and `traceContextExchange` add a span link from their CLIENT span to the
   * server's span, and support staff can go from one trace to the other. Sent only for an operation with a
   * recording span (none when `spans` says no, or the span is not sampled); the result's other extensions
   * are kept, and the result is copied, never changed in place. It reveals your trace ids to every caller:
   * keep it off for public APIs where that matters.
   * @default false
   * @example `useTraceContext({ incoming: 'link', traceResponse: true })`
   */
  traceResponse?: boolean;
}

/** {@link GraphQLServerTraceOptions} with every default resolved: what an integration runs on. */
export interface GraphQLServerConfig<TInfo> {
  incoming: IncomingOption<TInfo>;
  document: boolean;
  headers: boolean;
  propagator: TextMapPropagator | undefined;
  traceResponse: boolean;
  span: SpanConfig<GraphQLServerOperationInfo>;
}

/** Every option resolved to its default, in one place: once, when the plugin or wrapper is created. */
export function resolveServerOptions<TInfo>(options: GraphQLServerTraceOptions<TInfo>): GraphQLServerConfig<TInfo> {
  return {
    incoming: options.incoming ?? 'continue',
    document: options.document ?? false,
    headers: options.headers ?? true,
    propagator: options.propagator,
    traceResponse: options.traceResponse ?? false,
    span: resolveSpanOptions(options),
  };
}
