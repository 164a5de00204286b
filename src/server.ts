// What the tRPC middleware and the Yoga plugin share on the server side: choosing the caller's context
// among several carriers, and keeping a stream's every step in its operation's context.
import { type Context, context, propagation, type TextMapPropagator, trace } from '@opentelemetry/api';
import { type CarrierInput, isObject } from './carrier.js';
import { extractContext } from './index.js';

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return isObject(value) && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Extracts the candidates in order and returns the first that yields a valid remote span, else the first
 * that yields baggage, with its position. A malformed `traceparent` counts as absent, so a broken
 * per-operation carrier falls back to the next candidate (the request's headers, the connection's).
 */
export function pickRemote(
  candidates: readonly CarrierInput[],
  propagator: TextMapPropagator | undefined,
): { remote: Context; index: number } | undefined {
  let withBaggage: { remote: Context; index: number } | undefined;
  for (let index = 0; index < candidates.length; index++) {
    const carrier = candidates[index];
    if (carrier == null) continue;
    const remote = extractContext(carrier, { propagator });
    const span = trace.getSpanContext(remote);
    if (span && trace.isSpanContextValid(span)) return { remote, index };
    if (!withBaggage && propagation.getBaggage(remote)) withBaggage = { remote, index };
  }
  return withBaggage;
}

/** What {@link bindAsyncIterable} reports while the adapter iterates. */
export interface StreamHooks<T> {
  /** Each event, before the adapter sees it. */
  onValue?(value: T): void;
  /** Once: the stream finished, was returned early, or failed (with the error). */
  onEnd(error?: unknown): void;
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
      if (result.done) hooks.onEnd();
      else hooks.onValue?.(result.value);
      return result;
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
