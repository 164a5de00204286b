// The Apollo Server plugin: one SERVER span and one context per operation, by the shared rule.

import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequest,
  GraphQLRequestContext,
  GraphQLRequestListener,
} from '@apollo/server';
import { isHeaders, own, toContextCarrier } from '../../core/carrier.js';
import { isAsyncIterable, type OperationCarriers } from '../../core/server.js';
import {
  type GraphQLServerTraceOptions,
  requestInfo,
  type StartedOperation,
  startServerOperation,
  type TraceContextSource,
  withDefaults,
} from '../server.js';
import { documentOperationName, documentOperationType, failResult, TRACE_CONTEXT_EXTENSION } from '../shared.js';
import { type ResolverScope, scopes, wrapSchemaResolvers } from './resolvers.js';

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * traceContextPlugin({
 *   incoming: ({ request }) => (request.http?.headers.get('authorization') ? 'continue' : 'link'),
 * });
 * ```
 */
export interface ApolloServerIncomingInfo {
  /** The operation's GraphQL context value, as your `context` function built it. */
  contextValue: BaseContext;
  /** The GraphQL request: `query`, `operationName`, `variables`, `extensions`, and `http` (method, headers). */
  request: GraphQLRequest;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link traceContextPlugin}. Every field is optional; the names and defaults are those of the
 * Yoga plugin and of every GraphQL server integration of this package.
 *
 * @example
 * ```ts
 * traceContextPlugin({ incoming: 'link', spans: true, document: false, headers: true, captureInput: false });
 * ```
 */
export interface TraceContextPluginOptions extends GraphQLServerTraceOptions<ApolloServerIncomingInfo> {}

interface Operation extends ResolverScope {
  started: StartedOperation;
  /**
   * The errors Apollo reported (`didEncounterErrors`), failed once the response is known: after its result,
   * so that `responseHook` is told the error.
   */
  errors: unknown;
}

interface OperationDefinitionLike {
  operation?: unknown;
  name?: { value?: unknown } | null;
}

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
  const config = withDefaults(options);

  /** Where this operation's caller context may be, by the shared rule's names. */
  function carriersOf(requestContext: GraphQLRequestContext<BaseContext>): OperationCarriers {
    try {
      const request = requestContext.request;
      const http = request.http;
      // Apollo's integrations always give `http`; `executeOperation` never does.
      if (http === undefined) return { inProcess: true };
      const sent = own(request.extensions, TRACE_CONTEXT_EXTENSION);
      return {
        // Sent but unusable (wrong type): still this operation's say, never another's.
        operation: sent === undefined ? undefined : (toContextCarrier(sent) ?? {}),
        // `requestIsBatched` arrived during 4.x (late 2022); without it a batch reads as single requests.
        shared: (requestContext as { requestIsBatched?: unknown }).requestIsBatched === true,
        // Apollo's HeaderMap is a Map with lowercase names: it has the `get`/`forEach` of Fetch Headers.
        headers: config.headers && isHeaders(http.headers) ? http.headers : undefined,
      };
    } catch {
      return {};
    }
  }

  function start(requestContext: GraphQLRequestContext<BaseContext>): Operation | undefined {
    const { request, contextValue } = requestContext;
    const started = startServerOperation(
      carriersOf(requestContext),
      config,
      (from) => ({ contextValue, request, source: from }),
      requestInfo(request, contextValue, request),
      request.query,
    );
    // Nothing to run in and nothing to record: the resolvers keep the context they already inherit.
    if (!started.operation.span && started.source === undefined) return undefined;
    return { context: started.context, started, errors: undefined };
  }

  /** Fails the operation for the errors Apollo reported, once. */
  function flushErrors(operation: Operation): void {
    const { errors } = operation;
    operation.errors = undefined;
    failResult(operation.started.operation, errors);
  }

  function finish(operation: Operation | undefined, error?: unknown): void {
    if (!operation) return;
    flushErrors(operation);
    operation.started.finish(error);
  }

  const lookup = (requestContext: GraphQLRequestContext<BaseContext>) =>
    scopes.get(requestContext.contextValue) as Operation | undefined;

  // One listener for every request: each hook finds its operation by the request's context value.
  const listener: GraphQLRequestListener<BaseContext> = {
    async validationDidStart(requestContext) {
      // Apollo resolves the operation only after validation: name it from the parsed document now, so that a
      // document that parses but fails validation still has its type (span name, metrics).
      const operation = lookup(requestContext);
      if (!operation) return;
      const document = requestContext.document as Parameters<typeof documentOperationType>[0];
      const operationName = requestContext.request.operationName;
      const type = documentOperationType(document, operationName);
      if (type) operation.started.describe(type, operationName ?? documentOperationName(document));
    },
    async didResolveOperation(requestContext) {
      const operation = lookup(requestContext);
      const definition = requestContext.operation as OperationDefinitionLike | undefined;
      if (!operation || typeof definition?.operation !== 'string') return;
      const name = typeof definition.name?.value === 'string' ? definition.name.value : undefined;
      operation.started.describe(definition.operation, name);
    },
    async didEncounterErrors(requestContext) {
      const operation = lookup(requestContext);
      if (operation) operation.errors = requestContext.errors;
    },
    async willSendResponse(requestContext) {
      const operation = lookup(requestContext);
      if (!operation) return;
      const body = requestContext.response.body as
        | { kind?: unknown; singleResult?: unknown; initialResult?: unknown; subsequentResults?: unknown }
        | undefined;
      const { operation: span } = operation.started;
      if (body?.kind === 'incremental' && isAsyncIterable(body.subsequentResults)) {
        // @defer/@stream: the span ends with the last payload, and each payload runs in the operation.
        span.result(body.initialResult);
        flushErrors(operation);
        body.initialResult = operation.started.respond(body.initialResult);
        body.subsequentResults = operation.started.stream(body.subsequentResults, (error) => finish(operation, error));
        return;
      }
      if (body?.kind === 'single') {
        span.result(body.singleResult);
        body.singleResult = operation.started.respond(body.singleResult);
      }
      finish(operation);
    },
  };

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
