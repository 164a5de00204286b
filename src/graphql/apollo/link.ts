// The Apollo Client link. One class serves Apollo Client 3.8+ and 4: it imports only `ApolloLink` and
// `Observable` from `@apollo/client/core`, which both majors export (zen-observable on 3, rxjs on 4), and reads
// nothing that only one major has. Not the package root: Apollo Client 3's root pulls in its React hooks, which
// require `react`, and apps without React import `@apollo/client/core`.
import { ApolloLink, Observable } from '@apollo/client/core';
import { context as contextApi } from '@opentelemetry/api';
import { callerContext } from '../../core/action-scope.js';
import { startClientOperation } from '../client.js';
import type { GraphQLClientOperationInfo } from '../client-options.js';
import { documentOperationType } from '../document.js';
import { attachCarrier, type OperationLike } from './carrier.js';
import { type LinkConfig, resolveLinkOptions, type TraceContextLinkOptions } from './options.js';

type Forward = (operation: OperationLike) => {
  subscribe(observer: { next(value: unknown): void; error(error: unknown): void; complete(): void }): {
    unsubscribe(): void;
  };
};
type Request = ApolloLink['request'];

/**
 * An Apollo Client link (Apollo Client 3.8+ and 4) that sends each operation's caller context to the server,
 * in that operation's own `extensions.traceContext`, under a CLIENT span named `{type} {name}`.
 *
 * It reads the caller's context synchronously when the operation enters the link chain, which Apollo Client
 * does inside the `query`/`mutate`/`subscribe` call; the span starts when the request is subscribed and
 * ends on the result, an error or unsubscribe. The carrier rides in `extensions`, the one per-operation
 * slot every transport keeps: `HttpLink` (POST), `BatchHttpLink` (one request, each operation its own
 * carrier), `GraphQLWsLink` and SSE links. An operation whose caller has no context says so with an empty
 * carrier `{}`, so a server never lends it another operation's context. Place it first, before any link that
 * holds an operation back (`SetContextLink`/`setContext` auth links, `createPersistedQueryLink`): after one, it
 * would read the caller's context once a browser context manager has forgotten it. On Apollo Client 3, whose
 * `HttpLink` leaves `extensions` out of the body by default, the link turns `http.includeExtensions` on for the
 * operations whose carrier travels there.
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
    this.#config = resolveLinkOptions(options);
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
      attachCarrier(op, type, client.carrier, config);
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
