import { ApolloLink } from '@apollo/client/link';
import {
  type Context,
  context as contextApi,
  SpanKind,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { Observable } from 'rxjs';
import { callerContext } from './action.js';
import {
  operationAttributes,
  operationSpanName,
  recordResultErrors,
  recordThrown,
  TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY,
  TRACER_NAME,
} from './graphql-shared.js';
import { type ContextCarrier, getContext } from './index.js';

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
 * Options for {@link TraceContextLink}. Every field is optional.
 *
 * @example
 * ```ts
 * new TraceContextLink({ spans: true, headers: false, useGETForQueries: false, get: 'headers' });
 * ```
 */
export interface TraceContextLinkOptions {
  /** Start one CLIENT span per operation, parent of the server's span. With `false`, the caller's context travels as is. @default true */
  spans?: boolean;
  /** Record the operation's source text as `graphql.document` on the client span. @default false */
  document?: boolean;
  /**
   * Also send the carrier as standard W3C headers (`traceparent`, `tracestate`, `baggage`) through the
   * operation context's `headers`, for servers that only have HTTP instrumentation. Per-operation headers
   * split a `BatchHttpLink` batch into one request per operation (it groups operations by headers), and a
   * custom header makes cross-origin browser requests preflight.
   * @default false
   */
  headers?: boolean;
  /** Set it to what you give `HttpLink`: queries then travel as GET, and {@link TraceContextLinkOptions.get} applies. @default false */
  useGETForQueries?: boolean;
  /** What a GET operation carries; see {@link GetRequestCarrier}. @default 'headers' */
  get?: GetRequestCarrier;
  /** The tracer for the client spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that writes the carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** Every option resolved to its default, in one place. */
function withDefaults(options: TraceContextLinkOptions) {
  return {
    spans: options.spans ?? true,
    document: options.document ?? false,
    headers: options.headers ?? false,
    useGETForQueries: options.useGETForQueries ?? false,
    get: options.get ?? 'headers',
    // Resolved once: a tracer from the global provider still follows a provider registered later.
    tracer: options.tracer ?? trace.getTracer(TRACER_NAME),
    propagator: options.propagator,
  };
}

/** Whether the terminating `HttpLink` will send this operation as GET, judged the way it judges. */
function isGet(operation: ApolloLink.Operation, useGETForQueries: boolean): boolean {
  const method = (operation.getContext() as { fetchOptions?: { method?: unknown } }).fetchOptions?.method;
  if (typeof method === 'string') return method.toUpperCase() === 'GET';
  // Only queries: a subscription routed to GraphQLWsLink or SSE by a split link never goes as GET.
  return useGETForQueries && operation.operationType === 'query';
}

/**
 * An Apollo Client 4 link that sends each operation's caller context to the server, in that operation's
 * own `extensions.traceContext`, under a CLIENT span named `{type} {name}`.
 *
 * It reads the active context synchronously when the operation enters the link chain, which Apollo Client
 * does inside the `query`/`mutate`/`subscribe` call; the span starts when the request is subscribed and
 * ends on the result, an error or unsubscribe. The carrier rides in `extensions`, the one per-operation
 * slot every transport keeps: `HttpLink` (POST), `BatchHttpLink` (one request, each operation its own
 * carrier), `GraphQLWsLink` and SSE links. Place it before the terminating link.
 *
 * Query deduplication (on by default) lets a second identical in-flight query share the first one's
 * request: it never reaches this link, so it has no client span of its own and the server runs the query
 * once, in the first caller's trace. Set `queryDeduplication: false` on the client, or
 * `context: { queryDeduplication: false }` per query, when every caller needs its own trace.
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
  readonly #config: ReturnType<typeof withDefaults>;

  constructor(options: TraceContextLinkOptions = {}) {
    super();
    this.#config = withDefaults(options);
  }

  override request(
    operation: ApolloLink.Operation,
    forward: ApolloLink.ForwardFunction,
  ): Observable<ApolloLink.Result> {
    // The caller's context, read now: by the time the request is subscribed it may be gone.
    const parent = callerContext();
    const config = this.#config;
    return new Observable<ApolloLink.Result>((observer) => {
      const type = operation.operationType ?? 'query';
      const name = operation.operationName || undefined;
      const span = config.spans
        ? config.tracer.startSpan(
            operationSpanName(type, name),
            {
              kind: SpanKind.CLIENT,
              attributes: operationAttributes(
                type,
                name,
                config.document ? (operation.query.loc?.source.body ?? undefined) : undefined,
              ),
            },
            parent,
          )
        : undefined;
      const active: Context = span ? trace.setSpan(parent, span) : parent;
      const carrier = getContext({ context: active, propagator: config.propagator });
      attach(operation, carrier, config);

      let ended = false;
      const end = (error?: unknown) => {
        if (ended || !span) return;
        ended = true;
        if (error !== undefined) recordThrown(span, error);
        span.end();
      };
      // Downstream links (and fetch instrumentation) see the client span as the active one.
      let subscription: { unsubscribe(): void };
      try {
        subscription = contextApi.with(active, () =>
          forward(operation).subscribe({
            next(result) {
              if (span) recordResultErrors(span, (result as { errors?: unknown }).errors);
              observer.next(result);
            },
            error(error: unknown) {
              end(error);
              observer.error(error);
            },
            complete() {
              end();
              observer.complete();
            },
          }),
        );
      } catch (error) {
        // A link that throws while building the request (say, a body that cannot be serialized).
        end(error);
        observer.error(error);
        return undefined;
      }
      return () => {
        end();
        subscription.unsubscribe();
      };
    });
  }
}

function attach(
  operation: ApolloLink.Operation,
  carrier: ContextCarrier,
  config: ReturnType<typeof withDefaults>,
): void {
  if (Object.keys(carrier).length === 0) return;
  const get = isGet(operation, config.useGETForQueries);
  // A fresh object: the caller's `extensions` may be shared with other operations.
  if (!get || config.get === 'url') {
    operation.extensions = { ...operation.extensions, [TRACE_CONTEXT_EXTENSION]: carrier };
  }
  if (get ? config.get === 'headers' : config.headers) {
    operation.setContext((previous) => ({
      headers: { ...(previous as { headers?: Record<string, string> }).headers, ...carrier },
    }));
  }
}
