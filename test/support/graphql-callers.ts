// biome-ignore-all lint/suspicious/noExplicitAny: GraphQL results and subscription events are untyped
// Many callers at once, each running one GraphQL operation in its own caller span, and what of those
// operations did not run in its caller's trace: the load every client test puts on a link or exchange,
// whatever the client library. Each library says only how it sends a PROBE query or reads a TICKS subscription.
import type { Span, Tracer } from '@opentelemetry/api';
import { expect } from 'vitest';
import { PROBE_RESOLVERS, TICKS_RESOLVERS } from './graphql-probe.js';

/** What the client harness's checks give these runs (its `clientChecks(tracing)`). */
export interface CallerChecks {
  /** Runs `fn` inside its own active caller span `name`, ended when `fn` settles. */
  asCaller<T>(name: string, fn: () => Promise<T>): Promise<{ span: Span; result: T }>;
  /** What of one operation (caller → CLIENT → SERVER → `resolvers` reports in `data`) left the caller's trace. */
  mismatchesOf(caller: Span, data: unknown, resolvers: number): string[];
}

/** One caller's run: the tag its operation sent, its caller span, and what the operation resolved with. */
export interface CallerRun<T> {
  tag: string;
  span: Span;
  result: T;
}

/** `count` tags, `${prefix}0` to `${prefix}${count - 1}`: one per caller, so each result names its caller. */
export const tags = (prefix: string, count = 50) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** TICKS events each subscription run asks for (its `count`), as TICKS_RESOLVERS counts them. */
const TICKS_PER_RUN = 3;

/**
 * Runs by many callers at once, and what of each went wrong. The PROBE and TICKS resolvers echo the tag they
 * were sent, so a result that reached the wrong caller fails here even when its trace looks right.
 */
export function callerRuns({ asCaller, mismatchesOf }: CallerChecks) {
  /** `run(tag)` for every tag at once, each under its own caller span, named `${label} ${i}`. */
  const asCallers = <T>(label: string, runTags: string[], run: (tag: string) => Promise<T>) =>
    Promise.all(
      runTags.map(
        async (tag, i): Promise<CallerRun<T>> => ({ tag, ...(await asCaller(`${label} ${i}`, () => run(tag))) }),
      ),
    );

  /** Asserts each PROBE query answered its own tag; says which left its caller's trace (`[]` when none). */
  const queryMismatches = (runs: CallerRun<{ data?: unknown }>[]) =>
    runs.flatMap(({ tag, span, result }) => {
      expect((result.data as any)?.probe?.tag).toBe(tag);
      return mismatchesOf(span, result.data, PROBE_RESOLVERS);
    });

  /**
   * Asserts each TICKS subscription read its own three events, in order; says which left its caller's trace
   * (`[]` when none). A run's result is its events' `data`.
   */
  const subscriptionMismatches = (runs: CallerRun<any[]>[]) =>
    runs.flatMap(({ tag, span, result }) => {
      expect(result.map((event) => [event.ticks.tag, event.ticks.i])).toEqual(
        Array.from({ length: TICKS_PER_RUN }, (_, i) => [tag, i]),
      );
      return mismatchesOf(span, result, TICKS_RESOLVERS);
    });

  return { asCallers, queryMismatches, subscriptionMismatches };
}

/**
 * Starts a subscription under a caller span that ends at once, unsubscribes at its first event and resolves
 * then: the early cancel whose CLIENT and SERVER spans must still end. `subscribe` starts the subscription with
 * a callback for each event and returns how to unsubscribe.
 */
export function unsubscribeAtFirstEvent(tracer: Tracer, subscribe: (onEvent: () => void) => () => void) {
  return new Promise<void>((resolve) => {
    tracer.startActiveSpan('caller', (caller) => {
      // Events come from the network, never during `subscribe`: `unsubscribe` is set before the first one.
      const unsubscribe = subscribe(() => {
        unsubscribe();
        resolve();
      });
      caller.end();
    });
  });
}
