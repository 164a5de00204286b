// What every `traceContextFetch` shares: a request's HTTP-level spans (instrumentation-fetch's, -undici's,
// and the server's HTTP span under them) belong to the trace of one of its operations. Each integration
// says where a request's operation carriers are; this runs the real fetch in the first one with a span.
import { type Context, context, diag, type TextMapPropagator, trace } from '@opentelemetry/api';
import { extractOnto, isObject } from './carrier.js';

/** Any `fetch`-shaped function: the DOM's, Node's, or a client library's own fetch type. */
// biome-ignore lint/suspicious/noExplicitAny: each library types its `fetch` option its own way
export type FetchLike = (input: any, init?: any) => Promise<any>;

/**
 * Options for `traceContextFetch` (the tRPC, Apollo and urql entry points each export one).
 *
 * @example
 * ```ts
 * traceContextFetch({ fetch: myFetch });
 * ```
 */
export interface TraceContextFetchOptions<TFetch extends FetchLike = typeof fetch> {
  /**
   * The fetch to call. Without it, `globalThis.fetch` is looked up on every request, so that a `fetch`
   * patched by `@opentelemetry/instrumentation-fetch` after the client was built is the one called.
   * @default globalThis.fetch, at call time
   */
  fetch?: TFetch;
  /** The propagator that reads the operations' carriers. @default the global propagator */
  propagator?: TextMapPropagator;
}

interface ChannelLike {
  readonly hasSubscribers: boolean;
}
let undiciChannel: ChannelLike | null | undefined;

/**
 * Whether `@opentelemetry/instrumentation-undici` (or anything like it) listens to Node's fetch: it then
 * injects each request's W3C headers from the active context itself, appending its `traceparent` to one already
 * set, and the joined value is rejected by the server's HTTP instrumentation. So every client that would set the
 * standard headers on a Node fetch leaves them to it. `false` outside Node.js.
 */
export function nodeFetchInstrumented(): boolean {
  if (undiciChannel === undefined) {
    undiciChannel = null;
    try {
      const load = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
        ?.getBuiltinModule;
      const dc = load?.('node:diagnostics_channel') as { channel?: (name: string) => ChannelLike } | undefined;
      undiciChannel = dc?.channel?.('undici:request:create') ?? null;
    } catch {
      undiciChannel = null;
    }
  }
  return undiciChannel?.hasSubscribers === true;
}

/** The first carrier, in order, that holds a valid span, extracted onto the active context. */
function firstWithSpan(carriers: readonly unknown[], propagator: TextMapPropagator | undefined): Context | undefined {
  const active = context.active();
  for (const carrier of carriers) {
    if (!isObject(carrier)) continue;
    const found = extractOnto(active, carrier as Record<string, string>, propagator);
    const span = trace.getSpanContext(found);
    if (span && trace.isSpanContextValid(span)) return found;
  }
  return undefined;
}

/**
 * A fetch that calls the real one inside the context of the first of `carriersOf(input, init)` that holds a
 * span; unchanged when none does. Reading the request never throws; what the real fetch throws or rejects
 * with reaches the caller as is.
 */
export function fetchInOperationContext<TFetch extends FetchLike>(
  carriersOf: (input: unknown, init: unknown) => readonly unknown[],
  options: TraceContextFetchOptions<TFetch>,
): TFetch {
  const { fetch: custom, propagator } = options;
  const traced = (input: unknown, init?: unknown) => {
    const send = () => (custom ?? (globalThis.fetch as FetchLike))(input, init);
    let parent: Context | undefined;
    try {
      parent = firstWithSpan(carriersOf(input, init), propagator);
    } catch (error) {
      diag.debug('otel-rpc-context: could not read the operations of a request for its fetch; sending it as is', error);
    }
    return parent === undefined ? send() : context.with(parent, send);
  };
  return traced as TFetch;
}
