// What every server integration shares: the one rule for where an operation's context comes from
// (README, "Where an operation's context comes from"), and keeping a stream's every step in its
// operation's context.
import {
  type Context,
  context,
  type Link,
  propagation,
  type SpanContext,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { type CarrierInput, extractOnto, isObject } from './carrier.js';
import type { IncomingDecision, IncomingPolicy } from './incoming.js';

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return isObject(value) && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';
}

/** Where an operation's caller context was found. */
export type CarrierSource = 'operation' | 'headers' | 'connection';

/**
 * The places an integration found for one operation, as it arrived.
 * - `operation`: the operation's own slot (its `extensions.traceContext`, its entry of the tRPC batch
 *   header, its WebSocket message field, its subscription URL parameter); `undefined` when nothing was sent
 *   there, `{}` when something was sent but held nothing usable.
 * - `shared`: the request or connection carries several operations (an HTTP batch, a WebSocket).
 * - `headers`: the request's standard W3C headers; `connection`: the connection's params.
 * - `inProcess`: the call never crossed a process boundary (`createCaller`, `localLink`,
 *   `executeOperation`): nothing is extracted and no trust policy applies.
 */
export interface OperationCarriers {
  inProcess?: boolean;
  operation?: CarrierInput;
  shared?: boolean;
  headers?: CarrierInput;
  connection?: CarrierInput;
}

/** Where an operation runs: an {@link IncomingDecision}, and where the caller's context came from. */
export interface OperationParent extends IncomingDecision {
  source: CarrierSource | undefined;
}

function validSpan(ctx: Context): SpanContext | undefined {
  const span = trace.getSpanContext(ctx);
  return span && trace.isSpanContextValid(span) ? span : undefined;
}

/** What a request-level carrier holds, if it holds a span or baggage. */
function fromRequest(carrier: CarrierInput, base: Context, propagator: TextMapPropagator | undefined) {
  if (carrier == null) return undefined;
  const found = extractOnto(base, carrier, propagator);
  const span = validSpan(found);
  return span || propagation.getBaggage(found) ? { context: found, span } : undefined;
}

/**
 * The one rule for where an operation's context comes from; every server integration calls it.
 *
 * 1. In-process calls run in the active context, as children of the active span.
 * 2. The operation's own slot comes first. In a shared request or connection it is authoritative even when
 *    it is empty, baggage-only, unsampled or malformed: request-level headers belong to at most one of the
 *    operations, so they are never borrowed. In a single-operation request, a slot that yields nothing falls
 *    back to the request's headers.
 * 3. Without a slot: the request's headers, then the connection's params; the first with a valid span, else
 *    the first with baggage.
 * 4. Nothing found: the server's own active context.
 * 5. A found context goes through the trust policy. Under `'continue'`, in a single-operation request an
 *    active span in the same trace (an HTTP instrumentation's or a route's span that continued the same
 *    caller) is the parent, with the operation's baggage. A shared request's operation that does not run
 *    under the request's active span links to it.
 *
 * The caller's span and baggage replace the server's; other values of the active context are kept.
 */
export function operationParent(
  carriers: OperationCarriers,
  propagator: TextMapPropagator | undefined,
  policyFor: (source: CarrierSource) => IncomingPolicy,
  ambient: Context = context.active(),
): OperationParent {
  if (carriers.inProcess) return { parent: ambient, links: undefined, root: false, source: undefined };
  const ambientSpan = trace.getSpan(ambient);
  let base = ambientSpan ? trace.deleteSpan(ambient) : ambient;
  if (propagation.getBaggage(base)) base = propagation.deleteBaggage(base);

  let remote: Context | undefined;
  let remoteSpan: SpanContext | undefined;
  let source: CarrierSource | undefined;
  if (carriers.operation != null) {
    const found = extractOnto(base, carriers.operation, propagator);
    remoteSpan = validSpan(found);
    if (carriers.shared || remoteSpan || propagation.getBaggage(found)) {
      remote = found;
      source = 'operation';
    }
  }
  if (remote === undefined) {
    // The first with a valid span, else the first with baggage.
    const headers = fromRequest(carriers.headers, base, propagator);
    const connection = headers?.span ? undefined : fromRequest(carriers.connection, base, propagator);
    const chosen = headers && (headers.span || !connection?.span) ? headers : connection;
    if (chosen) {
      remote = chosen.context;
      remoteSpan = chosen.span;
      source = chosen === headers ? 'headers' : 'connection';
    }
  }
  if (remote === undefined || source === undefined) {
    return { parent: ambient, links: undefined, root: false, source: undefined };
  }

  const policy = policyFor(source);
  if (policy === 'ignore') return { parent: ambient, links: undefined, root: false, source };
  if (policy === 'link') {
    return { parent: base, links: remoteSpan ? [{ context: remoteSpan }] : undefined, root: true, source };
  }
  const ambientContext = ambientSpan?.spanContext();
  if (ambientSpan && ambientContext && trace.isSpanContextValid(ambientContext)) {
    if (!carriers.shared && remoteSpan && ambientContext.traceId === remoteSpan.traceId) {
      return { parent: trace.setSpan(remote, ambientSpan), links: undefined, root: false, source };
    }
    if (carriers.shared) {
      const links: Link[] = [{ context: ambientContext }];
      return { parent: remote, links, root: false, source };
    }
  }
  return { parent: remote, links: undefined, root: false, source };
}

/** What {@link bindAsyncIterable} reports while the adapter iterates. */
export interface StreamHooks<T> {
  /** Each event, before the adapter sees it. */
  onValue?(value: T): void;
  /** Once: the stream finished, was returned early, or failed (with the error). */
  onEnd(error?: unknown): void;
  /** What the adapter gets instead of each event (after `onValue` saw it). @default the event itself */
  map?(value: T): T;
}

/**
 * Adapters (SSE responses, WebSocket loops) pull a subscription's events later, outside the middleware or
 * plugin that produced the stream. The returned iterator runs every `next`, `return` and `throw` of
 * `source` inside `ctx`, so each event's work sees its operation's context however late it comes.
 */
export function bindAsyncIterable<T>(source: AsyncIterable<T>, ctx: Context, hooks: StreamHooks<T>) {
  let iterator: AsyncIterator<T> | undefined;
  const step = async (pull: (inner: AsyncIterator<T>) => Promise<IteratorResult<T>>) => {
    try {
      const result = await context.with(ctx, () => {
        iterator ??= source[Symbol.asyncIterator]();
        return pull(iterator);
      });
      if (result.done) {
        hooks.onEnd();
        return result;
      }
      hooks.onValue?.(result.value);
      return hooks.map ? { done: false, value: hooks.map(result.value) } : result;
    } catch (error) {
      hooks.onEnd(error);
      throw error;
    }
  };
  const bound: AsyncIterableIterator<T> = {
    next: (...args: [] | [unknown]) => step((inner) => inner.next(...args)),
    return: (value?: unknown) =>
      step((inner) =>
        inner.return ? inner.return(value) : Promise.resolve({ done: true as const, value: value as T }),
      ),
    throw: (error?: unknown) => step((inner) => (inner.throw ? inner.throw(error) : Promise.reject(error))),
    [Symbol.asyncIterator]() {
      return bound;
    },
  };
  return bound;
}
