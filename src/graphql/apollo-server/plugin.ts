// The Apollo Server plugin: one SERVER span and one context per operation, by the shared rule
// (operations.ts), and the schema's resolvers wrapped to run in it (resolvers.ts).
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { resolveServerOptions } from '../server-options.js';
import { apolloOperations, type Operation } from './operations.js';
import type { TraceContextPluginOptions } from './options.js';
import { scopes, wrapSchemaResolvers } from './resolvers.js';

/**
 * An Apollo Server plugin (`@apollo/server` 4 and 5) that runs every GraphQL operation in the context its
 * caller sent, under a SERVER span: every resolver, async ones and those of nested lists included, and each
 * operation of a batched request (`allowBatchedHttpRequests: true`) in its own caller's context.
 *
 * Per operation it looks for the caller's context in this order, by the package's one rule:
 * 1. the operation's `extensions.traceContext` (what `TraceContextLink` sends; one per operation, so batched
 *    requests stay apart);
 * 2. the HTTP request's W3C headers (`traceparent`, `tracestate`, `baggage`), unless `headers: false` (never
 *    for an operation of a batch: the headers belong to at most one of them).
 *
 * With none, the operation runs in the server's own active context (for example your HTTP instrumentation's
 * span). `server.executeOperation(...)` runs in the caller's active context, a child of its active span.
 * The `incoming` policy decides what a found context may do.
 *
 * How: Apollo plugins cannot wrap execution, so when the schema loads the plugin wraps, once and in place,
 * every field that has a resolver; each call finds its operation by the GraphQL context value (a WeakMap
 * lookup) and runs inside `context.with`. Fields without a resolver are not wrapped. Subscriptions do not
 * run through Apollo Server plugins: wrap graphql-ws's server options with `withTraceContext` from
 * `otel-rpc-context/graphql-ws`.
 *
 * Span: named `query`, `mutation` or `subscription`, followed by the operation name when there is one
 * (`GraphQL Operation` while or when the operation is unknown), with `graphql.operation.type`,
 * `graphql.operation.name` and, with `document: true`, `graphql.document`. Parse, validation and
 * execution errors set status ERROR (unless `isError` says otherwise) and `error.type` and are recorded as
 * exception events. Never throws.
 *
 * Span options (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`) are resolved
 * once, here. The span starts in `requestDidStart`, before parsing: `spans` and `requestHook` see the
 * request's `operationName` and no `operationType` yet; `spanName` is asked again once Apollo resolves the
 * operation (see `GraphQLServerOperationInfo`). `info.request` is the `GraphQLRequest`, `info.contextValue`
 * your context value; `responseHook` gets the response's result (for @defer/@stream, the last payload) and
 * the first error Apollo reported. An operation without a span still runs its resolvers in its caller's context.
 *
 * @example
 * ```ts
 * import { ApolloServer } from '@apollo/server';
 * import { startStandaloneServer } from '@apollo/server/standalone';
 * import { traceContextPlugin } from 'otel-rpc-context/apollo-server';
 *
 * const server = new ApolloServer({
 *   typeDefs,
 *   resolvers,
 *   plugins: [traceContextPlugin({ spans: (info) => info.operationName !== 'IntrospectionQuery' })],
 * });
 * const { url } = await startStandaloneServer(server, { listen: { port: 4000 } });
 * ```
 */
export function traceContextPlugin(options: TraceContextPluginOptions = {}): ApolloServerPlugin<BaseContext> {
  const { start, finish, lookup, listener } = apolloOperations(resolveServerOptions(options));

  return {
    async serverWillStart() {
      return {
        schemaDidLoadOrUpdate({ apiSchema }) {
          wrapSchemaResolvers(apiSchema);
        },
      };
    },
    async requestDidStart(requestContext) {
      let operation: Operation | undefined;
      try {
        operation = start(requestContext);
      } catch {
        // A propagator or tracer that throws must not fail the request.
      }
      if (!operation) return undefined;
      scopes.set(requestContext.contextValue, operation);
      return listener;
    },
    async unexpectedErrorProcessingRequest({ requestContext, error }) {
      finish(lookup(requestContext), error);
    },
  };
}
