// graphql-ws server options that run each operation in its own caller's context and span. graphql-ws calls
// every hook with the operation's Subscribe payload (v6: `(ctx, id, payload, …)`, v5: `(ctx, message, …)`)
// and hands `execute`/`subscribe` the very args object that `onSubscribe` returned or `context` was given:
// those two objects find the operation.
import { type Context, context as contextApi } from '@opentelemetry/api';
import { execute as graphqlExecute, subscribe as graphqlSubscribe } from 'graphql';
import { isObject, isPromiseLike, own, toContextCarrier } from '../../core/carrier.js';
import { isAsyncIterable, type OperationCarriers } from '../../core/server.js';
import {
  type GraphQLServerTraceOptions,
  requestInfo,
  type StartedOperation,
  startServerOperation,
  type TraceContextSource,
  withDefaults,
} from '../server.js';
import { failResult, findOperation, TRACE_CONTEXT_EXTENSION } from '../shared.js';

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * withTraceContext({ schema }, {
 *   incoming: ({ context }) => (context.connectionParams?.token ? 'continue' : 'link'),
 * });
 * ```
 */
export interface GraphQLWsIncomingInfo {
  /** graphql-ws's connection context: `connectionParams`, `extra` (for `graphql-ws/use/ws`: `socket`, `request`). */
  context: { connectionParams?: Readonly<Record<string, unknown>>; extra?: unknown };
  /** The operation's Subscribe payload (`query`, `operationName`, `variables`, `extensions`), untrusted. */
  payload: Record<string, unknown>;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link withTraceContext}. Every field is optional; the names and defaults are those of every
 * GraphQL server integration of this package. `headers` reads the WebSocket upgrade request's headers
 * (`extra.request.headers`, as `graphql-ws/use/ws` and most adapters give them).
 *
 * @example
 * ```ts
 * withTraceContext({ schema }, { incoming: 'link', spans: (info) => info.operationName !== 'Heartbeat' });
 * ```
 */
export interface WithTraceContextOptions extends GraphQLServerTraceOptions<GraphQLWsIncomingInfo> {}

interface Operation {
  context: Context;
  started: StartedOperation;
  connection: object;
  ended: boolean;
}

type Hook = (this: unknown, ...args: unknown[]) => unknown;
type Connection = GraphQLWsIncomingInfo['context'];

/** graphql-ws 6 passes `(ctx, id, payload, …)`, graphql-ws 5 `(ctx, message, …)` with `message.payload`. */
function payloadOf(second: unknown, third: unknown): object | undefined {
  const payload = typeof second === 'string' ? third : own(second, 'payload');
  return isObject(payload) ? payload : undefined;
}

/** The upgrade request's headers, when the adapter gives them (`extra.request.headers`). */
function upgradeHeaders(extra: unknown): object | undefined {
  const request = isObject(extra) ? (extra as { request?: unknown }).request : undefined;
  const headers = isObject(request) ? (request as { headers?: unknown }).headers : undefined;
  return isObject(headers) ? headers : undefined;
}

/**
 * Wraps graphql-ws server options (graphql-ws 5 and 6) so that each operation, query, mutation and
 * subscription alike, runs in its own caller's context under a SERVER span: the `subscribe` resolver,
 * execution, every resolver, every event of a subscription however late it comes, and your `onSubscribe`,
 * `context`, `onOperation`, `onNext`, `onError` and `onComplete` hooks. Works with any server that uses
 * graphql-ws directly (Apollo Server's subscription recipe, a plain `useServer({ schema })`, Yoga's recipe).
 *
 * Per operation, the caller's context comes from, by the package's one rule: the Subscribe message's
 * `extensions.traceContext` (what `TraceContextLink` sends through `GraphQLWsLink`); else the upgrade
 * request's W3C headers (unless `headers: false`); else the `connection_init` payload
 * (`connectionParams.traceContext`, or `connectionParams` itself). A connection carries many operations, so
 * an operation that sends its own slot is never given another's context.
 *
 * Returns a new options object; `serverOptions` is not changed. Your `execute` and `subscribe` are used when
 * given, else graphql's. The span ends with the result, or with the subscription's last event (or when the
 * client completes it, or the socket closes). Never throws into graphql-ws.
 *
 * Span options (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`) are resolved
 * once, here. The span starts when the Subscribe message arrives (in `onSubscribe`, before parsing):
 * `spans` and `requestHook` see the payload's `operationName` and no `operationType` yet; `spanName` is
 * asked again once execution is handed the document (see `GraphQLServerOperationInfo`).
 * `info.request` is the Subscribe payload, `info.contextValue` graphql-ws's connection context
 * (`connectionParams`, `extra`); `responseHook` gets the result, or a subscription's last event, and the
 * error (a validation error, the first error of a result or event, or a thrown error).
 *
 * @example
 * ```ts
 * import { WebSocketServer } from 'ws';
 * import { useServer } from 'graphql-ws/use/ws';
 * import { withTraceContext } from 'otel-rpc-context/graphql-ws';
 *
 * const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
 * useServer(withTraceContext({ schema, context: (ctx) => ({ user: ctx.connectionParams?.user }) }), wsServer);
 * ```
 */
