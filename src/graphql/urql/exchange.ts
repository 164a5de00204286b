// The urql exchange. It speaks wonka's source protocol directly (a signal is `0` for the end, or
// `{ tag: 0 | 1, 0: talkback | value }`), as every exchange's `Source` does, instead of importing wonka, which
// is a dependency of @urql/core and not of the app: with strict package managers it may not resolve from here.
import { context as contextApi, type TextMapPropagator } from '@opentelemetry/api';
import { type Exchange, makeOperation, type Operation, stringifyDocument } from '@urql/core';
import { callerContext } from '../../core/action.js';
import type { ContextCarrier } from '../../core/carrier.js';
import {
  type ClientOperation,
  type ClientOperationConfig,
  documentOperationName,
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
 * // What traceContextExchange puts on the wire, per POST operation:
 * // { "query": "…", "extensions": { "traceContext": { "traceparent": "00-…-01" } } }
 * import { TRACE_CONTEXT_EXTENSION } from 'otel-rpc-context/urql';
 *
 * const carrier = operation.extensions?.[TRACE_CONTEXT_EXTENSION];
 * ```
 */
export const TRACE_CONTEXT_EXTENSION = SHARED_EXTENSION_KEY;

/**
 * What a query that `fetchExchange` sends as GET carries (urql sends queries as GET by default:
 * `preferGetMethod: 'within-url-limit'`):
 * - `'headers'`: the W3C headers only; the URL stays the same for every call, so HTTP caches and CDNs
 *   still hit (a cross-origin browser request then needs a CORS preflight);
 * - `'url'`: the carrier in the URL's `extensions` like any other operation; every URL becomes unique;
 * - `'none'`: nothing; the server falls back to its own HTTP-level context.
 *
 * @example
 * ```ts
 * traceContextExchange({ get: 'url' });
 * ```
 */
export type GetRequestCarrier = 'headers' | 'url' | 'none';

/**
 * Options for {@link traceContextExchange}; named and defaulted as `TraceContextLink`'s. Every field is optional.
 * The span options (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`, `tracer`)
 * and `propagate` are every integration's (see `GraphQLClientOptions`); their `info` is a
 * `GraphQLClientOperationInfo` whose `context` is urql's `operation.context`. `responseHook` sees the last
 * `OperationResult`, or the network error; a query or mutation torn down before its first result is `cancelled`.
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
export interface TraceContextExchangeOptions extends GraphQLClientOptions {
  /** Record the operation's source text as `graphql.document` on the client span. @default false */
  document?: boolean;
  /**
   * Also send the carrier as standard W3C headers (`traceparent`, `tracestate`, `baggage`) on POST, so HTTP
   * server instrumentation joins the caller's trace. `'auto'`: not in a browser (a custom header makes a
   * cross-origin request preflight) and not when Node's fetch is instrumented already; see `HeadersMode`.
   * @default 'auto'
   */
  headers?: HeadersMode;
  /** What a query sent as GET carries; see {@link GetRequestCarrier}. @default 'headers' */
  get?: GetRequestCarrier;
  /** The propagator that writes the carrier. @default the global propagator */
  propagator?: TextMapPropagator;
}

interface ExchangeConfig extends ClientOperationConfig {
  headers: HeadersMode;
  get: GetRequestCarrier;
}

function withDefaults(options: TraceContextExchangeOptions): ExchangeConfig {
  return {
    ...resolveClientOptions(options),
    headers: options.headers ?? 'auto',
    get: options.get ?? 'headers',
  };
}

// wonka's source protocol, as far as this exchange needs it.
type Signal<T> = 0 | { tag: 0; 0: unknown } | { tag: 1; 0: T };
type Source<T> = (sink: (signal: Signal<T>) => void) => void;

/** `source` with `fn` applied to every value; `fn` may return a thunk that delivers the value itself. */
function mapValues<A, B>(source: Source<A>, fn: (value: A, deliver: (value: B) => void) => void): Source<B> {
  return (sink) =>
    source((signal) => {
      if (signal === 0 || signal.tag === 0) sink(signal as Signal<B>);
      else fn(signal[0], (value) => sink({ tag: 1, 0: value }));
    });
}

type Headers = Record<string, string>;

/** Any `HeadersInit` (a `Headers`, entry pairs or a record) as a plain record. */
function headersRecord(init: unknown): Headers {
  const out: Headers = {};
  if (init == null || typeof init !== 'object') return out;
  if (typeof (init as { forEach?: unknown }).forEach === 'function' && !Array.isArray(init)) {
    (init as { forEach(fn: (value: string, key: string) => void): void }).forEach((value, key) => {
      out[key] = value;
    });
  } else if (Array.isArray(init)) {
    for (const pair of init) if (Array.isArray(pair) && pair.length === 2) out[String(pair[0])] = String(pair[1]);
  } else {
    for (const key of Object.keys(init)) out[key] = String((init as Record<string, unknown>)[key]);
  }
  return out;
}

