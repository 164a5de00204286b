// The Apollo Client link. One class serves Apollo Client 3.8+ and 4: it imports only `ApolloLink` and
// `Observable` from `@apollo/client/core`, which both majors export (zen-observable on 3, rxjs on 4), and reads
// nothing that only one major has. Not the package root: Apollo Client 3's root pulls in its React hooks, which
// require `react`, and apps without React import `@apollo/client/core`.
import { ApolloLink, Observable } from '@apollo/client/core';
import { context as contextApi, propagation, type TextMapPropagator } from '@opentelemetry/api';
import { callerContext } from '../../core/action.js';
import type { ContextCarrier } from '../../core/carrier.js';
import {
  type ClientOperationConfig,
  documentOperationType,
  type GraphQLClientOperationInfo,
  type GraphQLClientOptions,
  type HeadersMode,
  resolveClientOptions,
  sendsHeaders,
  startClientOperation,
} from '../client.js';
import { TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY } from '../shared.js';

/**
 * The `extensions` key that carries each operation's context carrier: `'traceContext'`.
 *
 * @example
 * ```ts
 * // What TraceContextLink puts on the wire, per operation:
 * // { "query": "…", "extensions": { "traceContext": { "traceparent": "00-…-01" } } }
 * import { TRACE_CONTEXT_EXTENSION } from 'otel-rpc-context/apollo';
 *
 * const carrier = operation.extensions[TRACE_CONTEXT_EXTENSION];
 * ```
 */
export const TRACE_CONTEXT_EXTENSION = SHARED_EXTENSION_KEY;

/**
 * What a GET operation carries (an `HttpLink` with `useGETForQueries`, or `context.fetchOptions.method: 'GET'`):
 * - `'headers'`: the W3C headers only; the URL stays the same for every call, so HTTP caches and CDNs
 *   still hit (a cross-origin browser request then needs a CORS preflight);
 * - `'url'`: the carrier in the URL's `extensions` like any other operation; every URL becomes unique, so
 *   nothing is ever served from a cache;
 * - `'none'`: nothing; the server falls back to its own HTTP-level context.
 *
 * @example
 * ```ts
 * new HttpLink({ uri, useGETForQueries: true });
 * new TraceContextLink({ useGETForQueries: true, get: 'headers' });
 * ```
 */
export type GetRequestCarrier = 'headers' | 'url' | 'none';

/**
 * Options for {@link TraceContextLink}. Every field is optional. The span options (`spans`, `spanName`,
 * `requestHook`, `responseHook`, `captureInput`, `isError`, `tracer`) and `propagate` are every integration's
 * (see {@link GraphQLClientOptions}); their `info` is a {@link GraphQLClientOperationInfo} whose `context` is
 * `operation.getContext()`. `responseHook` sees the last GraphQL result, or the error the request failed
 * with; an operation unsubscribed before its first result (a query or mutation) is `cancelled`.
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
export interface TraceContextLinkOptions extends GraphQLClientOptions {
  /** Record the operation's source text as `graphql.document` on the client span. @default false */
  document?: boolean;
  /**
   * Also send the carrier as standard W3C headers (`traceparent`, `tracestate`, `baggage`), so HTTP server
   * instrumentation (`@opentelemetry/instrumentation-http`) joins the caller's trace instead of starting one
   * of its own. `'auto'` sends them where that costs nothing: not in a browser (a custom header makes a
   * cross-origin request preflight), and not when Node's fetch is instrumented already (see
   * {@link HeadersMode}). `BatchHttpLink` groups operations by headers: where the link sends them, give it
   * `batchKey: traceContextBatchKey(uri)` ({@link traceContextBatchKey}), or each operation goes in a request of
   * its own. The per-operation carrier in `extensions` goes either way; servers read that first.
   * @default 'auto'
   */
  headers?: HeadersMode;
  /** Set it to what you give `HttpLink`: queries then travel as GET, and {@link TraceContextLinkOptions.get} applies. @default false */
  useGETForQueries?: boolean;
  /** What a GET operation carries; see {@link GetRequestCarrier}. @default 'headers' */
  get?: GetRequestCarrier;
  /** The propagator that writes the carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

interface LinkConfig extends ClientOperationConfig {
  headers: HeadersMode;
  useGETForQueries: boolean;
  get: GetRequestCarrier;
}

/** Every option resolved to its default, in one place. */
function withDefaults(options: TraceContextLinkOptions): LinkConfig {
  return {
    // The tracer, when not given, is resolved per operation (cheaply), so a provider registered later is found.
    ...resolveClientOptions(options),
    headers: options.headers ?? 'auto',
    useGETForQueries: options.useGETForQueries ?? false,
    get: options.get ?? 'headers',
  };
}