export function withTraceContext<TOptions extends object>(
  serverOptions: TOptions,
  options: WithTraceContextOptions = {},
): TOptions {
  const config = withDefaults(options);
  const user = serverOptions as Record<string, unknown>;
  const hook = (name: string) => (typeof user[name] === 'function' ? (user[name] as Hook) : undefined);
  const userOnSubscribe = hook('onSubscribe');
  const userContext = user.context;
  const userExecute = hook('execute');
  const userSubscribe = hook('subscribe');
  const userOnError = hook('onError');
  const userOnComplete = hook('onComplete');
  const userOnClose = hook('onClose');

  const byPayload = new WeakMap<object, Operation>();
  const byArgs = new WeakMap<object, Operation>();
  const open = new WeakMap<object, Set<Operation>>();

  function carriersOf(connection: Connection, payload: object): OperationCarriers {
    try {
      const sent = own(own(payload, 'extensions'), TRACE_CONTEXT_EXTENSION);
      const params = connection.connectionParams;
      const nested = own(params, TRACE_CONTEXT_EXTENSION);
      return {
        operation: sent === undefined ? undefined : (toContextCarrier(sent) ?? {}),
        shared: true,
        headers: config.headers ? (upgradeHeaders(connection.extra) as OperationCarriers['headers']) : undefined,
        connection: toContextCarrier(nested !== undefined ? nested : params),
      };
    } catch {
      return { shared: true };
    }
  }

  function start(connection: Connection, payload: object): Operation {
    const started = startServerOperation(
      carriersOf(connection, payload),
      config,
      (source) => ({ context: connection, payload: payload as Record<string, unknown>, source }),
      requestInfo(payload, connection, payload),
      own(payload, 'query'),
    );
    const operation: Operation = { context: started.context, started, connection, ended: false };
    const set = open.get(connection);
    if (set) set.add(operation);
    else open.set(connection, new Set([operation]));
    return operation;
  }

  function finish(operation: Operation | undefined, error?: unknown): void {
    if (!operation || operation.ended) return;
    operation.ended = true;
    open.get(operation.connection)?.delete(operation);
    operation.started.finish(error);
  }

  function describe(operation: Operation, args: { document?: unknown; operationName?: unknown }): void {
    const definition = findOperation(args.document, args.operationName);
    if (definition?.operation) operation.started.describe(definition.operation, definition.name?.value);
  }

  /** The operation of a hook's arguments `(ctx, id, payload, …)` or `(ctx, message, …)`. */
  const operationOf = (args: unknown[]) => {
    const payload = payloadOf(args[1], args[2]);
    return payload ? byPayload.get(payload) : undefined;
  };

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

  const wrapped: Record<string, unknown> = {
    ...user,
    async onSubscribe(this: unknown, ...args: unknown[]) {
      const connection = (isObject(args[0]) ? args[0] : {}) as Connection;
      const payload = payloadOf(args[1], args[2]);
      let operation: Operation | undefined;
      if (payload) {
        try {
          operation = start(connection, payload);
          byPayload.set(payload, operation);
        } catch {
          // A propagator or tracer that throws must not fail the operation.
        }
      }
      if (!userOnSubscribe) return undefined;
      try {
        const result = await (operation
          ? contextApi.with(operation.context, userOnSubscribe, this, ...args)
          : userOnSubscribe.apply(this, args));
        // Exec args of your own: execute/subscribe will be handed this very object.
        if (operation && isObject(result) && !Array.isArray(result)) byArgs.set(result, operation);
        return result;
      } catch (error) {
        finish(operation, error);
        throw error;
      }
    },
    // Always a function, so graphql-ws hands over the exec args it built; a static `context` is returned as is.
    context(this: unknown, ...args: unknown[]) {
      const operation = operationOf(args);
      const execArgs = args[args.length - 1];
      if (operation && isObject(execArgs)) byArgs.set(execArgs, operation);
      if (typeof userContext !== 'function') return userContext;
      return operation
        ? contextApi.with(operation.context, userContext as Hook, this, ...args)
        : (userContext as Hook).apply(this, args);
    },
    execute: (execArgs: unknown) => run(userExecute ?? (graphqlExecute as Hook), execArgs),
    subscribe: (execArgs: unknown) => run(userSubscribe ?? (graphqlSubscribe as Hook), execArgs),
    async onError(this: unknown, ...args: unknown[]) {
      const operation = operationOf(args);
      try {
        return await (userOnError ? inOperation(userOnError).apply(this, args) : undefined);
      } finally {
        if (operation && !operation.ended) failResult(operation.started.operation, args[args.length - 1]);
        finish(operation);
      }
    },
    async onComplete(this: unknown, ...args: unknown[]) {
      try {
        return await (userOnComplete ? inOperation(userOnComplete).apply(this, args) : undefined);
      } finally {
        finish(operationOf(args));
      }
    },
    async onClose(this: unknown, ...args: unknown[]) {
      const [connection, code, reason] = args;
      const left = isObject(connection) ? open.get(connection) : undefined;
      if (left) {
        // Operations a thrown error cut short (graphql-ws closes the socket with 4500): end them here.
        const error =
          code === 4500 ? new Error(typeof reason === 'string' ? reason : 'Internal server error') : undefined;
        for (const operation of [...left]) finish(operation, error);
      }
      return userOnClose?.apply(this, args);
    },
  };
  for (const name of ['onOperation', 'onNext'] as const) {
    const fn = hook(name);
    if (fn) wrapped[name] = inOperation(fn);
  }
  return wrapped as TOptions;
}
