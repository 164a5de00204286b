// What every GraphQL client integration (the Apollo link, the urql exchange) does per operation: the CLIENT
// span, the carrier it sends, and how its result ends the span. Only @opentelemetry/api is imported, so each
// client entry point pulls in nothing of the others.

import { type Context, diag, type Span, SpanKind, type TextMapPropagator, trace } from '@opentelemetry/api';
import { resumeCaller } from '../core/action.js';
import { graphqlOperationMetric } from '../core/conventions.js';
import { fetchInOperationContext, type TraceContextFetchOptions as SharedFetchOptions } from '../core/fetch.js';
import { failResult, graphqlErrorType, operationAttributes, operationSpanName } from './shared.js';

export { documentOperationName, documentOperationType } from './shared.js';

import type { ContextCarrier } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import {
  CANCELLED_ERROR_TYPE,
  callSafely,
  type OperationSpan,
  resolveSpanOptions,
  type SpanConfig,
  type SpanOptions,
  startOperationSpan,
} from '../core/operation.js';
import { linkServerSpan, parseTraceResponse } from '../core/traceresponse.js';
import { ATTR_GRAPHQL_OPERATION_VARIABLES, TRACE_RESPONSE } from './shared.js';

export { ATTR_GRAPHQL_OPERATION_VARIABLES };

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

/** Client options every GraphQL client integration shares, resolved to their defaults. */
export interface ClientOperationConfig {
  /** The span options, resolved once when the link or exchange is created. */
  span: SpanConfig<GraphQLClientOperationInfo>;
  /** Whether an operation sends its carrier. */
  propagate: (info: GraphQLClientOperationInfo) => boolean;
  document: boolean;
  propagator: TextMapPropagator | undefined;
}

const always = () => true;
const never = () => false;

/** The options {@link GraphQLClientOptions} adds, plus `document` and `propagator`, resolved once. */
export function resolveClientOptions(
  options: GraphQLClientOptions & { document?: boolean; propagator?: TextMapPropagator },
): ClientOperationConfig {
  const { propagate = true } = options;
  return {
    span: resolveSpanOptions(options),
    propagate: typeof propagate === 'function' ? propagate : propagate ? always : never,
    document: options.document ?? false,
    propagator: options.propagator,
  };
}

/** One operation in flight on the client side. */
export interface ClientOperation {
  /** The context downstream code runs in: the CLIENT span's, or the caller's when `spans` is off. */
  readonly context: Context;
  /**
   * The carrier to send: an object, `{}` when the caller had no context (an explicit "none"); `undefined`
   * when `propagate` said no, and nothing may be sent.
   */
  readonly carrier: ContextCarrier | undefined;
  /**
   * Notes one GraphQL result (`value`, for `responseHook`), records its `errors` on the span, and hands the
   * caller's user action on to what it starts.
   */
  result(value: unknown, errors: unknown): void;
  /**
   * Ends the operation, once: its span (`error` fails it; an `AbortError`, the caller's own signal, cancels
   * it), and its share of the caller's user action.
   */
  end(error?: unknown): void;
  /**
   * Ends the operation because the caller tore it down (unsubscribe, unmount): a query or mutation that had
   * no result yet is cancelled (`error.type` `cancelled`, status unset); a subscription just ends.
   */
  teardown(): void;
}

const isAnyError = () => true;

/** The attribute a CLIENT span records the server's `traceresponse` under when its API has no `addLink` (< 1.9). */
export const ATTR_GRAPHQL_TRACERESPONSE = 'graphql.traceresponse';

/**
 * Links `span` to the server span a result's `extensions.traceresponse` names (a server with
 * `traceResponse: true`). `true` once done: an operation links once, to the first valid value it receives.
 * An absent or invalid value (the server is untrusted) is ignored. With an API older than 1.9, whose spans
 * have no `addLink`, the value is recorded as {@link ATTR_GRAPHQL_TRACERESPONSE} instead.
 */
function linkTraceResponse(span: Span, result: unknown): boolean {
  try {
    const extensions = (result as { extensions?: unknown } | null)?.extensions;
    if (typeof extensions !== 'object' || extensions === null) return false;
    const value = (extensions as Record<string, unknown>)[TRACE_RESPONSE];
    const spanContext = parseTraceResponse(value);
    if (!spanContext) return false;
    linkServerSpan(span, spanContext, ATTR_GRAPHQL_TRACERESPONSE);
    return true;
  } catch {
    return false; // a hostile result (a throwing getter) links nothing
  }
}

/** An `AbortError` (a `DOMException` or an `Error` named so), what fetch rejects with for an aborted signal. */
function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/**
 * Starts one operation under `parent` (the caller's context, read when the operation started): its CLIENT
 * span `{type} {name}` unless `spans` says no, and its carrier unless `propagate` says no. `source` is
 * called only when `document` is on.
 */
