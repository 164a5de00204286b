// How a GraphQL server integration (the Yoga plugin, the Apollo Server plugin, the graphql-ws wrapper) starts
// an operation, names it once its document is known, and records and sends its results. Every span outcome
// goes through the operation's `OperationSpan` (src/core/operation.ts), so the error rule and the hooks live
// in one place; the options are resolved in server-options.ts. Imports nothing of any GraphQL server or of
// graphql itself.
import { type Context, SpanKind, trace } from '@opentelemetry/api';
import { own } from '../core/carrier.js';
import { graphqlOperationMetric } from '../core/conventions.js';
import { resolvePolicy } from '../core/incoming.js';
import { type OperationSpan, startOperationSpan } from '../core/operation.js';
import { bindAsyncIterable, type CarrierSource, type OperationCarriers, operationParent } from '../core/server.js';
import { formatTraceResponse } from '../core/traceresponse.js';
import type { GraphQLServerConfig, GraphQLServerOperationInfo, TraceContextSource } from './server-options.js';
import {
  ATTR_GRAPHQL_DOCUMENT,
  ATTR_GRAPHQL_OPERATION_NAME,
  ATTR_GRAPHQL_OPERATION_TYPE,
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  failResult,
  graphqlErrorType,
  operationSpanName,
  UNKNOWN_OPERATION_SPAN_NAME,
  withTraceResponse,
} from './shared.js';

/** The GraphQL names of the shared rule's sources, as an `incoming` decider is told them. */
const SOURCES = {
  operation: 'extensions',
  connection: 'connectionParams',
  headers: 'headers',
} as const satisfies Record<CarrierSource, TraceContextSource>;

/** An operation as a GraphQL server starts it. */
export interface StartedOperation {
  /** Where its phases and resolvers run: the parent plus its SERVER span, if any. */
  readonly context: Context;
  /** The operation's span, or a handle that does nothing when `spans` said no: every outcome goes through it. */
  readonly operation: OperationSpan;
  /** Where the caller's context came from; `undefined` when none was found. */
  readonly source: CarrierSource | undefined;
  /** What the span options are given; updated in place by {@link StartedOperation.describe}. */
  readonly info: GraphQLServerOperationInfo;
  /** Names the span, once, when the document says what the operation is. */
  describe(type: string, name: string | undefined): void;
  /** A result, or one event of a stream: noted for `responseHook`, and its `errors` failed by `isError`. */
  result(value: unknown): void;
  /** Ends the operation, failed with `error` when one is given. Later calls do nothing. */
  finish(error?: unknown): void;
  /**
   * A result (or event, or payload) as it goes to the caller: with `traceResponse` on and a recording span, a
   * copy with `extensions.traceresponse` added (other extensions kept); otherwise `value` itself.
   */
  respond<T>(value: T): T;
  /**
   * A stream of events (a subscription, incremental payloads) as it goes to the caller: each `next`, `return`
   * and `throw` runs in the operation's context, each event is a {@link StartedOperation.result} and goes out
   * through {@link StartedOperation.respond}; `onEnd` runs once when the stream ends, fails or is returned.
   */
  stream<T>(source: AsyncIterable<T>, onEnd: (error?: unknown) => void): AsyncIterable<T>;
}

/** What automatic persisted queries answer a query's first request with; the client then sends it in full. */
const PERSISTED_QUERY_MISS = 'PERSISTED_QUERY_NOT_FOUND';

/** Every error fails a GraphQL SERVER span, except a persisted-query miss: a step of that protocol, not a failure. */
const failsServerSpan = (error: unknown) => graphqlErrorType(error) !== PERSISTED_QUERY_MISS;

/** What a request says about an operation before its document is parsed. */
export function requestInfo(params: unknown, contextValue: unknown, request: unknown): GraphQLServerOperationInfo {
  const operationName = own(params, 'operationName');
  return {
    operationName: typeof operationName === 'string' && operationName ? operationName : undefined,
    operationType: undefined,
    variables: own(params, 'variables'),
    contextValue,
    request,
  };
}

/**
 * Starts one operation on a GraphQL server: its parent by the shared rule (`operationParent`), with the trust
 * policy asked through `incomingInfo`; its SERVER span by the span options (`startOperationSpan`), named
 * once the document is known; `graphql.document` from `query` when `document` is on; the variables when
 * `captureInput` is on.
 */
export function startServerOperation<TInfo>(
  carriers: OperationCarriers,
  config: GraphQLServerConfig<TInfo>,
  incomingInfo: (source: TraceContextSource) => TInfo,
  info: GraphQLServerOperationInfo,
  query: unknown,
): StartedOperation {
  const { parent, links, root, source } = operationParent(carriers, config.propagator, (from) =>
    resolvePolicy(config.incoming, incomingInfo(SOURCES[from])),
  );
  const operation = startOperationSpan(config.span, info, () => ({
    kind: SpanKind.SERVER,
    name: UNKNOWN_OPERATION_SPAN_NAME,
    attributes: config.document && typeof query === 'string' ? { [ATTR_GRAPHQL_DOCUMENT]: query } : {},
    parent,
    links,
    root,
    inputAttribute: ATTR_GRAPHQL_OPERATION_VARIABLES,
    input: () => info.variables,
    defaultIsError: failsServerSpan,
    errorType: graphqlErrorType,
    metric: () => graphqlOperationMetric('server', undefined),
  }));
  const span = operation.span;
  let described = false;
  // Read now, while the span records: results are often sent after it ended. A span that does not record
  // (unsampled, or a no-op tracer's, whose context is the caller's own) sends nothing.
  const traceresponse =
    config.traceResponse && span?.isRecording() ? formatTraceResponse(span.spanContext()) : undefined;
  const context = span ? trace.setSpan(parent, span) : parent;
  const respond = <T>(value: T): T => withTraceResponse(value, traceresponse);
  const started: StartedOperation = {
    context,
    operation,
    source,
    info,
    describe(type, name) {
      if (described) return;
      described = true;
      info.operationType = type;
      info.operationName = name;
      // Through the operation: on the span (once), and on the metric where it has the key.
      operation.setAttribute(ATTR_GRAPHQL_OPERATION_TYPE, type);
      if (name) operation.setAttribute(ATTR_GRAPHQL_OPERATION_NAME, name);
      operation.rename(operationSpanName(type, name));
    },
    result(value) {
      operation.result(value);
      failResult(operation, own(value, 'errors'));
    },
    finish(error) {
      if (error !== undefined) operation.fail(error);
      operation.end();
    },
    respond,
    stream(source, onEnd) {
      return bindAsyncIterable(source, context, {
        onValue: (event) => started.result(event),
        onEnd,
        map: traceresponse === undefined ? undefined : respond,
      });
    },
  };
  return started;
}
