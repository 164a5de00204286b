import { context as contextApi } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { isHeaders, isObject, isPromiseLike, own, toContextCarrier } from '../../core/carrier.js';
import { isAsyncIterable, type OperationCarriers } from '../../core/server.js';
import { requestInfo, type StartedOperation, startServerOperation } from '../server.js';
import { failResult, findOperation, TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY } from '../shared.js';
import { type Envelope, OPERATION_KEY, type Operation } from './envelope.js';
import { type UseTraceContextOptions, withDefaults } from './options.js';

/** The plugin's per-operation state: Envelop's view of it, and the started operation every outcome goes through. */
interface YogaOperation extends Operation {
  started: StartedOperation;
}

/**
 * An Envelop / graphql-yoga plugin that runs every GraphQL operation in the context its caller sent, under a
 * SERVER span: parse, validate, context building, execution, every resolver, and for subscriptions the
 * `subscribe` resolver and every event's resolvers, however late the event arrives.
 *
 * Per operation it looks for the caller's context in this order, and uses the first that holds a valid
 * trace context:
 * 1. the operation's `extensions.traceContext` (what `TraceContextLink` sends; one per operation, so
 *    batched requests and shared WebSockets stay apart);
 * 2. the graphql-ws `connection_init` payload (`connectionParams.traceContext`, or `connectionParams` itself),
 *    which the graphql-ws recipe passes to `getEnveloped`;
 * 3. the HTTP request's W3C headers (`traceparent`, `tracestate`, `baggage`), unless `headers: false`.
 *
 * With none, the operation runs in the server's own active context (for example your HTTP
 * instrumentation's span). The `incoming` policy decides what a found context may do. Works over Yoga HTTP
 * (single and `batching: true`), Yoga's SSE, and graphql-ws with Yoga's documented `useServer` recipe; it
 * relies on Envelop's `instrumentation` hooks (graphql-yoga >= 5.13, @envelop/core >= 5.1).
 *
 * Span options (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`) are resolved
 * once, here. The span starts at the operation's first phase, before parsing: `spans` and `requestHook` see
 * the `operationName` the request sent and no `operationType` yet; `spanName` is asked again once the document
 * is parsed (see `GraphQLServerOperationInfo`). `info.request` is the Fetch `Request` (`undefined` over
 * graphql-ws); `info.contextValue` is Envelop's GraphQL context. Parse and validation errors, each result's
 * (and each subscription event's) `errors`, and thrown errors all go through `isError`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createSchema, createYoga } from 'graphql-yoga';
 * import { useTraceContext } from 'otel-rpc-context/yoga';
 *
 * const yoga = createYoga({
 *   schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'hi' } } }),
 *   plugins: [
 *     useTraceContext({
 *       incoming: 'link',
 *       spans: (info) => info.operationName !== 'IntrospectionQuery',
 *       captureInput: (variables) => ({ ...(variables as object), password: '[redacted]' }),
 *     }),
 *   ],
 * });
 * createServer(yoga).listen(4000);
 * ```
 */
