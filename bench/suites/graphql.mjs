// graphql-yoga server (HTTP + graphql-ws) and Apollo Client 4 over loopback, in the same process.
import { createServer } from 'node:http';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache, Observable } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocket, WebSocketServer } from 'ws';
import { apolloFloorLink, envelopFloorInstrumentation } from '../lib/floor.mjs';
import { importOwn, ownOptions, SHARED_VARIANTS } from '../lib/own.mjs';

export const variants = {
  ...SHARED_VARIANTS,
  empty: {
    label: 'empty Apollo link + empty Envelop plugin of our hooks shape (what any link and plugin cost)',
    short: 'empty link + plugin',
    empty: true,
  },
  // The OpenTelemetry floor (bench/lib/floor.mjs): inject, extract and `context.with` alone, of our shape.
  floor: {
    label:
      'OTel floor, `spans: false`: an Apollo link that injects into the headers + the empty plugin with extract and `context.with` around execution',
    short: 'OTel floor, `spans: false`',
    floor: { spans: false },
    role: 'floor',
  },
  'floor-spans': {
    label: 'OTel floor with spans: the same + one CLIENT and one SERVER span',
    short: 'OTel floor, spans',
    floor: { spans: true },
    role: 'floor',
  },
  envelop: { label: '`@envelop/opentelemetry`', short: 'Envelop', plugin: 'envelop' },
  hive: { label: '`@graphql-hive/plugin-opentelemetry`', short: 'Hive', plugin: 'hive' },
  'graphql-auto': {
    label: 'instrumentation-graphql + -http + -undici',
    short: 'GraphQL+HTTP auto',
    instrument: ['http', 'undici', 'graphql'],
  },
  'http-auto': { label: 'instrumentation-http + -undici', short: 'HTTP auto', instrument: ['http', 'undici'] },
};

export const SUBSCRIPTION_EVENTS = 1000;
/** Field resolutions per item in the resolver-heavy query (id, a, b, c, d). */
const FIELDS_PER_ITEM = 5;

/** The bench schema. */
export const typeDefs = /* GraphQL */ `
  type Query {
    greet(caller: String!, n: Int!): Greeting!
    items(caller: String!, n: Int!): [Item!]!
  }
  type Greeting {
    greeting: String!
    n: Int!
  }
  type Item {
    id: Int!
    a: String!
    b: String!
    c: Int!
    d: Boolean!
  }
  type Subscription {
    ticks(caller: String!, n: Int!): Int!
  }
`;

/** The resolvers of {@link typeDefs}; each probes whether it runs in its caller's trace. */
export const resolvers = (otel) => ({
  Query: {
    greet: (_root, { caller, n }) => {
      otel.probe(caller);
      return { greeting: `hello ${caller}`, n };
    },
    items: (_root, { caller, n }) => {
      otel.probe(caller);
      return Array.from({ length: n }, (_, id) => ({ id }));
    },
  },
  // Every field has its own resolver, so each one is a resolution the server really performs.
  Item: {
    id: (item) => item.id,
    a: (item) => `a${item.id}`,
    b: (item) => `b${item.id}`,
    c: (item) => item.id * 2,
    d: (item) => item.id % 2 === 0,
  },
  Subscription: {
    ticks: {
      subscribe: async function* (_root, { caller, n }) {
        for (let i = 0; i < n; i++) {
          otel.probe(caller);
          yield { ticks: i };
        }
      },
    },
  },
});

/** The query of the single and batch scenarios. */
export const GREET = gql`
  query Greet($caller: String!, $n: Int!) {
    greet(caller: $caller, n: $n) {
      greeting
      n
    }
  }
`;
const ITEMS = gql`
  query Items($caller: String!, $n: Int!) {
    items(caller: $caller, n: $n) {
      id
      a
      b
      c
      d
    }
  }
`;
const TICKS = gql`
  subscription Ticks($caller: String!, $n: Int!) {
    ticks(caller: $caller, n: $n)
  }
`;

