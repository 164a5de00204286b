// `traceContextMiddleware`, per procedure call: which context it runs in, its SERVER span, and the span's end
// when the procedure returns, throws, or (for a subscription) its iteration ends.
import { type Context, context, createContextKey, SpanKind, trace } from '@opentelemetry/api';
import { rpcCallMetric } from '../core/conventions.js';
import { resolvePolicy } from '../core/incoming.js';
import { type OperationSpan, startOperationSpan } from '../core/operation.js';
import { bindAsyncIterable, isAsyncIterable, operationParent } from '../core/server.js';
import { carriersOf } from './call-carriers.js';
import {
  type MiddlewareConfig,
  resolveMiddlewareOptions,
  type TraceContextIncomingInfo,
  type TraceContextMiddlewareOptions,
  type TraceContextRequest,
} from './middleware-options.js';
import {
  ATTR_TRPC_INPUT,
  CLIENT_OPERATION_KEY,
  procedureAttributes,
  procedureSpanName,
  SERVER_ERROR_CODES,
  serverErrorCode,
  TRPC_SYSTEM,
} from './shared.js';
import { recordServerSpan } from './traceresponse.js';

/** The parts of tRPC's middleware options this middleware uses (stable across tRPC 11). */
interface MiddlewareCall<TResult> {
  ctx: unknown;
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  batchIndex?: number;
  signal?: AbortSignal | undefined;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<TResult>;
}

/** Set in the context a procedure runs in, so that nested calls (createCaller) are not re-extracted. */
const CALL_KEY = createContextKey('otel-rpc-context/trpc call');

const serverSideError = (error: unknown) => SERVER_ERROR_CODES.has(serverErrorCode(error));

/** The request `getRequest` finds in the call's tRPC context; `undefined` when it throws. */
function requestOf(config: MiddlewareConfig, ctx: unknown): TraceContextRequest | undefined {
  try {
    return config.getRequest(ctx);
  } catch {
    return undefined;
  }
}

/**
 * Ends the call's span on the procedure's result: a failed result fails it; a subscription's iterable is bound
 * to the call's context, and with `subscriptionSpan: 'lifetime'` the span ends when its iteration does.
 */
function settle<TResult>(
  config: MiddlewareConfig,
  call: MiddlewareCall<TResult>,
  operationSpan: OperationSpan,
  runIn: Context,
  result: TResult,
): TResult {
  const outcome = result as { ok?: boolean; error?: unknown; data?: unknown };
  if (outcome.ok === false) {
    operationSpan.fail(outcome.error);
    operationSpan.end();
    return result;
  }
  if (call.type === 'subscription' && isAsyncIterable(outcome.data)) {
    operationSpan.result(outcome.data);
    if (!config.lifetime) operationSpan.end();
    const data = bindAsyncIterable(outcome.data, runIn, {
      onValue: config.lifetime ? (value) => operationSpan.result(value) : undefined,
      onEnd(error) {
        if (error !== undefined) operationSpan.fail(error);
        operationSpan.end();
      },
    });
    return { ...outcome, data } as TResult;
  }
  operationSpan.result(outcome.data);
  operationSpan.end();
  return result;
}

/** Records the call's input on its span; an unreadable input is left to fail the procedure with tRPC's own error. */
async function captureInput(call: MiddlewareCall<unknown>, operationSpan: OperationSpan): Promise<void> {
  try {
    operationSpan.captureInput(await call.getRawInput());
  } catch {}
}

/** Runs the procedure in `runIn` and ends its span on the outcome. */
function runProcedure<TResult>(
  config: MiddlewareConfig,
  call: MiddlewareCall<TResult>,
  operationSpan: OperationSpan,
  runIn: Context,
): Promise<TResult> {
  const failed = (error: unknown) => {
    operationSpan.fail(error);
    operationSpan.end();
    return Promise.reject(error);
  };
  let running: Promise<TResult>;
  try {
    running = context.with(runIn, call.next);
  } catch (error) {
    // A `next` that throws instead of rejecting still fails the call, as an async middleware would.
    return failed(error);
  }
  // Nothing to record and no iterable to bind: the outcome is tRPC's alone, without a promise of ours.
  if (!operationSpan.recording && call.type !== 'subscription') return running;
  return running.then((result) => settle(config, call, operationSpan, runIn, result), failed);
}

