// What every GraphQL client integration (the Apollo link, the urql exchange) does per operation: the CLIENT
// span, the carrier it sends, and how its result ends the span. Only @opentelemetry/api is imported, so each
// client entry point pulls in nothing of the others. Options: client-options.ts; where the carrier travels:
// client-carrier.ts.
import { type Context, diag, type Span, SpanKind, trace } from '@opentelemetry/api';
import { resumeCaller } from '../core/action-scope.js';
import type { ContextCarrier } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import { graphqlOperationMetric } from '../core/conventions.js';
import { CANCELLED_ERROR_TYPE, type OperationSpan, startOperationSpan } from '../core/operation.js';
import { callSafely } from '../core/span-options.js';
import { linkServerSpan, parseTraceResponse } from '../core/traceresponse.js';
import type { ClientConfig, GraphQLClientOperationInfo } from './client-options.js';
import {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  failResult,
  graphqlErrorType,
  operationAttributes,
  operationSpanName,
  readTraceResponse,
} from './shared.js';

/** One operation in flight on the client side. */
export interface ClientOperation {
  /** The context downstream code runs in: the CLIENT span's, or the caller's when `spans` is off. */
  readonly context: Context;
  /**
   * The carrier to send: an object, `{}` when the caller had no context (an explicit "none"); `undefined`
   * when `propagate` said no, and nothing may be sent.
   */
  readonly carrier: ContextCarrier | undefined;
  /**
   * Notes one GraphQL result (`value`, for `responseHook`), records its `errors` on the span, and hands the
   * caller's user action on to what it starts.
   */
  result(value: unknown, errors: unknown): void;
  /**
   * Ends the operation, once: its span (`error` fails it; an `AbortError`, the caller's own signal, cancels
   * it), and its share of the caller's user action.
   */
  end(error?: unknown): void;
  /**
   * Ends the operation because the caller tore it down (unsubscribe, unmount): a query or mutation that had
   * no result yet is cancelled (`error.type` `cancelled`, status unset); a subscription just ends.
   */
  teardown(): void;
}

const isAnyError = () => true;

/** The attribute a CLIENT span records the server's `traceresponse` under when its API has no `addLink` (< 1.9). */
export const ATTR_GRAPHQL_TRACERESPONSE = 'graphql.traceresponse';

/**
 * Links `span` to the server span a result's `extensions.traceresponse` names (a server with
 * `traceResponse: true`). `true` once done: an operation links once, to the first valid value it receives.
 * An absent or invalid value (the server is untrusted) is ignored. With an API older than 1.9, whose spans
 * have no `addLink`, the value is recorded as {@link ATTR_GRAPHQL_TRACERESPONSE} instead.
 */
function linkTraceResponse(span: Span, result: unknown): boolean {
  try {
    const spanContext = parseTraceResponse(readTraceResponse(result));
    if (!spanContext) return false;
    linkServerSpan(span, spanContext, ATTR_GRAPHQL_TRACERESPONSE);
    return true;
  } catch {
    return false; // a hostile result (a throwing getter) links nothing
  }
}

/** An `AbortError` (a `DOMException` or an `Error` named so), what fetch rejects with for an aborted signal. */
function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/**
 * Starts one operation under `parent` (the caller's context, read when the operation started): its CLIENT
 * span `{type} {name}` unless `spans` says no, and its carrier unless `propagate` says no. `source` is
 * called only when `document` is on.
 */
export function startClientOperation(
  parent: Context,
  info: GraphQLClientOperationInfo,
  source: () => string | undefined,
  config: ClientConfig,
): ClientOperation {
  const { operationType: type, operationName: name } = info;
  const operation: OperationSpan = startOperationSpan(config.span, info, () => ({
    kind: SpanKind.CLIENT,
    name: operationSpanName(type, name),
    attributes: operationAttributes(type, name, config.document ? source() : undefined),
    parent,
    inputAttribute: ATTR_GRAPHQL_OPERATION_VARIABLES,
    input: () => info.variables,
    defaultIsError: isAnyError,
    errorType: graphqlErrorType,
    metric: () => graphqlOperationMetric('client', type, name),
  }));
  const span = operation.span;
  const active = span ? trace.setSpan(parent, span) : parent;
  let carrier: ContextCarrier | undefined;
  if (callSafely('propagate', config.propagate, info)) {
    try {
      carrier = getContext({ context: active, propagator: config.propagator });
    } catch (error) {
      // A propagator that throws: the operation goes on, with an explicit "no context".
      diag.debug('otel-rpc-context: the propagator threw while writing a carrier; sending none', error);
      carrier = {};
    }
  }
  let ended = false;
  let results = 0;
  let linked = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    resumeCaller(parent, true);
    // The caller's own signal (`fetchOptions.signal`) aborted the request: a cancellation, not a failure.
    if (isAbortError(error)) operation.cancel('AbortError');
    else if (error !== undefined) operation.fail(error);
    operation.end();
  };
  return {
    context: active,
    carrier,
    result(value, errors) {
      if (!ended) {
        results++;
        if (!linked && span) linked = linkTraceResponse(span, value);
        operation.result(value);
        failResult(operation, errors);
      }
      // What the caller starts on this result (a refetch) joins its user action.
      resumeCaller(parent, false);
    },
    end,
    teardown() {
      if (ended) return;
      if (results === 0 && type !== 'subscription') operation.cancel(CANCELLED_ERROR_TYPE);
      end();
    },
  };
}
