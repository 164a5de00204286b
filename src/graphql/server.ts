// What the GraphQL server integrations (the Yoga plugin, the Apollo Server plugin, the graphql-ws wrapper)
// share: their options, with every default resolved in one place, the names of the places a carrier is
// found, and how an operation starts, is named, and records its results. Every span outcome goes through the
// operation's `OperationSpan` (src/operation.ts), so the error rule and the hooks live in one place. Imports
// nothing of any GraphQL server or of graphql itself.
import { type Context, type Span, SpanKind, type TextMapPropagator, type Tracer, trace } from '@opentelemetry/api';
import { own } from '../core/carrier.js';
import { graphqlOperationMetric } from '../core/conventions.js';
import { type IncomingOption, resolvePolicy } from '../core/incoming.js';
import {
  type OperationOutcome,
  type OperationSpan,
  resolveSpanOptions,
  type SpanConfig,
  type SpanOptions,
  startOperationSpan,
} from '../core/operation.js';
import { bindAsyncIterable, type CarrierSource, type OperationCarriers, operationParent } from '../core/server.js';
import { formatTraceResponse } from '../core/traceresponse.js';
import {
  ATTR_GRAPHQL_DOCUMENT,
  ATTR_GRAPHQL_OPERATION_TYPE,
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  failResult,
  graphqlErrorType,
  operationAttributes,
  operationSpanName,
  TRACE_RESPONSE,
  UNKNOWN_OPERATION_SPAN_NAME,
} from './shared.js';

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

/** The GraphQL names of the shared rule's sources. */
export const SOURCES = {
  operation: 'extensions',
  connection: 'connectionParams',
  headers: 'headers',
} as const satisfies Record<CarrierSource, TraceContextSource>;

export { ATTR_GRAPHQL_OPERATION_VARIABLES, TRACE_RESPONSE } from './shared.js';

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

/** Every option resolved to its default, in one place (once, when the plugin or wrapper is created). */
export function withDefaults<TInfo>(options: GraphQLServerTraceOptions<TInfo>) {
  return {
    incoming: options.incoming ?? 'continue',
    document: options.document ?? false,
    headers: options.headers ?? true,
    propagator: options.propagator,
    traceResponse: options.traceResponse ?? false,
    span: resolveSpanOptions(options) as SpanConfig<GraphQLServerOperationInfo>,
  };
}

/** {@link withDefaults}' result. */
export type GraphQLServerConfig<TInfo> = ReturnType<typeof withDefaults<TInfo>>;

/** An operation as a GraphQL server starts it. */
export interface StartedOperation {
  /** Where its phases and resolvers run: the parent plus its SERVER span, if any. */
  readonly context: Context;
  /** The operation's span, or a handle that does nothing when `spans` said no: every outcome goes through it. */
  readonly operation: OperationSpan;
  /** Where the caller's context came from; `undefined` when none was found. */
  readonly source: CarrierSource | undefined;
  /** What the span options are given; updated in place by {@link StartedOperation.describe}. */
  readonly info: GraphQLServerOperationInfo;
  /** Names the span, once, when the document says what the operation is. */
  describe(type: string, name: string | undefined): void;
  /** A result, or one event of a stream: noted for `responseHook`, and its `errors` failed by `isError`. */
  result(value: unknown): void;
  /** Ends the operation, failed with `error` when one is given. Later calls do nothing. */
  finish(error?: unknown): void;
  /**
   * A result (or event, or payload) as it goes to the caller: with `traceResponse` on and a recording span, a
   * copy with `extensions.traceresponse` added (other extensions kept); otherwise `value` itself.
   */
  respond<T>(value: T): T;
  /**
   * A stream of events (a subscription, incremental payloads) as it goes to the caller: each `next`, `return`
   * and `throw` runs in the operation's context, each event is a {@link StartedOperation.result} and goes out
   * through {@link StartedOperation.respond}; `onEnd` runs once when the stream ends, fails or is returned.
   */
  stream<T>(source: AsyncIterable<T>, onEnd: (error?: unknown) => void): AsyncIterable<T>;
}

/** `value` (a GraphQL result) with `extensions.traceresponse`: a copy, or `value` itself when it is no object. */
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

const everyErrorIsAnError = () => true;

/** What a request says about an operation before its document is parsed. */
export function requestInfo(params: unknown, contextValue: unknown, request: unknown): GraphQLServerOperationInfo {
  const operationName = own(params, 'operationName');
  return {
    operationName: typeof operationName === 'string' && operationName ? operationName : undefined,
    operationType: undefined,
    variables: own(params, 'variables'),
    contextValue,
    request,
  };
}

/**
 * Starts one operation on a GraphQL server: its parent by the shared rule (`operationParent`), with the trust
 * policy asked through `incomingInfo`; its SERVER span by the span options (`startOperationSpan`), named
 * once the document is known; `graphql.document` from `query` when `document` is on; the variables when
 * `captureInput` is on.
 */
export function startServerOperation<TInfo>(
  carriers: OperationCarriers,
  config: GraphQLServerConfig<TInfo>,
  incomingInfo: (source: TraceContextSource) => TInfo,
  info: GraphQLServerOperationInfo,
  query: unknown,
): StartedOperation {
  const { parent, links, root, source } = operationParent(carriers, config.propagator, (from) =>
    resolvePolicy(config.incoming, incomingInfo(SOURCES[from])),
  );
  const operation = startOperationSpan(config.span, info, {
    kind: SpanKind.SERVER,
    name: UNKNOWN_OPERATION_SPAN_NAME,
    attributes: config.document && typeof query === 'string' ? { [ATTR_GRAPHQL_DOCUMENT]: query } : {},
    parent,
    links,
    root,
    inputAttribute: ATTR_GRAPHQL_OPERATION_VARIABLES,
    input: () => info.variables,
    defaultIsError: everyErrorIsAnError,
    errorType: graphqlErrorType,
    metric: graphqlOperationMetric('server', undefined),
  });
  const span = operation.span;
  let described = false;
  // Read now, while the span records: results are often sent after it ended. A span that does not record
  // (unsampled, or a no-op tracer's, whose context is the caller's own) sends nothing.
  const traceresponse =
    config.traceResponse && span?.isRecording() ? formatTraceResponse(span.spanContext()) : undefined;
  const context = span ? trace.setSpan(parent, span) : parent;
  const respond = <T>(value: T): T => withTraceResponse(value, traceresponse);
  const started: StartedOperation = {
    context,
    operation,
    source,
    info,
    describe(type, name) {
      if (described) return;
      described = true;
      info.operationType = type;
      info.operationName = name;
      operation.setAttribute(ATTR_GRAPHQL_OPERATION_TYPE, type);
      operation.rename(operationSpanName(type, name));
      span?.setAttributes(operationAttributes(type, name, undefined));
    },
    result(value) {
      operation.result(value);
      failResult(operation, own(value, 'errors'));
    },
    finish(error) {
      if (error !== undefined) operation.fail(error);
      operation.end();
    },
    respond,
    stream(source, onEnd) {
      return bindAsyncIterable(source, context, {
        onValue: (event) => started.result(event),
        onEnd,
        map: traceresponse === undefined ? undefined : respond,
      });
    },
  };
  return started;
}
