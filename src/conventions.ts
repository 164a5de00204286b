// Names every integration shares: the instrumentation scope of the spans this package starts, and the
// semantic-convention attributes common to RPC and GraphQL spans (copied, so the package keeps zero
// runtime dependencies).

/** The instrumentation scope name of every span this package starts. */
export const TRACER_NAME = 'otel-rpc-context';

export const ATTR_ERROR_TYPE = 'error.type';
