import {
  type Context,
  context,
  diag,
  propagation,
  ROOT_CONTEXT,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { type CarrierInput, type ContextCarrier, extractOnto, hasEntries } from './carrier.js';

/** Options for {@link getContext}. */
export interface GetContextOptions {
  /** The context to serialize. @default the active context, `context.active()` */
  context?: Context;
  /** The propagator that writes the carrier. @default the global propagator, `propagation` */
  propagator?: TextMapPropagator;
}

/** Options for {@link attachContext} and {@link extractContext}. */
export interface AttachContextOptions {
  /** The propagator that reads the carrier. @default the global propagator, `propagation` */
  propagator?: TextMapPropagator;
}

const carrierSetter: TextMapSetter<ContextCarrier> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

let warnedNoPropagator = false;

function warnIfNoPropagator(propagator: TextMapPropagator): void {
  if (warnedNoPropagator || propagator.fields().length > 0) return;
  warnedNoPropagator = true;
  diag.warn(
    'otel-rpc-context: no propagator is registered, so getContext() returns empty carriers and no trace ' +
      'crosses the wire. Register one: start the OpenTelemetry NodeSDK or call provider.register(), or ' +
      "call propagation.setGlobalPropagator(new W3CTraceContextPropagator()) from '@opentelemetry/core'.",
  );
}

/**
 * Serializes the active context (or `options.context`) into a new plain carrier, with the global
 * propagator (or `options.propagator`). The counterpart of Logfire's `logfire.propagate.get_context()`.
 *
 * The carrier is a fresh `Record<string, string>` each call: send it through `postMessage`, JSON, a queue
 * message or a header, then hand it to {@link attachContext} on the other side.
 *
 * If nothing is injected because no propagator is registered, this says so once through `diag`.
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads';
 * import { getContext } from 'otel-rpc-context';
 *
 * tracer.startActiveSpan('resize images', (span) => {
 *   const worker = new Worker(new URL('./worker.js', import.meta.url));
 *   worker.postMessage({ carrier: getContext(), images });
 *   span.end();
 * });
 * ```
 */
export function getContext(options: GetContextOptions = {}): ContextCarrier {
  const carrier: ContextCarrier = {};
  const propagator = options.propagator ?? propagation;
  propagator.inject(options.context ?? context.active(), carrier, carrierSetter);
  if (options.propagator === undefined && !hasEntries(carrier)) warnIfNoPropagator(propagator);
  return carrier;
}

/**
 * Extracts a carrier onto an empty context and returns that context, without making it active.
 * Never throws: a malformed or hostile carrier gives a context with no remote parent.
 *
 * @example
 * ```ts
 * import { context, trace } from '@opentelemetry/api';
 * import { extractContext } from 'otel-rpc-context';
 *
 * const parent = extractContext(message.carrier);
 * const span = trace.getTracer('jobs').startSpan('process job', {}, parent);
 * ```
 */
export function extractContext(carrier: CarrierInput, options: AttachContextOptions = {}): Context {
  if (carrier == null || typeof carrier !== 'object') return ROOT_CONTEXT;
  return extractOnto(ROOT_CONTEXT, carrier, options.propagator);
}

/**
 * Extracts `carrier`, makes it the active context while `fn` runs, and returns what `fn` returns.
 * The counterpart of Logfire's `with logfire.propagate.attach_context(carrier):`.
 *
 * The carrier replaces the active context rather than merging into it, as Logfire does. The previous
 * context is active again once `fn` returns or throws; a promise `fn` returns keeps the attached
 * context in its own continuations. Accepts a {@link ContextCarrier}, Fetch `Headers`, Node's
 * `IncomingHttpHeaders`, or `undefined`; what the carrier holds never makes it throw.
 *
 * @example
 * ```ts
 * import { parentPort } from 'node:worker_threads';
 * import { attachContext } from 'otel-rpc-context';
 *
 * parentPort?.on('message', ({ carrier, images }) =>
 *   attachContext(carrier, () =>
 *     tracer.startActiveSpan('resize in worker', async (span) => {
 *       await resize(images);
 *       span.end();
 *     }),
 *   ),
 * );
 * ```
 */
export function attachContext<T>(carrier: CarrierInput, fn: () => T, options: AttachContextOptions = {}): T {
  return context.with(extractContext(carrier, options), fn);
}
