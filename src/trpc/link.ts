// `traceContextLink`, per operation: the CLIENT span, the carrier stored in `op.context` for the terminating
// link, and the span's end on the operation's result, error, completion or teardown.
import { type Context, context, SpanKind, trace } from '@opentelemetry/api';
import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { callerContext, resumeCaller } from '../core/action-scope.js';
import { type ContextCarrier, isObject } from '../core/carrier.js';
import { getContext } from '../core/context.js';
import { rpcCallMetric } from '../core/conventions.js';
import { type OperationSpan, startOperationSpan } from '../core/operation.js';
import { callSafely } from '../core/span-options.js';
import {
  type LinkConfig,
  resolveLinkOptions,
  type TraceContextLinkInfo,
  type TraceContextLinkOptions,
} from './link-options.js';
import {
  ATTR_TRPC_INPUT,
  CLIENT_OPERATION_KEY,
  OP_CONTEXT_KEY,
  procedureAttributes,
  procedureSpanName,
  TRPC_SYSTEM,
} from './shared.js';
import { expectRequestSlot, linkResponse } from './traceresponse.js';
import { NO_CARRIER_KEY } from './url-param.js';
import { trackOperation } from './ws-pending.js';

/** The `Response` tRPC's HTTP links put in a result's `context` (or a `TRPCClientError`'s `meta`). */
function responseOf(holder: unknown): unknown {
  return isObject(holder) ? holder.response : undefined;
}

function isAbortError(error: unknown): boolean {
  return (
    isObject(error) && (error.name === 'AbortError' || (isObject(error.cause) && error.cause.name === 'AbortError'))
  );
}

function errorType(error: unknown): string {
  if (isObject(error)) {
    if (isObject(error.cause) && error.cause.name === 'AbortError') return 'AbortError';
    const data = error.data;
    if (isObject(data) && typeof data.code === 'string') return data.code;
    if (typeof error.name === 'string') return error.name;
  }
  return 'Error';
}

const anyError = () => true;

/** The `result` of a result envelope (`{ result: { type?, data? } }`), if it is one. */
function resultOf(value: unknown): Record<string, unknown> | undefined {
  const result = isObject(value) ? value.result : undefined;
  return isObject(result) ? result : undefined;
}

/** One operation as the link starts it, before anything downstream runs. */
interface StartedOperation {
  /** The caller's context, captured when the operation started. */
  active: Context;
  operationSpan: OperationSpan;
  /** The operation as the next link gets it: its carrier in `op.context`. */
  nextOp: Operation;
  /** The context the next links run in. */
  downstream: Context;
  /** Forgets the operation's WebSocket record (a result came: any message of it was sent). */
  untrack: () => void;
  /** Forgets the operation's WebSocket record and ends its span. */
  end: () => void;
}

/** Starts the operation's CLIENT span (unless `spans` says no) and stores its carrier for the terminating link. */
function startOperation(config: LinkConfig, op: Operation): StartedOperation {
  const active = callerContext();
  const info: TraceContextLinkInfo = { path: op.path, type: op.type, input: op.input, context: op.context };
  const operationSpan = startOperationSpan(config.span, info, () => ({
    kind: SpanKind.CLIENT,
    name: procedureSpanName(op.path),
    attributes: procedureAttributes(op.path, op.type),
    parent: active,
    inputAttribute: ATTR_TRPC_INPUT,
    input: () => op.input,
    defaultIsError: anyError,
    errorType,
    metric: () => rpcCallMetric('client', TRPC_SYSTEM, op.path),
  }));
  const span = operationSpan.span;
  const opContext: Context = span ? trace.setSpan(active, span) : active;
  const propagating = Boolean(callSafely('propagate', config.propagate, info));
  // A non-propagating operation stores `{}`: the helpers then send nothing for it, and never fall back
  // to the context active when they run.
  const carrier: ContextCarrier = propagating ? getContext({ context: opContext, propagator: config.propagator }) : {};
  const nextOp: Operation = { ...op, context: { ...op.context, [OP_CONTEXT_KEY]: carrier } };
  const untrack = trackOperation(op.type, op.path, op.input, carrier, nextOp.context);
  if (span) expectRequestSlot(nextOp.context);
  let downstream = opContext.setValue(CLIENT_OPERATION_KEY, nextOp.context);
  if (!propagating) downstream = downstream.setValue(NO_CARRIER_KEY, true);
  const end = () => {
    untrack();
    operationSpan.end();
  };
  return { active, operationSpan, nextOp, downstream, untrack, end };
}

