// The public names of each entry point (shared by the cells; imports nothing, so any variant can load it).
/** The names each entry point must export. */
export const expectedExports = {
  'otel-rpc-context': ['getContext', 'attachContext', 'extractContext', 'toContextCarrier'],
  'otel-rpc-context/trpc': ['traceContextLink', 'traceContextHeaders', 'traceContextMiddleware'],
  'otel-rpc-context/yoga': ['useTraceContext'],
  'otel-rpc-context/apollo': [
    'TraceContextLink',
    'traceContextFetch',
    'traceContextBatchKey',
    'TRACE_CONTEXT_EXTENSION',
  ],
  'otel-rpc-context/urql': ['traceContextExchange', 'traceContextFetch', 'TRACE_CONTEXT_EXTENSION'],
  'otel-rpc-context/apollo-server': ['traceContextPlugin', 'TRACE_CONTEXT_EXTENSION'],
  'otel-rpc-context/graphql-ws': ['withTraceContext', 'TRACE_CONTEXT_EXTENSION'],
};
