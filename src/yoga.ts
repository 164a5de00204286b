/**
 * `otel-rpc-context/yoga`: per-operation OpenTelemetry context for graphql-yoga and Envelop.
 * @module
 */
import { context as contextApi } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { isHeaders, isObject, toContextCarrier } from './carrier.js';
import { startServerOperation } from './graphql-server.js';
import {
  operationAttributes,
  operationSpanName,
  recordResultErrors,
  recordThrown,
  TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY,
} from './graphql-shared.js';
import { bindAsyncIterable, isAsyncIterable, type OperationCarriers } from './server.js';
import { type Envelope, findOperation, isPromiseLike, OPERATION_KEY, type Operation, own } from './yoga/envelope.js';
import { type UseTraceContextOptions, withDefaults } from './yoga/options.js';

export {
  TRACE_CONTEXT_EXTENSION,
  type TraceContextSource,
  type UseTraceContextOptions,
  type YogaIncomingInfo,
} from './yoga/options.js';

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
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createSchema, createYoga } from 'graphql-yoga';
 * import { useTraceContext } from 'otel-rpc-context/yoga';
 *
 * const yoga = createYoga({
 *   schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'hi' } } }),
 *   plugins: [useTraceContext({ incoming: 'link' })],
 * });
 * createServer(yoga).listen(4000);
 * ```
 */
export function useTraceContext(options: UseTraceContextOptions = {}): Plugin {
  const config = withDefaults(options);
  const operations = new WeakMap<object, Operation>();

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

  function start(envelope: Envelope): Operation {
    const request = envelope.request as Request | undefined;
    const { context, span } = startServerOperation(
      carriersOf(envelope),
      config,
      (source) => ({ context: envelope as Record<string, unknown>, request, source }),
      envelope.params?.query,
    );
    const operation: Operation = {
      context,
      params: envelope.params,
      span,
      streaming: false,
      invalid: false,
      described: false,
      ended: false,
    };
    operation.context = context.setValue(OPERATION_KEY, operation);
    return operation;
  }

  /**
   * The operation of a GraphQL context object, started on the first phase that sees it. A context object
   * reused for another operation (a server context passed to `yoga.fetch` twice) has new params.
   */
  function operationOf(envelope: Envelope): Operation {
    let operation = operations.get(envelope);
    if (!operation || operation.params !== envelope.params) {
      operation = start(envelope);
      operations.set(envelope, operation);
    }
    return operation;
  }

  /** Finds the operation from a hook: by its GraphQL context, else from the active context. */
  function lookup(envelope: unknown): Operation | undefined {
    return (
      (isObject(envelope) ? operations.get(envelope) : undefined) ??
      (contextApi.active().getValue(OPERATION_KEY) as Operation | undefined)
    );
  }

  function describe(operation: Operation | undefined, document: unknown, operationName: unknown): void {
    if (!operation?.span || operation.described) return;
    const definition = findOperation(document, operationName);
    if (!definition?.operation) return;
    operation.described = true;
    const name = definition.name?.value;
    operation.span.updateName(operationSpanName(definition.operation, name));
    operation.span.setAttributes(operationAttributes(definition.operation, name, undefined));
  }

  function finish(operation: Operation, error?: unknown): void {
    if (operation.ended) return;
    operation.ended = true;
    if (!operation.span) return;
    if (error !== undefined) recordThrown(operation.span, error);
    operation.span.end();
  }

  /** Runs a synchronous phase inside the operation; a phase that throws ends the operation. */
  function runPhase(envelope: Envelope, wrapped: () => void, after?: (operation: Operation) => void): void {
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
      const span = operation.span;
      const stream = bindAsyncIterable(result, operation.context, {
        onValue: span ? (event) => recordResultErrors(span, own(event, 'errors')) : undefined,
        onEnd: (error) => finish(operation, error),
      });
      setResult(stream as never);
    } else if (operation.span) recordResultErrors(operation.span, own(result, 'errors'));
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
          if (operation.span) recordResultErrors(operation.span, result);
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