/**
 * The first link of a tRPC client: captures the caller's active context when each operation starts
 * (tRPC runs links synchronously inside the call), starts a CLIENT span for it (see `spans`), and
 * stores the carrier in `op.context.traceContext` for the terminating link (unless `propagate` says no):
 * {@link traceContextHeaders} for the HTTP links, {@link traceContextEncoder} for `wsLink`,
 * {@link traceContextUrl} for `httpSubscriptionLink`. Options that throw are reported once through `diag`
 * and never break the operation.
 *
 * When the response of a query or mutation names the server's span (a server whose middleware has
 * `traceResponse: true` and whose adapter uses `traceResponseMeta`), the CLIENT span gets a span link to it:
 * the operation's slot of `x-trpc-trace-response` on a batch (the slot is known when {@link traceContextHeaders}
 * built the request's headers), else the W3C `traceresponse` header when the operation was alone in its request.
 * Malformed values are ignored. Without `Span.addLink` (@opentelemetry/api < 1.9) the value is recorded as the
 * `trpc.traceresponse` attribute instead. A cross-origin browser client reads the headers only if the server's CORS
 * configuration exposes them (`Access-Control-Expose-Headers: traceresponse, x-trpc-trace-response`).
 *
 * @example
 * ```ts
 * import { createTRPCClient, httpBatchLink } from '@trpc/client';
 * import { traceContextHeaders, traceContextLink } from 'otel-rpc-context/trpc';
 *
 * const client = createTRPCClient<AppRouter>({
 *   links: [traceContextLink(), httpBatchLink({ url: 'http://localhost:3000', headers: traceContextHeaders })],
 * });
 * ```
 */
export function traceContextLink<TRouter extends AnyRouter = AnyRouter>(
  options: TraceContextLinkOptions = {},
): TRPCLink<TRouter> {
  const config = resolveLinkOptions(options);
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const { active, operationSpan, nextOp, downstream, untrack, end } = startOperation(config, op);
        const span = operationSpan.span;
        // Settled: a query's or mutation's result arrived, or the operation failed or completed.
        let settled = false;
        // Subscribing in the operation's context lets the terminating link and anything it calls
        // synchronously (and, with AsyncLocalStorage, later) see it.
        const subscription = context.with(downstream, () =>
          next(nextOp).subscribe({
            next(value) {
              // An answer from the server (not a link's own connection state): whatever link carried the
              // operation, its message is out, and no WebSocket message may claim it now.
              const result = resultOf(value);
              // `started`, `stopped`, `state` or `data` (or none); only data results have `data`.
              const type = result?.type;
              if (type !== 'state') untrack();
              if (op.type !== 'subscription') linkResponse(span, nextOp.context, responseOf(value.context));
              const data = result && 'data' in result ? result.data : undefined;
              if (data !== undefined || op.type !== 'subscription') operationSpan.result(data);
              if (op.type !== 'subscription') settled = true;
              else if (!config.lifetime && type !== 'state') end();
              // What the caller starts on this result (an invalidation refetch) joins its user action.
              resumeCaller(active, false);
              observer.next(value);
            },
            error(error) {
              settled = true;
              linkResponse(span, nextOp.context, responseOf(isObject(error) ? error.meta : undefined));
              if (isAbortError(error)) operationSpan.cancel('AbortError');
              else if (op.signal?.aborted) operationSpan.cancel();
              else operationSpan.fail(error);
              end();
              resumeCaller(active, true);
              observer.error(error);
            },
            complete() {
              settled = true;
              end();
              resumeCaller(active, true);
              observer.complete();
            },
          }),
        );
        return () => {
          subscription.unsubscribe();
          // A query or mutation torn down before its result: the caller cancelled it.
          if (!settled && op.type !== 'subscription') operationSpan.cancel();
          end();
        };
      });
}
