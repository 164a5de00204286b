// Apollo Server 5 (Express, @as-integrations/express5) with graphql-ws on the same port, as Apollo's
// subscription recipe mounts it, and Apollo Client 4 over loopback, in the same process. Variants: the same
// app without the plugin, with traceContextPlugin (+ withTraceContext for graphql-ws; the field-heavy queries
// also through traceContextGateway), and with @opentelemetry/instrumentation-graphql (what Apollo Server users
// run today).
import { createServer } from 'node:http';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocket, WebSocketServer } from 'ws';
import { importOwn, ownOptions, SHARED_VARIANTS } from '../lib/own.mjs';

export const variants = {
  ...SHARED_VARIANTS,
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

const typeDefs = /* GraphQL */ `
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

const resolvers = (otel) => ({
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
  // Every field has its own resolver, so each one is a resolution the server really performs (and wraps).
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

const GREET = gql`
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

/** @param {{ variant: string }} options */
export async function createSuite({ variant, otel }) {
  const spec = variants[variant];
  const schema = makeExecutableSchema({ typeDefs, resolvers: resolvers(otel) });
  const plugins = [];
  let wsOptions = { schema };
  const links = [];
  // The field-heavy queries again, our variants through traceContextGateway (the whole execution in the
  // operation's context once, resolvers unwrapped) beside the plugin, on a schema of its own (the plugin wraps
  // the other one's resolvers in place). Other variants serve those queries from the same app as the rest.
  let viaGateway;
  if (spec.ours) {
    const [{ traceContextGateway, traceContextPlugin }, { withTraceContext }, { TraceContextLink }] = await Promise.all(
      [importOwn('apollo-server'), importOwn('graphql-ws'), importOwn('apollo')],
    );
    plugins.push(traceContextPlugin(ownOptions(spec.ours)));
    wsOptions = withTraceContext(wsOptions, ownOptions(spec.ours));
    links.push(new TraceContextLink(ownOptions(spec.ours)));
    viaGateway = new ApolloServer({
      gateway: traceContextGateway(makeExecutableSchema({ typeDefs, resolvers: resolvers(otel) })),
      plugins: [traceContextPlugin(ownOptions(spec.ours))],
    });
  }
  const apollo = new ApolloServer({ schema, plugins, allowBatchedHttpRequests: true });
  await apollo.start();
  await viaGateway?.start();
  const app = express();
  app.use('/graphql', express.json({ limit: '10mb' }), expressMiddleware(apollo));
  app.use('/gateway', express.json({ limit: '10mb' }), expressMiddleware(viaGateway ?? apollo));
  const server = createServer(app);
  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  const wsDisposable = useServer(wsOptions, wsServer);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const uri = `http://127.0.0.1:${port}/graphql`;

  const wsClient = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket });
  const client = (terminating) =>
    new ApolloClient({
      link: ApolloLink.from([...links, terminating]),
      cache: new InMemoryCache(),
      queryDeduplication: false,
    });
  const single = client(new HttpLink({ uri }));
  const gatewayClient = client(new HttpLink({ uri: `http://127.0.0.1:${port}/gateway` }));
  // As the docs say for Node: our link also sends W3C headers there, and this key keeps them from splitting batches.
  const batchKey = spec.ours ? (await importOwn('apollo')).traceContextBatchKey(uri) : undefined;
  const batch = client(new BatchHttpLink({ uri, batchMax: 10, batchInterval: 0, batchKey }));
  const sub = client(new GraphQLWsLink(wsClient));

  let n = 0;
  const greet = (apolloClient) =>
    otel.asCaller((caller) =>
      apolloClient.query({ query: GREET, variables: { caller, n: n++ }, fetchPolicy: 'no-cache' }),
    );
  const items =
    (count, apolloClient = single) =>
    () =>
      otel.asCaller((caller) =>
        apolloClient.query({ query: ITEMS, variables: { caller, n: count }, fetchPolicy: 'no-cache' }),
      );
  const scenarios = {
    single: {
      label: 'Apollo Server + Apollo `HttpLink`, single queries',
      short: 'Apollo Server single query',
      opsPerCall: 1,
      concurrency: 4,
      call: () => greet(single),
    },
    batch10: {
      label: 'Apollo Server + Apollo `BatchHttpLink`, batches of 10',
      short: 'Apollo Server batch of 10',
      opsPerCall: 10,
      concurrency: 2,
      call: () => Promise.all(Array.from({ length: 10 }, () => greet(batch))),
    },
    fields1k: {
      label: 'Apollo Server, query resolving 1,000 fields',
      short: 'Apollo Server query, 1,000 fields',
      opsPerCall: 1,
      concurrency: 2,
      call: items(1000 / FIELDS_PER_ITEM),
      fields: 1000,
    },
    fields5k: {
      label: 'Apollo Server, query resolving 5,000 fields',
      short: 'Apollo Server query, 5,000 fields',
      opsPerCall: 1,
      concurrency: 2,
      call: items(5000 / FIELDS_PER_ITEM),
      fields: 5000,
    },
    fields1kGateway: {
      label: 'Apollo Server, query resolving 1,000 fields, ours through `traceContextGateway`',
      short: 'Apollo Server query, 1,000 fields, `traceContextGateway`',
      opsPerCall: 1,
      concurrency: 2,
      call: items(1000 / FIELDS_PER_ITEM, gatewayClient),
      fields: 1000,
    },
    fields5kGateway: {
      label: 'Apollo Server, query resolving 5,000 fields, ours through `traceContextGateway`',
      short: 'Apollo Server query, 5,000 fields, `traceContextGateway`',
      opsPerCall: 1,
      concurrency: 2,
      call: items(5000 / FIELDS_PER_ITEM, gatewayClient),
      fields: 5000,
    },
    subscription: {
      label: `Apollo's graphql-ws recipe + \`GraphQLWsLink\`, events of a ${SUBSCRIPTION_EVENTS}-event subscription`,
      short: 'Apollo recipe subscription events (graphql-ws)',
      opsPerCall: SUBSCRIPTION_EVENTS,
      concurrency: 1,
      call: () =>
        new Promise((resolve, reject) => {
          let seen = 0;
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
    memory: Object.keys(scenarios),
    async close() {
      single.stop();
      gatewayClient.stop();
      batch.stop();
      sub.stop();
      await wsClient.dispose();
      await wsDisposable.dispose();
      wsServer.close();
      server.closeAllConnections();
      await apollo.stop();
      await viaGateway?.stop();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
