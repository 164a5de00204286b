// The Apollo Server plugin's per-operation path: where an operation's carriers are, how it starts, and the
// one request listener whose hooks name it, record its errors and result, and end it.
import type { BaseContext, GraphQLRequestContext, GraphQLRequestListener } from '@apollo/server';
import { isHeaders } from '../../core/carrier.js';
import { isAsyncIterable, type OperationCarriers } from '../../core/server.js';
import { documentOperationName, documentOperationType } from '../document.js';
import { requestInfo, type StartedOperation, startServerOperation } from '../server.js';
import type { GraphQLServerConfig } from '../server-options.js';
import { failResult, readTraceContextExtension } from '../shared.js';
import type { ApolloServerIncomingInfo } from './options.js';
import { type ResolverScope, scopes } from './resolvers.js';

/** One operation: the scope its resolvers run in, and the started operation every outcome goes through. */
export interface Operation extends ResolverScope {
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

/** The operations of one plugin instance, found by their GraphQL context value. */
export function apolloOperations(config: GraphQLServerConfig<ApolloServerIncomingInfo>) {
  /** Where this operation's caller context may be, by the shared rule's names. */
  function carriersOf(requestContext: GraphQLRequestContext<BaseContext>): OperationCarriers {
    try {
      const request = requestContext.request;
      const http = request.http;
      // Apollo's integrations always give `http`; `executeOperation` never does.
      if (http === undefined) return { inProcess: true };
      return {
        operation: readTraceContextExtension(request.extensions),
        // `requestIsBatched` arrived during 4.x (late 2022); without it a batch reads as single requests.
        shared: (requestContext as { requestIsBatched?: unknown }).requestIsBatched === true,
        // Apollo's HeaderMap is a Map with lowercase names: it has the `get`/`forEach` of Fetch Headers.
        headers: config.headers && isHeaders(http.headers) ? http.headers : undefined,
      };
    } catch {
      return {};
    }
  }

  /** Starts an operation; `undefined` when it has neither a span nor a caller context to run in. */
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

  /** Ends the operation, failed for the errors Apollo reported or with `error`. */
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

  return { start, finish, lookup, listener };
}
