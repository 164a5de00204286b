// The urql exchange: where an operation starts (it reaches the exchange), where it ends (its last result, an
// error, its teardown) and where its carrier goes (carrier.ts). It speaks wonka's source protocol (source.ts).
import { context as contextApi } from '@opentelemetry/api';
import { type Exchange, type Operation, stringifyDocument } from '@urql/core';
import { callerContext } from '../../core/action-scope.js';
import { type ClientOperation, startClientOperation } from '../client.js';
import { type GraphQLClientOperationInfo, resolveClientOptions } from '../client-options.js';
import { documentOperationName } from '../document.js';
import { withCarrier } from './carrier.js';
import type { TraceContextExchangeOptions } from './options.js';
import { mapValues, type Signal, type Source } from './source.js';

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
  const config = resolveClientOptions(options);
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

/**
 * Notes one result on its operation's span, and ends the span on a network error or on the last result of a
 * query or mutation (`hasNext` says more parts of an incremental result follow); a subscription ends on teardown.
 */
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