/** The operation as it leaves this exchange: the carrier in `extensions`, or in headers for a GET query. */
function withCarrier(operation: Operation, carrier: ContextCarrier | undefined, config: ExchangeConfig): Operation {
  // `propagate` said no: the operation goes on as it came, nothing in extensions, nothing in headers.
  if (carrier === undefined) return operation;
  const { context } = operation;
  const get = operation.kind === 'query' && !!context.preferGetMethod;
  const inExtensions = !get || config.get === 'url';
  let hasCarrier = false;
  for (const _ in carrier) hasCarrier = true;
  const inHeaders = (get ? config.get === 'headers' : sendsHeaders(config.headers)) && hasCarrier;
  // Always set on the way out, `{}` included: in a batch or on a shared socket, an operation's own slot is
  // authoritative, so "no context" is said explicitly. A fresh object: `extensions` may be shared.
  const request = inExtensions
    ? { ...operation, extensions: { ...operation.extensions, [TRACE_CONTEXT_EXTENSION]: carrier } }
    : operation;
  if (!inHeaders) return makeOperation(operation.kind, request, context);
  const previous = context.fetchOptions;
  return makeOperation(operation.kind, request, {
    ...context,
    fetchOptions: () => {
      const options = (typeof previous === 'function' ? previous() : previous) ?? {};
      return { ...options, headers: { ...headersRecord(options.headers), ...carrier } };
    },
  });
}

/**
 * An urql exchange that sends each operation's caller context to the server, in that operation's own
 * `extensions.traceContext` (a GET query: W3C headers, see {@link TraceContextExchangeOptions.get}), under a
 * CLIENT span named `{type} {name}` with the same attributes as `TraceContextLink`'s.
 *
 * Place it after `cacheExchange` and before the exchanges that send (`fetchExchange`,
 * `subscriptionExchange` over graphql-ws or graphql-sse). It reads the caller's context synchronously when
 * the operation reaches it, which urql does inside the `query`/`mutation`/`subscription` call (and inside
 * the render or effect of a React hook). The span ends on the operation's last result, an error, or its
 * teardown (unsubscribe, unmount); a subscription's span lasts until it completes or is torn down. An
 * operation whose caller has no context sends an empty carrier `{}`, so a server never lends it another
 * operation's context.
 *
 * Cache hits: `cacheExchange` answers them before they reach this exchange, so they start no span and send
 * nothing (no request is made). A `cache-and-network` refresh does reach the network, and has its span.
 *
 * Errors: never throws into the caller, and neither does a throwing option (reported once through `diag`). A
 * result with `error.networkError` or GraphQL errors records `error.type` and an exception event, and marks the
 * span ERROR unless `isError` says otherwise. A query or mutation torn down before its first result is
 * cancelled: `error.type` `cancelled`, status unset.
 *
 * Trace response: as `TraceContextLink`, the CLIENT span gets a span link to the server span a result's
 * `extensions.traceresponse` names (a server with `traceResponse: true`), once per operation; with
 * `@opentelemetry/api` < 1.9 the value is recorded as `graphql.traceresponse` instead. Malformed values are ignored.
 *
 * @example
 * ```ts
 * import { Client, cacheExchange, fetchExchange } from '@urql/core';
 * import { traceContextExchange } from 'otel-rpc-context/urql';
 *
 * const client = new Client({
 *   url: 'http://localhost:4000/graphql',
 *   exchanges: [cacheExchange, traceContextExchange(), fetchExchange],
 * });
 * ```
 */
export function traceContextExchange(options: TraceContextExchangeOptions = {}): Exchange {
  const config = withDefaults(options);
  return ({ forward }) =>
    (ops$) => {
      // Operations in flight, by key: a re-executed key supersedes its earlier run.
      const live = new Map<number, ClientOperation>();
      const sent$ = mapValues<Operation, Operation>(ops$ as unknown as Source<Operation>, (operation, deliver) => {
        if (operation.kind === 'teardown') {
          // Before its first result, a query or mutation torn down is cancelled; a subscription just ends.
          live.get(operation.key)?.teardown();
          live.delete(operation.key);
          deliver(operation);
          return;
        }
        const parent = callerContext();
        live.get(operation.key)?.end();
        let client: ClientOperation;
        try {
          const info: GraphQLClientOperationInfo = {
            operationName: documentOperationName(operation.query),
            operationType: operation.kind,
            variables: operation.variables,
            context: operation.context,
          };
          client = startClientOperation(parent, info, () => stringifyDocument(operation.query), config);
        } catch {
          deliver(operation);
          return;
        }
        live.set(operation.key, client);
        // The exchanges after this one (and fetch instrumentation) run with the client span active.
        contextApi.with(client.context, () => deliver(withCarrier(operation, client.carrier, config)));
      });
      const results$ = forward(sent$ as never) as unknown as Source<Parameters<typeof recordResult>[0]>;
      return ((sink: (signal: Signal<unknown>) => void) =>
        results$((signal) => {
          if (signal === 0) {
            // The client is done with every operation: end what is left.
            for (const client of live.values()) client.end();
            live.clear();
          } else if (signal.tag === 1) {
            recordResult(signal[0], live);
          }
          sink(signal);
        })) as never;
    };
}

function recordResult(
  result: {
    operation: Operation;
    hasNext?: boolean;
    error?: { graphQLErrors?: unknown; networkError?: unknown } | undefined;
  },
  live: Map<number, ClientOperation>,
): void {
  const { operation } = result;
  const client = live.get(operation.key);
  if (!client) return;
  client.result(result, result.error?.graphQLErrors);
  const networkError = result.error?.networkError;
  if (networkError !== undefined && networkError !== null) {
    client.end(networkError);
    live.delete(operation.key);
  } else if (operation.kind !== 'subscription' && !result.hasNext) {
    client.end();
    live.delete(operation.key);
  }
}
