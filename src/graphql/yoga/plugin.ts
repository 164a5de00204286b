// The Yoga plugin: Envelop's hooks, each handing its phase to the operation it belongs to (operations.ts).
import type { Plugin } from 'graphql-yoga';
import { isObject } from '../../core/carrier.js';
import { resolveServerOptions } from '../server-options.js';
import { failResult } from '../shared.js';
import type { Envelope } from './envelope.js';
import { type ParamsHandler, yogaOperations } from './operations.js';
import type { UseTraceContextOptions } from './options.js';

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
 * once, here. The span starts when Yoga hands the operation's params to its handler (over graphql-ws, at its
 * first phase), before parsing, and the operation's phases run in one `context.with`: `spans` and `requestHook`
 * see the `operationName` the request sent and no `operationType` yet; `spanName` is asked again once the document
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
  const { batched, lookup, describe, finish, runsInOperation, runPhase, runExecution, onResult } = yogaOperations(
    resolveServerOptions(options),
  );

  return {
    onParams({ paramsHandler, setParamsHandler }) {
      // Yoga before setParamsHandler: each phase enters the operation's context on its own.
      if (typeof setParamsHandler === 'function') {
        setParamsHandler(runsInOperation(paramsHandler as ParamsHandler) as typeof paramsHandler);
      }
    },
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
