// The fast path for Apollo Server: a gateway whose executor runs each operation's whole execution inside the
// operation's context, once, instead of entering the context around every resolver call. Apollo Server calls
// a gateway's executor in place of graphql-js `execute`, the only point where a whole execution can be
// wrapped; plugins cannot wrap it.
import { context as contextApi } from '@opentelemetry/api';
import { type DocumentNode, execute, type GraphQLSchema } from 'graphql';
import { runsInOperationContext, scopes } from './resolvers.js';

/** The parts of a gateway request context the executor reads (`@apollo/server-gateway-interface`). */
interface GatewayRequestContext {
  readonly request: { variables?: Record<string, unknown> };
  readonly context: unknown;
  readonly document: DocumentNode;
  readonly operationName: string | null;
}

/** The gateway interface of Apollo Server 4 and 5, as far as this gateway implements it. */
export interface TraceContextGateway {
  onSchemaLoadOrUpdate(
    callback: (schemaContext: { apiSchema: GraphQLSchema; coreSupergraphSdl: string }) => void,
  ): () => void;
  load(options: {
    apollo: unknown;
  }): Promise<{ executor: (requestContext: GatewayRequestContext) => Promise<unknown> }>;
  stop(): Promise<void>;
}

/**
 * Options for {@link traceContextGateway}. Every field is optional.
 *
 * @example
 * ```ts
 * traceContextGateway(schema, { rootValue: { version: 1 } });
 * ```
 */
export interface TraceContextGatewayOptions {
  /** The root value handed to graphql-js `execute`, as Apollo Server's `rootValue` option. @default undefined */
  rootValue?: unknown;
  /** The SDL Apollo Server reports as the schema's (usage and schema reporting only). @default '' */
  coreSupergraphSdl?: string;
}

/**
 * An Apollo Server `gateway` that executes `schema` with graphql-js, each operation inside the context
 * {@link traceContextPlugin} chose for it. Use it, beside the plugin, where queries resolve thousands of fields:
 * the plugin alone enters the operation's context around every resolver call (about 0.5 µs each on Node.js 24,
 * 0.07 µs on Node.js 20 and 22), while the gateway enters it once per operation, and the plugin then leaves the
 * schema's resolvers unwrapped. Everything else is Apollo Server's as usual: parsing, validation, plugins,
 * batching, `executeOperation`.
 *
 * Pass it instead of `schema` (or `typeDefs` + `resolvers`): Apollo Server takes either a schema or a
 * gateway. Limits of Apollo's gateway mode: no incremental delivery (`@defer`, `@stream`), and Apollo's
 * `fieldResolver` option does not apply (graphql-js's default field resolver runs). Never throws at
 * construction; what `execute` throws reaches Apollo Server as it would without the gateway.
 *
 * @example
 * ```ts
 * import { ApolloServer } from '@apollo/server';
 * import { makeExecutableSchema } from '@graphql-tools/schema';
 * import { traceContextGateway, traceContextPlugin } from 'otel-rpc-context/apollo-server';
 *
 * const schema = makeExecutableSchema({ typeDefs, resolvers });
 * const server = new ApolloServer({ gateway: traceContextGateway(schema), plugins: [traceContextPlugin()] });
 * ```
 */
export function traceContextGateway(
  schema: GraphQLSchema,
  options: TraceContextGatewayOptions = {},
): TraceContextGateway {
  runsInOperationContext.add(schema);
  const executor = (requestContext: GatewayRequestContext) => {
    const run = () =>
      execute({
        schema,
        document: requestContext.document,
        rootValue: options.rootValue,
        contextValue: requestContext.context,
        variableValues: requestContext.request.variables,
        operationName: requestContext.operationName ?? undefined,
      });
    const scope = scopes.get(requestContext.context as object);
    // Async so that a synchronous throw becomes a rejection, as Apollo expects of an executor.
    return Promise.resolve().then(() => (scope ? contextApi.with(scope.context, run) : run()));
  };
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: options.coreSupergraphSdl ?? '' });
      return () => {};
    },
    async load() {
      return { executor };
    },
    async stop() {},
  };
}