export function useTraceContext(options: UseTraceContextOptions = {}): Plugin {
  const config = withDefaults(options);
  const operations = new WeakMap<object, YogaOperation>();

  /** Requests whose body is a batch of several operations (`batching: true`). */
  const batched = new WeakSet<object>();

  /** Where this operation's caller context may be, by the shared rule's names. */
  function carriersOf(envelope: Envelope): OperationCarriers {
    try {
      const request = envelope.request as { headers?: unknown } | undefined;
      const sent = own(envelope.params?.extensions, SHARED_EXTENSION_KEY);
      const connectionParams = envelope.connectionParams;
      const nested = own(connectionParams, SHARED_EXTENSION_KEY);
      return {
        // Sent but unusable (wrong type): still this operation's say, never another's.
        operation: sent === undefined ? undefined : (toContextCarrier(sent) ?? {}),
        // graphql-ws: one connection, many operations.
        shared: !isObject(request) || batched.has(request),
        headers: config.headers && isHeaders(request?.headers) ? request.headers : undefined,
        connection: toContextCarrier(nested !== undefined ? nested : connectionParams),
      };
    } catch {
      return {};
    }
  }

  function start(envelope: Envelope): YogaOperation {
    const request = envelope.request as Request | undefined;
    const started = startServerOperation(
      carriersOf(envelope),
      config,
      (source) => ({ context: envelope as Record<string, unknown>, request, source }),
      requestInfo(envelope.params, envelope, request),
      envelope.params?.query,
    );
    const operation: YogaOperation = {
      context: started.context,
      params: envelope.params,
      span: started.operation.span,
      started,
      streaming: false,
      invalid: false,
      described: false,
      ended: false,
    };
    operation.context = started.context.setValue(OPERATION_KEY, operation);
    return operation;
  }

  /**
   * The operation of a GraphQL context object, started on the first phase that sees it. A context object
   * reused for another operation (a server context passed to `yoga.fetch` twice) has new params.
   */
  function operationOf(envelope: Envelope): YogaOperation {
    let operation = operations.get(envelope);
    if (!operation || operation.params !== envelope.params) {
      operation = start(envelope);
      operations.set(envelope, operation);
    }
    return operation;
  }

  /** Finds the operation from a hook: by its GraphQL context, else from the active context. */
  function lookup(envelope: unknown): YogaOperation | undefined {
    return (
      (isObject(envelope) ? operations.get(envelope) : undefined) ??
      (contextApi.active().getValue(OPERATION_KEY) as YogaOperation | undefined)
    );
  }

  function describe(operation: YogaOperation | undefined, document: unknown, operationName: unknown): void {
    if (!operation || operation.described) return;
    const definition = findOperation(document, operationName);
    if (!definition?.operation) return;
    operation.described = true;
    operation.started.describe(definition.operation, definition.name?.value);
  }

  function finish(operation: YogaOperation, error?: unknown): void {
    if (operation.ended) return;
    operation.ended = true;
    operation.started.finish(error);
  }

  /** Runs a synchronous phase inside the operation; a phase that throws ends the operation. */
  function runPhase(envelope: Envelope, wrapped: () => void, after?: (operation: YogaOperation) => void): void {
    const operation = operationOf(envelope);
    try {
      contextApi.with(operation.context, wrapped);
    } catch (error) {
      finish(operation, error);
      throw error;
    }
    after?.(operation);
  }

  /** Runs execute or subscribe inside the operation; ends it with the result unless the result is a stream. */
  function runExecution(envelope: Envelope, wrapped: () => unknown) {
    const operation = operationOf(envelope);
    const done = () => {
      if (!operation.streaming) finish(operation);
    };
    let result: unknown;
    try {
      result = contextApi.with(operation.context, wrapped);
    } catch (error) {
      finish(operation, error);
      throw error;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(done, (error: unknown) => {
        finish(operation, error);
        throw error;
      });
    }
    done();
    return result as undefined;
  }

  function onResult(envelope: unknown, result: unknown, setResult: (result: never) => void): void {
    const operation = lookup(envelope);
    if (!operation) return;
    if (isAsyncIterable(result)) {
      operation.streaming = true;
      setResult(operation.started.stream(result, (error) => finish(operation, error)) as never);
    } else {
      operation.started.result(result);
      const sent = operation.started.respond(result);
      if (sent !== result) setResult(sent as never);
    }
  }

  return {
    onRequestParse({ request }) {
      return {
        onRequestParseDone({ requestParserResult }) {
          if (Array.isArray(requestParserResult) && requestParserResult.length > 1) batched.add(request);
        },
      };
    },
    onPluginInit({ registerContextErrorHandler }) {
      // A context factory that rejects ends the operation: there will be no execution to end it.
      registerContextErrorHandler(({ context, error }) => {
        const operation = lookup(context);
        if (operation) finish(operation, error);
      });
    },
    onParse() {
      return ({ context, result }) => {
        if (isObject(result) && !(result instanceof Error)) {
          describe(lookup(context), result, (context as Envelope).params?.operationName);
        }
      };
    },
    onValidate() {
      return ({ context, valid, result }) => {
        const operation = lookup(context);
        if (!valid && operation) {
          operation.invalid = true;
          failResult(operation.started.operation, result);
        }
      };
    },
    onExecute({ args }) {
      describe(lookup(args.contextValue), args.document, args.operationName);
      return {
        onExecuteDone({ args, result, setResult }) {
          onResult(args.contextValue, result, setResult);
        },
      };
    },
    onSubscribe({ args }) {
      describe(lookup(args.contextValue), args.document, args.operationName);
      return {
        onSubscribeResult({ args, result, setResult }) {
          onResult(args.contextValue, result, setResult);
        },
        onSubscribeError({ error }) {
          const operation = lookup(args.contextValue);
          if (operation) finish(operation, error);
        },
      };
    },
    instrumentation: {
      parse: ({ context }, wrapped) => runPhase(context, wrapped),
      validate: ({ context }, wrapped) =>
        runPhase(context, wrapped, (operation) => {
          if (operation.invalid) finish(operation);
        }),
      context: ({ context }, wrapped) => runPhase(context, wrapped),
      execute: ({ context }, wrapped) => runExecution(context, wrapped),
      subscribe: ({ context }, wrapped) => runExecution(context, wrapped),
    },
  };
}
