import {
  type Context,
  context as contextApi,
  createContextKey,
  type Link,
  type Span,
  SpanKind,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { toContextCarrier } from './carrier.js';
import {
  operationAttributes,
  operationSpanName,
  recordResultErrors,
  recordThrown,
  TRACE_CONTEXT_EXTENSION as SHARED_EXTENSION_KEY,
  TRACER_NAME,
  UNKNOWN_OPERATION_SPAN_NAME,
} from './graphql-shared.js';
import { decideIncoming, type IncomingOption, resolvePolicy } from './incoming.js';
import { extractContext } from './index.js';


/**
 * The `extensions` key the plugin reads each operation's context carrier from: `'traceContext'`.
 *
 * @example
 * ```ts
 * // Any client can send it; this is what TraceContextLink sends:
 * // { "query": "{ hello }", "extensions": { "traceContext": { "traceparent": "00-…-01" } } }
 * import { getContext } from 'otel-rpc-context';
 * import { TRACE_CONTEXT_EXTENSION } from 'otel-rpc-context/yoga';
 *
 * const body = { query: '{ hello }', extensions: { [TRACE_CONTEXT_EXTENSION]: getContext() } };
 * ```
 */
export const TRACE_CONTEXT_EXTENSION = SHARED_EXTENSION_KEY;

/**
 * Where an operation's carrier was found.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: ({ source }) => (source === 'headers' ? 'link' : 'continue') });
 * ```
 */
export type TraceContextSource = 'extensions' | 'connectionParams' | 'headers';

/**
 * What an `incoming` decider function is given, once per operation that arrives with a context.
 *
 * @example
 * ```ts
 * useTraceContext({
 *   incoming: ({ request }) => (request?.headers.get('authorization') ? 'continue' : 'link'),
 * });
 * ```
 */
export interface YogaIncomingInfo {
  /**
   * The GraphQL context as Envelop received it: Yoga's per-operation context on HTTP (with `request` and
   * `params`), or the object the graphql-ws recipe passes to `getEnveloped` (with `connectionParams`).
   */
  context: Record<string, unknown>;
  /** The HTTP request, or `undefined` on graphql-ws. */
  request: Request | undefined;
  /** Where the caller's context was found. */
  source: TraceContextSource;
}

/**
 * Options for {@link useTraceContext}. Every field is optional.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: 'link', spans: true, document: false, headers: true });
 * ```
 */
export interface UseTraceContextOptions {
  /**
   * What to do with a context that arrives with an operation: `'continue'` its trace, start a new trace
   * that `'link'`s to it, `'ignore'` it, or a function deciding per operation. See the README's trust policy.
   * @default 'continue'
   */
  incoming?: IncomingOption<YogaIncomingInfo>;
  /** Start one SERVER span per operation. With `false`, phases and resolvers run in the caller's context. @default true */
  spans?: boolean;
  /** Record the operation's source text as `graphql.document`. It can hold inlined arguments. @default false */
  document?: boolean;
  /** Fall back to the request's W3C headers (`traceparent`, …) when no carrier travels in the operation. @default true */
  headers?: boolean;
  /** The tracer for the server spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that reads carriers and headers. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** Every option resolved to its default, in one place. */
function withDefaults(options: UseTraceContextOptions) {
  return {
    incoming: options.incoming ?? 'continue',
    spans: options.spans ?? true,
    document: options.document ?? false,
    headers: options.headers ?? true,
    tracer: options.tracer,
    propagator: options.propagator,
  };
}

/** One operation's state, from its first phase to the end of its result (or of its event stream). */
interface Operation {
  /** The context every phase, resolver and event runs in. */
  context: Context;
  /** The GraphQL params it was started for. */
  params: unknown;
  span: Span | undefined;
  /** The result is a stream: the span ends with the stream, not with `execute`. */
  streaming: boolean;
  /** Validation failed: there will be no execution. */
  invalid: boolean;
  described: boolean;
  ended: boolean;
}

// Lets a hook find its operation from the active context when it is handed a different GraphQL context
// object than the instrumentation saw (e.g. a contextValue the user built by hand).
const OPERATION_KEY = createContextKey('otel-rpc-context graphql operation');

// The GraphQL context object Envelop hands every phase: built by the server, so read with plain property
// access (Yoga's batched operations inherit `request` through the prototype); what it carries from the
// wire is read with `own`.
type Envelope = {
  params?: { extensions?: unknown; query?: unknown; operationName?: unknown };
  request?: unknown;
  connectionParams?: unknown;
};

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';

/** Reads an own property of untrusted input, without invoking getters that could throw. */
function own(value: unknown, key: string): unknown {
  if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
  const descriptor = Object.getOwnPropertyDescriptor(value, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

function isHeaders(value: unknown): value is Headers {
  return isObject(value) && typeof value.get === 'function' && typeof value.forEach === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return isObject(value) && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return isObject(value) && typeof value.then === 'function';
}

interface DocumentLike {
  definitions?: readonly { kind?: string; operation?: string; name?: { value?: string } }[];
}

/**
 * The operation a document runs: the one named `operationName`, or its only operation. A tiny stand-in for
 * graphql's `getOperationAST`, so that this entry point imports nothing from graphql at runtime.
 */
function findOperation(document: unknown, operationName: unknown) {
  const definitions = (document as DocumentLike | undefined)?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  const operations = definitions.filter((definition) => definition?.kind === 'OperationDefinition');
  if (typeof operationName === 'string' && operationName) {
    return operations.find((definition) => definition.name?.value === operationName);
  }
  return operations.length === 1 ? operations[0] : undefined;
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
  const tracer = () => config.tracer ?? trace.getTracer(TRACER_NAME);

  /** The caller's context for this operation, and where it came from, or `undefined`. */
  function findRemote(envelope: Envelope, ambient: Context) {
    const candidates: [TraceContextSource, () => unknown][] = [
      ['extensions', () => toContextCarrier(own(envelope.params?.extensions, SHARED_EXTENSION_KEY))],
      [
        'connectionParams',
        () => {
          const params = envelope.connectionParams;
          const nested = own(params, SHARED_EXTENSION_KEY);
          return toContextCarrier(nested !== undefined ? nested : params);
        },
      ],
    ];
    if (config.headers) {
      candidates.push([
        'headers',
        () => {
          const headers = (envelope.request as { headers?: unknown } | undefined)?.headers;
          return isHeaders(headers) ? headers : undefined;
        },
      ]);
    }
    for (const [source, read] of candidates) {
      let carrier: unknown;
      try {
        carrier = read();
      } catch {
        continue;
      }
      if (carrier === undefined) continue;
      const remote = extractContext(carrier as Parameters<typeof extractContext>[0], { propagator: config.propagator });
      const remoteSpan = trace.getSpanContext(remote);
      if (!remoteSpan || !trace.isSpanContextValid(remoteSpan)) continue;
      if (source === 'headers') {
        // HTTP instrumentation has already continued these headers: its span is the better parent.
        const ambientSpan = trace.getSpanContext(ambient);
        if (ambientSpan && ambientSpan.traceId === remoteSpan.traceId) return { remote: ambient, source };
      }
      return { remote, source };
    }
    return undefined;
  }

  function start(envelope: Envelope): Operation {
    const ambient = contextApi.active();
    let parent = ambient;
    let links: Link[] | undefined;
    let root = false;
    const found = findRemote(envelope, ambient);
    if (found) {
      const request = envelope.request as Request | undefined;
      const info = { context: envelope as Record<string, unknown>, request, source: found.source };
      const policy = resolvePolicy(config.incoming, info);
      ({ parent, links, root } = decideIncoming(policy, found.remote, ambient));
    }
    const span = config.spans
      ? tracer().startSpan(UNKNOWN_OPERATION_SPAN_NAME, { kind: SpanKind.SERVER, links, root }, parent)
      : undefined;
    const operation: Operation = {
      context: parent,
      params: envelope.params,
      span,
      streaming: false,
      invalid: false,
      described: false,
      ended: false,
    };
    operation.context = (span ? trace.setSpan(parent, span) : parent).setValue(OPERATION_KEY, operation);
    if (span && config.document) {
      const query = envelope.params?.query;
      if (typeof query === 'string') span.setAttribute('graphql.document', query);
    }
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

  /**
   * Adapters pull a stream's events outside the operation (Yoga's SSE response, graphql-ws's loop), so
   * every pull is put back inside it: each event's resolvers run in the subscription's context.
   */
  function bindStream(operation: Operation, source: AsyncIterable<unknown>): AsyncIterableIterator<unknown> {
    operation.streaming = true;
    const iterator = source[Symbol.asyncIterator]();
    const settle = (pull: () => unknown) => {
      let pending: unknown;
      try {
        pending = contextApi.with(operation.context, pull);
      } catch (error) {
        finish(operation, error);
        return Promise.reject(error);
      }
      return Promise.resolve(pending as Promise<IteratorResult<unknown>>).then(
        (step) => {
          if (step.done) finish(operation);
          else if (operation.span) recordResultErrors(operation.span, own(step.value, 'errors'));
          return step;
        },
        (error: unknown) => {
          finish(operation, error);
          throw error;
        },
      );
    };
    const bound: AsyncIterableIterator<unknown> = {
      next: (...args: [] | [unknown]) => settle(() => iterator.next(...args)),
      return: (value?: unknown) =>
        settle(() => (iterator.return ? iterator.return(value) : { done: true as const, value })),
      throw: (error?: unknown) =>
        settle(() => {
          if (iterator.throw) return iterator.throw(error);
          throw error;
        }),
      [Symbol.asyncIterator]() {
        return bound;
      },
    };
    return bound;
  }

  function onResult(envelope: unknown, result: unknown, setResult: (result: never) => void): void {
    const operation = lookup(envelope);
    if (!operation) return;
    if (isAsyncIterable(result)) setResult(bindStream(operation, result) as never);
    else if (operation.span) recordResultErrors(operation.span, own(result, 'errors'));
  }

  return {
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
