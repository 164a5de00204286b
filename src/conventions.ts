// Names every integration shares: the instrumentation scope of the spans this package starts, and the
// semantic-convention attributes common to RPC and GraphQL spans (copied, so the package keeps zero
// runtime dependencies).
import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';

/** The instrumentation scope name of every span this package starts. */
export const TRACER_NAME = 'otel-rpc-context';

export const ATTR_ERROR_TYPE = 'error.type';

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The tracer for a span starting now: `explicit` if given, else this package's tracer from the global
 * provider as it is at this moment. Resolved per use, and cached per provider, because a tracer obtained
 * before registration stays a no-op when the provider is registered through another copy of
 * `@opentelemetry/api` (Next.js on Edge): only this copy's proxy would have been told.
 */
export function resolveTracer(explicit: Tracer | undefined): Tracer {
  if (explicit) return explicit;
  const provider = trace.getTracerProvider();
  if (provider !== cachedProvider || !cachedTracer) {
    cachedProvider = provider;
    cachedTracer = provider.getTracer(TRACER_NAME);
  }
  return cachedTracer;
}