/**
 * A plugin that does nothing, with the hooks `useTraceContext` registers (request parse, context errors,
 * parse, validate, execute, subscribe, and the `instrumentation` wrappers around parse, validate, context
 * building, execute and subscribe): what Envelop and Yoga charge for a plugin of that shape.
 */
const emptyPlugin = () => ({
  onRequestParse() {
    return { onRequestParseDone() {} };
  },
  onPluginInit({ registerContextErrorHandler }) {
    registerContextErrorHandler(() => {});
  },
  onParse() {
    return () => {};
  },
  onValidate() {
    return () => {};
  },
  onExecute() {
    return { onExecuteDone() {} };
  },
  onSubscribe() {
    return { onSubscribeResult() {}, onSubscribeError() {} };
  },
  instrumentation: {
    parse: (_payload, wrapped) => wrapped(),
    validate: (_payload, wrapped) => wrapped(),
    context: (_payload, wrapped) => wrapped(),
    execute: (_payload, wrapped) => wrapped(),
    subscribe: (_payload, wrapped) => wrapped(),
  },
});

/** The empty plugin with the floor's extract and `context.with` (and its SERVER span) around execution. */
function floorPlugin(floor) {
  const plugin = emptyPlugin();
  return { ...plugin, instrumentation: { ...plugin.instrumentation, ...envelopFloorInstrumentation(floor) } };
}

/** The Yoga plugins of a variant (`spec`): none, the empty or floor plugin, ours, or an anchor's. */
export async function serverPlugins(spec, otel) {
  if (spec.empty) return [emptyPlugin()];
  if (spec.floor) return [floorPlugin(spec.floor)];
  if (spec.ours) {
    const { useTraceContext } = await importOwn('yoga');
    if (typeof useTraceContext !== 'function')
      throw new Error('otel-rpc-context/yoga does not export useTraceContext yet');
    return [useTraceContext(ownOptions(spec.ours))];
  }
  if (spec.plugin === 'envelop') {
    const { useOpenTelemetry } = await import('@envelop/opentelemetry');
    // Comparable work: one span per operation, no span per resolver.
    return [useOpenTelemetry({ resolvers: false, variables: false, result: false }, otel.provider)];
  }
  if (spec.plugin === 'hive') {
    const { useOpenTelemetry } = await import('@graphql-hive/plugin-opentelemetry');
    return [useOpenTelemetry({ traces: { tracer: otel.tracer } })];
  }
  return [];
}

/** The Apollo links a variant (`spec`) puts before the terminating link. */
export async function clientLinks(spec) {
  // A pass-through link: Apollo's own cost of one more link in the chain.
  if (spec.empty) return [new ApolloLink((operation, forward) => forward(operation))];
  if (spec.floor) return [apolloFloorLink({ ApolloLink, Observable, spans: spec.floor.spans })];
  if (!spec.ours) return [];
  const { TraceContextLink } = await importOwn('apollo');
  if (typeof TraceContextLink !== 'function')
    throw new Error('otel-rpc-context/apollo does not export TraceContextLink yet');
  return [new TraceContextLink(ownOptions(spec.ours))];
}

/** The bench's Yoga server for a variant (its plugins). */
export async function createBenchYoga(spec, otel) {
  return createYoga({
    schema: createSchema({ typeDefs, resolvers: resolvers(otel) }),
    plugins: await serverPlugins(spec, otel),
    batching: { limit: 10 },
    graphiql: false,
    landingPage: false,
    logging: false,
  });
}

/**
 * The bench's Apollo Client for a variant: `client(terminating)` puts the variant's links before `terminating`;
 * `batchKey` is the one its `BatchHttpLink` needs for the server at `uri`.
 */
export async function apolloClients(spec, uri) {
  const ours = await clientLinks(spec);
  const client = (terminating) =>
    new ApolloClient({
      link: ApolloLink.from([...ours, terminating]),
      cache: new InMemoryCache(),
      queryDeduplication: false,
    });
  // As the docs say for Node: our link also sends W3C headers there, and this key keeps them from splitting batches.
  // The floor's headers differ per operation too: one key for all, so a batch still goes as one request.
  const batchKey = spec.ours
    ? (await importOwn('apollo')).traceContextBatchKey(uri)
    : spec.floor
      ? () => uri
      : undefined;
  return { client, batchKey };
}

