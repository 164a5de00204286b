// The graphql-ws wrapper's per-operation path. graphql-ws calls every hook with the operation's Subscribe
// payload (v6: `(ctx, id, payload, …)`, v5: `(ctx, message, …)`) and hands `execute`/`subscribe` the very
// args object that `onSubscribe` returned or `context` was given: those two objects find the operation.
import { type Context, context as contextApi } from '@opentelemetry/api';
import { isObject, isPromiseLike, own } from '../../core/carrier.js';
import { isAsyncIterable, type OperationCarriers } from '../../core/server.js';
import { findOperation } from '../document.js';
import { requestInfo, type StartedOperation, startServerOperation } from '../server.js';
import type { GraphQLServerConfig } from '../server-options.js';
import { readConnectionCarrier, readTraceContextExtension } from '../shared.js';
import type { GraphQLWsIncomingInfo } from './options.js';

/** One operation, from its Subscribe message to its last result or event. */
export interface Operation {
  context: Context;
  started: StartedOperation;
  connection: object;
  ended: boolean;
}

/** A graphql-ws server option function, or one of yours. */
export type Hook = (this: unknown, ...args: unknown[]) => unknown;

/** graphql-ws's connection context, as the hooks are handed it. */
export type Connection = GraphQLWsIncomingInfo['context'];

/** graphql-ws 6 passes `(ctx, id, payload, …)`, graphql-ws 5 `(ctx, message, …)` with `message.payload`. */
export function payloadOf(second: unknown, third: unknown): object | undefined {
  const payload = typeof second === 'string' ? third : own(second, 'payload');
  return isObject(payload) ? payload : undefined;
}

/** The upgrade request's headers, when the adapter gives them (`extra.request.headers`). */
function upgradeHeaders(extra: unknown): object | undefined {
  const request = isObject(extra) ? (extra as { request?: unknown }).request : undefined;
  const headers = isObject(request) ? (request as { headers?: unknown }).headers : undefined;
  return isObject(headers) ? headers : undefined;
}

/** Where an operation's caller context may be, by the shared rule's names: a connection carries many. */
function carriersOf(connection: Connection, payload: object, headers: boolean): OperationCarriers {
  try {
    return {
      operation: readTraceContextExtension(own(payload, 'extensions')),
      shared: true,
      headers: headers ? (upgradeHeaders(connection.extra) as OperationCarriers['headers']) : undefined,
      connection: readConnectionCarrier(connection.connectionParams),
    };
  } catch {
    return { shared: true };
  }
}

/** The operations of one wrapped options object, found by their Subscribe payload or exec args. */
export function wsOperations(config: GraphQLServerConfig<GraphQLWsIncomingInfo>) {
  const byPayload = new WeakMap<object, Operation>();
  const byArgs = new WeakMap<object, Operation>();
  const open = new WeakMap<object, Set<Operation>>();

  /** Starts the operation of a Subscribe payload and keeps it, by the payload, until it ends. */
  function start(connection: Connection, payload: object): Operation {
    const started = startServerOperation(
      carriersOf(connection, payload, config.headers),
      config,
      (source) => ({ context: connection, payload: payload as Record<string, unknown>, source }),
      requestInfo(payload, connection, payload),
      own(payload, 'query'),
    );
    const operation: Operation = { context: started.context, started, connection, ended: false };
    const set = open.get(connection);
    if (set) set.add(operation);
    else open.set(connection, new Set([operation]));
    byPayload.set(payload, operation);
    return operation;
  }

  /** Ends the operation, once. */
  function finish(operation: Operation | undefined, error?: unknown): void {
    if (!operation || operation.ended) return;
    operation.ended = true;
    open.get(operation.connection)?.delete(operation);
    operation.started.finish(error);
  }

  /** Ends every operation a connection left open; a 4500 close (a thrown error) fails them. */
  function endConnection(connection: unknown, code: unknown, reason: unknown): void {
    const left = isObject(connection) ? open.get(connection) : undefined;
    if (!left) return;
    const error = code === 4500 ? new Error(typeof reason === 'string' ? reason : 'Internal server error') : undefined;
    for (const operation of [...left]) finish(operation, error);
  }

  /** Names the operation from the document execution is handed. */
  function describe(operation: Operation, args: { document?: unknown; operationName?: unknown }): void {
    const definition = findOperation(args.document, args.operationName);
    if (definition?.operation) operation.started.describe(definition.operation, definition.name?.value);
  }

  /** The operation of a hook's arguments `(ctx, id, payload, …)` or `(ctx, message, …)`. */
  const operationOf = (args: unknown[]) => {
    const payload = payloadOf(args[1], args[2]);
    return payload ? byPayload.get(payload) : undefined;
  };

  /** Remembers the exec args that execute or subscribe will be handed for an operation. */
  const bindArgs = (execArgs: object, operation: Operation) => byArgs.set(execArgs, operation);

  /** A user hook, run inside its operation's context. */
  const inOperation = (fn: Hook): Hook =>
    function (this: unknown, ...args) {
      const operation = operationOf(args);
      return operation ? contextApi.with(operation.context, fn, this, ...args) : fn.apply(this, args);
    };

  /** Runs execute or subscribe in the operation; ends it with the result unless the result is a stream. */
  function run(fn: Hook, execArgs: unknown): unknown {
    const operation = isObject(execArgs) ? byArgs.get(execArgs) : undefined;
    if (!operation) return fn(execArgs);
    describe(operation, execArgs as { document?: unknown; operationName?: unknown });
    const settle = (result: unknown) => {
      if (isAsyncIterable(result)) {
        return operation.started.stream(result, (error) => finish(operation, error));
      }
      operation.started.result(result);
      finish(operation);
      return operation.started.respond(result);
    };
    const fail = (error: unknown) => {
      finish(operation, error);
      throw error;
    };
    let result: unknown;
    try {
      result = contextApi.with(operation.context, fn, undefined, execArgs);
    } catch (error) {
      return fail(error);
    }
    return isPromiseLike(result) ? Promise.resolve(result).then(settle, fail) : settle(result);
  }

  return { start, finish, endConnection, operationOf, bindArgs, inOperation, run };
}
