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

/**
 * The duration histogram of one RPC call (`rpc.client.call.duration` / `rpc.server.call.duration` of the RPC
 * semantic conventions), with its attributes.
 */
export function rpcCallMetric(side: 'client' | 'server', system: string, method: string) {
  return {
    name: `rpc.${side}.call.duration`,
    description:
      side === 'client'
        ? 'Measures the duration of outbound remote procedure calls.'
        : 'Measures the duration of incoming remote procedure calls.',
    attributes: { 'rpc.system.name': system, 'rpc.method': method },
  };
}

/**
 * The duration histogram of one GraphQL operation, as the GraphQL OpenTelemetry working group drafts it
 * (`graphql.server.request.duration`, and `graphql.client.request.duration` on the client): a draft, whose
 * names may change. The server records the operation type only (operation names come from clients, so their
 * number is unbounded); the client also records the name of its own operation.
 */
export function graphqlOperationMetric(side: 'client' | 'server', type: string | undefined, name?: string) {
  const attributes: Record<string, string> = { 'graphql.operation.type': type ?? 'unknown' };
  if (side === 'client' && name) attributes['graphql.operation.name'] = name;
  return {
    name: `graphql.${side}.request.duration`,
    description: side === 'client' ? 'Duration of GraphQL operations sent.' : 'Duration of GraphQL requests served.',
    attributes,
  };
}