/**
 * A tRPC middleware that runs each procedure in its caller's context: every await, nested call, and
 * every event of a subscription. It looks for the operation's carrier in its per-operation slot first
 * (the WebSocket message, the batch header, the subscription URL), then the request's W3C headers, then
 * `connectionParams`; applies the `incoming` trust policy; and (unless `spans: false`) starts a SERVER
 * span per call. A carrier with an invalid `traceparent` counts as absent. Calls made from inside a
 * procedure (`createCaller`) run as children of it and are never re-extracted.
 *
 * `createContext` must pass the request through: `{ req }` (standalone, Express, Next, WebSocket
 * adapters), `{ req }` with a Fetch `Request` (fetch adapter), or `{ headers }`; add `info` for batches
 * on tRPC < 11.10 and for `connectionParams`.
 *
 * @example
 * ```ts
 * import { initTRPC } from '@trpc/server';
 * import type { CreateHTTPContextOptions } from '@trpc/server/adapters/standalone';
 * import { traceContextMiddleware } from 'otel-rpc-context/trpc';
 *
 * export const createContext = ({ req, info }: CreateHTTPContextOptions) => ({ req, info });
 * const t = initTRPC.context<typeof createContext>().create();
 * export const procedure = t.procedure.use(traceContextMiddleware({ incoming: 'link' }));
 * ```
 */
export function traceContextMiddleware(options: TraceContextMiddlewareOptions = {}) {
  const config = resolveMiddlewareOptions(options);
  // Not async: the common path adds no promise of its own around tRPC's `next()`.
  return function traceContext<TResult>(call: MiddlewareCall<TResult>): Promise<TResult> {
    const ambient = context.active();
    // The getRawInput of the procedure call this code runs in, if any.
    const marker = ambient.getValue(CALL_KEY);
    // Used twice on one procedure: the first one did the work.
    if (marker === call.getRawInput) return call.next();
    const request = requestOf(config, call.ctx);
    const info: TraceContextIncomingInfo = { path: call.path, type: call.type, ctx: call.ctx };
    // In-process: createCaller or a server action (no signal), localLink (our client link's context is
    // active), or a call nested inside a procedure.
    const inProcess =
      marker !== undefined || call.signal === undefined || ambient.getValue(CLIENT_OPERATION_KEY) !== undefined;
    const { parent, links, root } = operationParent(
      inProcess ? { inProcess } : carriersOf(call, request),
      config.propagator,
      () => resolvePolicy(config.incoming, info),
      ambient,
    );
    const operationSpan = startOperationSpan(config.span, info, () => ({
      kind: SpanKind.SERVER,
      name: procedureSpanName(call.path),
      attributes: procedureAttributes(call.path, call.type),
      parent,
      links,
      root,
      inputAttribute: ATTR_TRPC_INPUT,
      defaultIsError: serverSideError,
      errorType: serverErrorCode,
      metric: () => rpcCallMetric('server', TRPC_SYSTEM, call.path),
    }));
    const span = operationSpan.span;
    // Recorded synchronously at the start, so that a streamed batch's headers (sent before any procedure
    // settles) can carry it too.
    if (span && config.traceResponse && !inProcess) recordServerSpan(call.getRawInput, span.spanContext());
    const runIn = (span ? trace.setSpan(parent, span) : parent).setValue(CALL_KEY, call.getRawInput);
    // Reading the input is asynchronous (it may parse the body): only when it is recorded.
    if (span && config.span.captureInput) {
      return captureInput(call, operationSpan).then(() => runProcedure(config, call, operationSpan, runIn));
    }
    return runProcedure(config, call, operationSpan, runIn);
  };
}