/** What the link reads of an operation: the part Apollo Client 3 and 4 have in common. */
interface OperationLike {
  query: { definitions?: readonly unknown[]; loc?: { source?: { body?: string } } | null };
  operationName?: string | null;
  /** Apollo Client 4 only; on 3 the type is read from the document. */
  operationType?: string;
  variables?: unknown;
  extensions: Record<string, unknown>;
  getContext(): Record<string, unknown>;
  setContext(update: (previous: Record<string, unknown>) => Record<string, unknown>): void;
}
type Forward = (operation: OperationLike) => {
  subscribe(observer: { next(value: unknown): void; error(error: unknown): void; complete(): void }): {
    unsubscribe(): void;
  };
};
type Request = ApolloLink['request'];

/** Whether the terminating `HttpLink` will send this operation as GET, judged the way it judges. */
function isGet(operation: OperationLike, type: string, useGETForQueries: boolean): boolean {
  const method = (operation.getContext() as { fetchOptions?: { method?: unknown } }).fetchOptions?.method;
  if (typeof method === 'string') return method.toUpperCase() === 'GET';
  // Only queries: a subscription routed to GraphQLWsLink or SSE by a split link never goes as GET.
  return useGETForQueries && type === 'query';
}

/**
 * An Apollo Client link (Apollo Client 3.8+ and 4) that sends each operation's caller context to the server,
 * in that operation's own `extensions.traceContext`, under a CLIENT span named `{type} {name}`.
 *
 * It reads the caller's context synchronously when the operation enters the link chain, which Apollo Client
 * does inside the `query`/`mutate`/`subscribe` call; the span starts when the request is subscribed and
 * ends on the result, an error or unsubscribe. The carrier rides in `extensions`, the one per-operation
 * slot every transport keeps: `HttpLink` (POST), `BatchHttpLink` (one request, each operation its own
 * carrier), `GraphQLWsLink` and SSE links. An operation whose caller has no context says so with an empty
 * carrier `{}`, so a server never lends it another operation's context. Place it right before the
 * terminating link. On Apollo Client 3, whose `HttpLink` leaves `extensions` out of the body by default, the
 * link turns `http.includeExtensions` on for the operations whose carrier travels there.
 *
 * Query deduplication (on by default) lets a second identical in-flight query share the first one's
 * request: it never reaches this link, so it has no client span of its own and the server runs the query
 * once, in the first caller's trace. Set `queryDeduplication: false` on the client, or
 * `context: { queryDeduplication: false }` per query, when every caller needs its own trace.
 *
 * Errors: never throws into the caller, and neither does a throwing option (reported once through `diag`). A
 * failing request or a result with GraphQL errors records `error.type` and an exception event, and marks the
 * span ERROR unless `isError` says otherwise. A query or mutation unsubscribed before its first result is
 * cancelled: `error.type` `cancelled`, status unset.
 *
 * Trace response: when a result carries a valid `extensions.traceresponse` (a server integration of this
 * package with `traceResponse: true`, W3C `00-{trace-id}-{span-id}-{flags}`), the CLIENT span gets a span link
 * to that server span, once per operation (the first valid value; a subscription's later events add none).
 * Under `incoming: 'link'` the server's trace is not the caller's: the link leads from one to the other. With
 * `@opentelemetry/api` < 1.9, whose spans have no `addLink`, the value is recorded as the
 * `graphql.traceresponse` attribute instead. A malformed value is ignored.
 *
 * @example
 * ```ts
 * import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
 * import { TraceContextLink } from 'otel-rpc-context/apollo';
 *
 * const client = new ApolloClient({
 *   link: ApolloLink.from([new TraceContextLink(), new HttpLink({ uri: 'http://localhost:4000/graphql' })]),
 *   cache: new InMemoryCache(),
 * });
 * ```
 */