/** @param {{ variant: string }} options */
export async function createSuite({ variant, otel }) {
  const spec = variants[variant];
  const yoga = await createBenchYoga(spec, otel);
  const server = createServer(yoga);
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  // graphql-yoga's documented graphql-ws set-up: the operation runs through Yoga's Envelop pipeline.
  const wsDisposable = useServer(
    {
      execute: (args) => args.rootValue.execute(args),
      subscribe: (args) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wsServer,
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const uri = `http://127.0.0.1:${port}${yoga.graphqlEndpoint}`;

  const wsClient = createClient({ url: `ws://127.0.0.1:${port}${yoga.graphqlEndpoint}`, webSocketImpl: WebSocket });
  const { client, batchKey } = await apolloClients(spec, uri);
  const single = client(new HttpLink({ uri }));
  const batch = client(new BatchHttpLink({ uri, batchMax: 10, batchInterval: 0, batchKey }));
  const sub = client(new GraphQLWsLink(wsClient));

  let n = 0;
  const greet = (apollo) =>
    otel.asCaller((caller) => apollo.query({ query: GREET, variables: { caller, n: n++ }, fetchPolicy: 'no-cache' }));
  const items = (count) => () =>
    otel.asCaller((caller) => single.query({ query: ITEMS, variables: { caller, n: count }, fetchPolicy: 'no-cache' }));
  const scenarios = {
    single: {
      label: 'Yoga + Apollo `HttpLink`, single queries',
      short: 'GraphQL single query',
      opsPerCall: 1,
      concurrency: 4,
      call: () => greet(single),
    },
    batch10: {
      label: 'Yoga + Apollo `BatchHttpLink`, batches of 10',
      short: 'GraphQL batch of 10 (`BatchHttpLink`)',
      opsPerCall: 10,
      concurrency: 2,
      call: () => Promise.all(Array.from({ length: 10 }, () => greet(batch))),
    },
    fields1k: {
      label: 'Yoga + Apollo, query resolving 1,000 fields',
      short: 'GraphQL query, 1,000 fields',
      opsPerCall: 1,
      concurrency: 2,
      call: items(1000 / FIELDS_PER_ITEM),
      fields: 1000,
    },
    fields5k: {
      label: 'Yoga + Apollo, query resolving 5,000 fields',
      short: 'GraphQL query, 5,000 fields',
      opsPerCall: 1,
      concurrency: 2,
      call: items(5000 / FIELDS_PER_ITEM),
      fields: 5000,
    },
    subscription: {
      label: `Yoga (graphql-ws) + Apollo \`GraphQLWsLink\`, events of a ${SUBSCRIPTION_EVENTS}-event subscription`,
      short: 'GraphQL subscription events (graphql-ws)',
      opsPerCall: SUBSCRIPTION_EVENTS,
      concurrency: 1,
      call: () =>
        new Promise((resolve, reject) => {
          let seen = 0;
          // Apollo runs the link chain when the observable is subscribed to: both inside the caller.
          otel.asCaller((caller) =>
            sub.subscribe({ query: TICKS, variables: { caller, n: SUBSCRIPTION_EVENTS } }).subscribe({
              next(result) {
                if (result.error) reject(result.error);
                else seen++;
              },
              error: reject,
              complete() {
                if (seen === SUBSCRIPTION_EVENTS) resolve();
                else reject(new Error(`subscription ended after ${seen} events`));
              },
            }),
          );
        }),
    },
  };

  return {
    scenarios,
    /** Scenarios whose heap is measured over many operations (up to 100,000; see bench/run.mjs). */
    memory: Object.keys(scenarios),
    async close() {
      single.stop();
      batch.stop();
      sub.stop();
      await wsClient.dispose();
      await wsDisposable.dispose();
      wsServer.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
