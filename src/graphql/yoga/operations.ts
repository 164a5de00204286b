// The Yoga plugin's per-operation path: an operation starts when Yoga hands its params to the params handler
// (over HTTP: one `context.with` around parse, validate, context and execute), else on the first phase that
// sees its GraphQL context (graphql-ws); each phase runs inside it, and it ends with its result, its event
// stream, or the first phase that throws.
import { context as contextApi } from '@opentelemetry/api';
import { isObject, isPromiseLike } from '../../core/carrier.js';
import { isAsyncIterable } from '../../core/server.js';
import { findOperation } from '../document.js';
import { requestInfo, startServerOperation } from '../server.js';
import type { GraphQLServerConfig } from '../server-options.js';
import { carriersOf, type Envelope, OPERATION_KEY, type Operation } from './envelope.js';
import type { YogaIncomingInfo } from './options.js';

/** Yoga's handler of one operation's params (`onParams`' `paramsHandler`), as far as this plugin calls it. */
export type ParamsHandler = (payload: { context: unknown; params: unknown; request: unknown }) => unknown;

/** The operations of one plugin instance, found by their GraphQL context object. */
export function yogaOperations(config: GraphQLServerConfig<YogaIncomingInfo>) {
  const operations = new WeakMap<object, Operation>();

  /** Requests whose body is a batch of several operations (`batching: true`). */
  const batched = new WeakSet<object>();

  function start(envelope: Envelope): Operation {
    const request = envelope.request as Request | undefined;
    const started = startServerOperation(
      carriersOf(envelope, config.headers, batched),
      config,
      (source) => ({ context: envelope as Record<string, unknown>, request, source }),
      requestInfo(envelope.params, envelope, request),
      envelope.params?.query,
    );
    const operation: Operation = {
      context: started.context,
      params: envelope.params,
      started,
      streaming: false,
      invalid: false,
      described: false,
    };
    operation.context = started.context.setValue(OPERATION_KEY, operation);
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

  /** Names the operation once its document is known. */
  function describe(operation: Operation | undefined, document: unknown, operationName: unknown): void {
    if (!operation || operation.described) return;
    const definition = findOperation(document, operationName);
    if (!definition?.operation) return;
    operation.described = true;
    operation.started.describe(definition.operation, definition.name?.value);
  }

  /** Ends the operation; the started operation keeps it to once. */
  function finish(operation: Operation, error?: unknown): void {
    operation.started.finish(error);
  }

  const inOperation = new WeakMap<ParamsHandler, ParamsHandler>();

  /**
   * `handler` (Yoga's, which parses, validates, builds the context and executes) run inside its operation's
   * context, started here: one `context.with` for the four phases, which then find their operation active.
   * Made once per handler.
   */
  function runsInOperation(handler: ParamsHandler): ParamsHandler {
    let bound = inOperation.get(handler);
    if (!bound) {
      bound = (payload) => {
        let operation: Operation;
        try {
          // What Yoga's own handler sets on the context before parsing, set now so the operation starts from them.
          const { params, request } = payload;
          const context = payload.context as Envelope;
          Object.assign(context, context.request === request ? { params } : { request, params });
          operation = operationOf(context);
        } catch {
          return handler(payload);
        }
        return contextApi.with(operation.context, handler, undefined, payload);
      };
      inOperation.set(handler, bound);
    }
    return bound;
  }

  /** Runs `fn` in the operation's context: directly when that is active already (the params handler's). */
  function within<T>(operation: Operation, fn: () => T): T {
    return contextApi.active() === operation.context ? fn() : contextApi.with(operation.context, fn);
  }

  /** Runs a synchronous phase inside the operation; a phase that throws ends the operation. */
  function runPhase(envelope: Envelope, wrapped: () => void, after?: (operation: Operation) => void): void {
    const operation = operationOf(envelope);
    try {
      within(operation, wrapped);
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
      result = within(operation, wrapped);
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

  /** Records a result (or binds an event stream) and sends it on with its `traceresponse`, if any. */
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

  return { batched, lookup, describe, finish, runsInOperation, runPhase, runExecution, onResult };
}