export function startClientOperation(
  parent: Context,
  info: GraphQLClientOperationInfo,
  source: () => string | undefined,
  config: ClientOperationConfig,
): ClientOperation {
  const { operationType: type, operationName: name } = info;
  const operation: OperationSpan = startOperationSpan(config.span, info, {
    kind: SpanKind.CLIENT,
    name: operationSpanName(type, name),
    attributes: operationAttributes(type, name, config.document ? source() : undefined),
    parent,
    inputAttribute: ATTR_GRAPHQL_OPERATION_VARIABLES,
    input: () => info.variables,
    defaultIsError: isAnyError,
    errorType: graphqlErrorType,
    metric: graphqlOperationMetric('client', type, name),
  });
  const span = operation.span;
  const active = span ? trace.setSpan(parent, span) : parent;
  let carrier: ContextCarrier | undefined;
  if (callSafely('propagate', config.propagate, info)) {
    try {
      carrier = getContext({ context: active, propagator: config.propagator });
    } catch (error) {
      // A propagator that throws: the operation goes on, with an explicit "no context".
      diag.debug('otel-rpc-context: the propagator threw while writing a carrier; sending none', error);
      carrier = {};
    }
  }
  let ended = false;
  let results = 0;
  let linked = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    resumeCaller(parent, true);
    // The caller's own signal (`fetchOptions.signal`) aborted the request: a cancellation, not a failure.
    if (isAbortError(error)) operation.cancel('AbortError');
    else if (error !== undefined) operation.fail(error);
    operation.end();
  };
  return {
    context: active,
    carrier,
    result(value, errors) {
      if (!ended) {
        results++;
        if (!linked && span) linked = linkTraceResponse(span, value);
        operation.result(value);
        failResult(operation, errors);
      }
      // What the caller starts on this result (a refetch) joins its user action.
      resumeCaller(parent, false);
    },
    end,
    teardown() {
      if (ended) return;
      if (results === 0 && type !== 'subscription') operation.cancel(CANCELLED_ERROR_TYPE);
      end();
    },
  };
}

/**
 * When standard W3C headers go with an operation: `true` always, `false` never, `'auto'` wherever a custom
 * header costs nothing. In a browser (a page or a web worker) a custom header makes every cross-origin request
 * preflight, and `@opentelemetry/instrumentation-fetch` already injects headers for same-origin URLs, so
 * `'auto'` sends none there. Elsewhere (Node.js, Deno, Bun, edge and worker runtimes) there is no CORS, so
 * `'auto'` sends them, unless fetch is instrumented already (`@opentelemetry/instrumentation-undici` on
 * Node.js): that instrumentation appends its own `traceparent` to ours, and the joined value is rejected.
 *
 * @example
 * ```ts
 * new TraceContextLink({ headers: 'auto' }); // the default
 * traceContextExchange({ headers: false }); // extensions only, everywhere
 * ```
 */
export type HeadersMode = boolean | 'auto';

/** Whether this runtime is a browser: a page (`document`) or a web worker (`WorkerGlobalScope`). */
function inBrowser(): boolean {
  const scope = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return typeof scope.document !== 'undefined' || typeof scope.WorkerGlobalScope !== 'undefined';
}

interface ChannelLike {
  readonly hasSubscribers: boolean;
}
let undiciChannel: ChannelLike | null | undefined;

/** Whether `@opentelemetry/instrumentation-undici` (or anything like it) listens to Node's fetch. */
function fetchInstrumented(): boolean {
  if (undiciChannel === undefined) {
    undiciChannel = null;
    try {
      const load = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
        ?.getBuiltinModule;
      const dc = load?.('node:diagnostics_channel') as { channel?: (name: string) => ChannelLike } | undefined;
      undiciChannel = dc?.channel?.('undici:request:create') ?? null;
    } catch {
      undiciChannel = null;
    }
  }
  return undiciChannel?.hasSubscribers === true;
}

/** Resolves a {@link HeadersMode} for an operation starting now. */
export function sendsHeaders(mode: HeadersMode): boolean {
  if (mode !== 'auto') return mode === true;
  return !inBrowser() && !fetchInstrumented();
}

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

/** Each operation's carrier in a GraphQL request body (a JSON operation or batch), in order. */
function bodyCarriers(body: unknown): unknown[] {
  if (typeof body !== 'string' || body.length === 0 || (body[0] !== '{' && body[0] !== '[')) return [];
  try {
    const parsed: unknown = JSON.parse(body);
    const operations: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    return operations.map(
      (operation) => (operation as { extensions?: { traceContext?: unknown } } | null)?.extensions?.traceContext,
    );
  } catch {
    return []; // Not JSON: no carrier in the body.
  }
}

/** The carriers of a request's operations: the body's `extensions.traceContext`, then a GET's W3C headers. */
function requestCarriers(_input: unknown, init: unknown): readonly unknown[] {
  const request = init as RequestInit | undefined;
  const carriers = bodyCarriers(request?.body);
  const headers = request?.headers;
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) carriers.push(headers);
  return carriers;
}

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