export class TraceContextLink extends ApolloLink {
  readonly #config: LinkConfig;

  constructor(options: TraceContextLinkOptions = {}) {
    super();
    this.#config = withDefaults(options);
  }

  // Two declared parameters: Apollo Client 3 treats a link whose `request` takes one as terminating.
  override request(operation: Parameters<Request>[0], forward: Parameters<Request>[1]): ReturnType<Request> {
    // The caller's context, read now: by the time the request is subscribed it may be gone.
    const parent = callerContext();
    const config = this.#config;
    const op = operation as unknown as OperationLike;
    const next = forward as unknown as Forward;
    return new Observable<unknown>((observer) => {
      const type = op.operationType ?? documentOperationType(op.query, op.operationName) ?? 'query';
      const name = op.operationName || undefined;
      const info: GraphQLClientOperationInfo = {
        operationName: name,
        operationType: type,
        variables: op.variables,
        context: op.getContext(),
      };
      const client = startClientOperation(parent, info, () => op.query.loc?.source?.body ?? undefined, config);
      attach(op, type, client.carrier, config);
      // Downstream links (and fetch instrumentation) see the client span as the active one.
      let subscription: { unsubscribe(): void };
      try {
        subscription = contextApi.with(client.context, () =>
          next(op).subscribe({
            next(result) {
              client.result(result, (result as { errors?: unknown } | null)?.errors);
              observer.next(result);
            },
            error(error: unknown) {
              client.end(error);
              observer.error(error);
            },
            complete() {
              client.end();
              observer.complete();
            },
          }),
        );
      } catch (error) {
        // A link that throws while building the request (say, a body that cannot be serialized).
        client.end(error);
        observer.error(error);
        return undefined;
      }
      return () => {
        // After `complete` or `error` this does nothing; before the first result it is a cancellation.
        client.teardown();
        subscription.unsubscribe();
      };
    }) as unknown as ReturnType<Request>;
  }
}

type Headers = Record<string, string>;

/**
 * A `batchKey` for `BatchHttpLink` that groups operations as its default key does, except that it leaves out
 * the trace context headers ({@link TraceContextLinkOptions.headers}), which differ per operation: with the
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
  uri: string | ((operation: Parameters<Request>[0]) => string) = '/graphql',
  options: { propagator?: TextMapPropagator } = {},
): (operation: Parameters<Request>[0]) => string {
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

/** Marks, in an operation's context, that `propagate` said no: {@link traceContextBatchKey} batches it apart. */
const NO_CARRIER = Symbol.for('otel-rpc-context.apollo.noCarrier');

function attach(operation: OperationLike, type: string, carrier: ContextCarrier | undefined, config: LinkConfig): void {
  if (carrier === undefined) {
    // `propagate` said no: nothing in extensions, nothing in headers.
    operation.setContext(() => ({ [NO_CARRIER]: true }));
    return;
  }
  const get = isGet(operation, type, config.useGETForQueries);
  const inExtensions = !get || config.get === 'url';
  // Headers: for GET as `get` says; otherwise as `headers` says, and only for a non-empty carrier (an empty
  // one says nothing the server's own default does not).
  const inHeaders = (get ? config.get === 'headers' : sendsHeaders(config.headers)) && hasEntries(carrier);
  if (inExtensions) {
    // A fresh object: the caller's `extensions` may be shared with other operations. Always set, `{}`
    // included: in a batch, an operation's own slot is authoritative.
    operation.extensions = { ...operation.extensions, [TRACE_CONTEXT_EXTENSION]: carrier };
  }
  if (!inExtensions && !inHeaders) return;
  operation.setContext((previous) => {
    const update: Record<string, unknown> = {};
    // Apollo Client 3's HttpLink and BatchHttpLink leave `extensions` out unless asked (4 sends them).
    const http = previous.http as { includeExtensions?: boolean } | undefined;
    if (inExtensions && http?.includeExtensions !== true) update.http = { ...http, includeExtensions: true };
    if (inHeaders) {
      update.headers = { ...(previous.headers as Headers | undefined), ...carrier };
    }
    return update;
  });
}

function hasEntries(carrier: ContextCarrier): boolean {
  for (const _ in carrier) return true;
  return false;
}
