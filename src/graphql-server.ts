// What the GraphQL server integrations (the Yoga plugin, the Apollo Server plugin, the graphql-ws wrapper)
// share: their options, with every default resolved in one place, the names of the places a carrier is
// found, and how an operation starts. Imports nothing of any GraphQL server or of graphql itself.
import { type Context, type Span, SpanKind, type TextMapPropagator, type Tracer, trace } from '@opentelemetry/api';
import { ATTR_GRAPHQL_DOCUMENT, resolveTracer, UNKNOWN_OPERATION_SPAN_NAME } from './graphql-shared.js';
import { type IncomingOption, resolvePolicy } from './incoming.js';
import { type CarrierSource, type OperationCarriers, operationParent } from './server.js';

/**
 * Where an operation's carrier was found: its `extensions.traceContext`, the graphql-ws `connection_init`
 * payload, or the HTTP request's W3C headers.
 *
 * @example
 * ```ts
 * useTraceContext({ incoming: ({ source }) => (source === 'headers' ? 'link' : 'continue') });
 * ```
 */
export type TraceContextSource = 'extensions' | 'connectionParams' | 'headers';

/** The GraphQL names of the shared rule's sources. */
export const SOURCES = {
  operation: 'extensions',
  connection: 'connectionParams',
  headers: 'headers',
} as const satisfies Record<CarrierSource, TraceContextSource>;

/**
 * The options every GraphQL server integration takes, with the same names and defaults. `TInfo` is what an
 * `incoming` decider function is given (each integration documents its own).
 *
 * @example
 * ```ts
 * const options: GraphQLServerTraceOptions<{ source: TraceContextSource }> = { incoming: 'link', spans: true };
 * ```
 */
export interface GraphQLServerTraceOptions<TInfo> {
  /**
   * What to do with a context that arrives with an operation: `'continue'` its trace, start a new trace
   * that `'link'`s to it, `'ignore'` it, or a function deciding per operation. See the README's trust policy.
   * @default 'continue'
   */
  incoming?: IncomingOption<TInfo>;
  /** Start one SERVER span per operation. With `false`, phases and resolvers run in the caller's context. @default true */
  spans?: boolean;
  /** Record the operation's source text as `graphql.document`. It can hold inlined arguments. @default false */
  document?: boolean;
  /** Fall back to the request's W3C headers (`traceparent`, …) when no carrier travels in the operation. @default true */
  headers?: boolean;
  /** The tracer for the server spans. @default trace.getTracer('otel-rpc-context') */
  tracer?: Tracer;
  /** The propagator that reads carriers and headers. @default the global propagator */
  propagator?: TextMapPropagator;
}

/** Every option resolved to its default, in one place. */
export function withDefaults<TInfo>(options: GraphQLServerTraceOptions<TInfo>) {
  return {
    incoming: options.incoming ?? 'continue',
    spans: options.spans ?? true,
    document: options.document ?? false,
    headers: options.headers ?? true,
    tracer: options.tracer,
    propagator: options.propagator,
  };
}

/** An operation as a GraphQL server starts it. */
export interface StartedOperation {
  /** Where its phases and resolvers run: the parent plus its SERVER span, if any. */
  context: Context;
  span: Span | undefined;
  /** Where the caller's context came from; `undefined` when none was found. */
  source: CarrierSource | undefined;
}

/**
 * Starts one operation on a GraphQL server: its parent by the shared rule (`operationParent`), with the trust
 * policy asked through `info`; its SERVER span (named once the document is known) unless `spans` is off; and
 * `graphql.document` from `query` when `document` is on.
 */
export function startServerOperation<TInfo>(
  carriers: OperationCarriers,
  config: ReturnType<typeof withDefaults<TInfo>>,
  info: (source: TraceContextSource) => TInfo,
  query: unknown,
): StartedOperation {
  const { parent, links, root, source } = operationParent(carriers, config.propagator, (from) =>
    resolvePolicy(config.incoming, info(SOURCES[from])),
  );
  const span = config.spans
    ? resolveTracer(config.tracer).startSpan(
        UNKNOWN_OPERATION_SPAN_NAME,
        { kind: SpanKind.SERVER, links, root },
        parent,
      )
    : undefined;
  if (span && config.document && typeof query === 'string') span.setAttribute(ATTR_GRAPHQL_DOCUMENT, query);
  return { context: span ? trace.setSpan(parent, span) : parent, span, source };
}
