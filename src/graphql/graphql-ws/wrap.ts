// graphql-ws server options that run each operation in its own caller's context and span: your hooks,
// wrapped to run inside their operation, around the per-operation path of operations.ts.
import { context as contextApi } from '@opentelemetry/api';
import { execute as graphqlExecute, subscribe as graphqlSubscribe } from 'graphql';
import { isObject } from '../../core/carrier.js';
import { resolveServerOptions } from '../server-options.js';
import { failResult } from '../shared.js';
import { type Connection, type Hook, type Operation, payloadOf, wsOperations } from './operations.js';
import type { WithTraceContextOptions } from './options.js';

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
  const { start, finish, endConnection, operationOf, bindArgs, inOperation, run } = wsOperations(
    resolveServerOptions(options),
  );
  const user = serverOptions as Record<string, unknown>;
  const hook = (name: string) => (typeof user[name] === 'function' ? (user[name] as Hook) : undefined);
  const userOnSubscribe = hook('onSubscribe');
  const userContext = user.context;
  const userExecute = hook('execute');
  const userSubscribe = hook('subscribe');
  const userOnError = hook('onError');
  const userOnComplete = hook('onComplete');
  const userOnClose = hook('onClose');

  const wrapped: Record<string, unknown> = {
    ...user,
    async onSubscribe(this: unknown, ...args: unknown[]) {
      const connection = (isObject(args[0]) ? args[0] : {}) as Connection;
      const payload = payloadOf(args[1], args[2]);
      let operation: Operation | undefined;
      if (payload) {
        try {
          operation = start(connection, payload);
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
        if (operation && isObject(result) && !Array.isArray(result)) bindArgs(result, operation);
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
      if (operation && isObject(execArgs)) bindArgs(execArgs, operation);
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
      // Operations a thrown error cut short (graphql-ws closes the socket with 4500) end here.
      endConnection(args[0], args[1], args[2]);
      return userOnClose?.apply(this, args);
    },
  };
  for (const name of ['onOperation', 'onNext'] as const) {
    const fn = hook(name);
    if (fn) wrapped[name] = inOperation(fn);
  }
  return wrapped as TOptions;
}
