// The matrix: one entry per cell of the README support table. A cell runs as its own process inside the
// folder of its variant (so bare imports resolve against that variant's node_modules) and ends with a line
// `ok: …` (exit 0) or `unsupported: …` (exit 3); anything else fails it.
import { join } from 'node:path';

const nodeCell = (major, script, extra = {}) => ({
  command: (env) => ({
    cmd: env.nodeBin(major),
    argv: [join(env.dirs[extra.variant ?? 'base'], 'compat-cells', script), ...(extra.argv ?? [])],
    cwd: env.dirs[extra.variant ?? 'base'],
  }),
});

const atLeast = (version, min) => {
  const [a, b] = version.split('.').map(Number);
  const [x, y] = min.split('.').map(Number);
  return a > x || (a === x && b >= y);
};

export const cells = [];

for (const major of [20, 22, 24]) {
  const versions = (env) => `Node ${env.nodeVersions[major]}`;
  cells.push(
    {
      id: `node${major}-entry-points`,
      area: 'Node.js',
      versions,
      what: 'import and require of every entry point (packed tarball)',
      variant: 'base',
      ...nodeCell(major, 'entry-points.mjs'),
    },
    {
      id: `node${major}-core-worker`,
      area: 'Node.js',
      versions,
      what: 'core: getContext → worker thread → attachContext (W3C trace context + baggage)',
      variant: 'base',
      ...nodeCell(major, 'core-worker.mjs'),
    },
  );
}

cells.push(
  {
    id: 'otel-api1.9-sdk2',
    area: 'OpenTelemetry',
    versions: 'API 1.9 + SDK 2.x (Node 24)',
    what: 'real SDK spans: client span → carrier → server span parented across await',
    variant: 'base',
    ...nodeCell(24, 'otel-sdk.mjs', { argv: ['@opentelemetry/sdk-trace-base'] }),
  },
  {
    id: 'otel-api1.3-sdk2.0',
    area: 'OpenTelemetry',
    versions: 'API 1.3.0 + SDK 2.0.0 (lowest in range, Node 24)',
    what: 'real SDK spans: client span → carrier → server span parented across await',
    variant: 'floors',
    ...nodeCell(24, 'otel-sdk.mjs', { variant: 'floors', argv: ['@opentelemetry/sdk-trace-base'] }),
  },
  {
    id: 'otel-api1.3-worker',
    area: 'OpenTelemetry',
    versions: 'API 1.3.0 (lowest in range, Node 20)',
    what: 'core: getContext → worker thread → attachContext (W3C trace context + baggage)',
    variant: 'floors',
    ...nodeCell(20, 'core-worker.mjs', { variant: 'floors' }),
  },
  {
    id: 'otel-api1.10-sdk3-node20',
    area: 'OpenTelemetry',
    versions: (env) => `API 1.10 + SDK 3.x (Node ${env.nodeVersions[20]})`,
    what: 'real SDK spans',
    variant: 'otel3',
    unsupported: () => 'OTel SDK 3 requires Node >= 22.15 (its engines field)',
    ...nodeCell(20, 'otel-sdk.mjs', { variant: 'otel3', argv: ['@opentelemetry/sdk-trace'] }),
  },
  {
    id: 'otel-api1.10-sdk3-node22',
    area: 'OpenTelemetry',
    versions: (env) => `API 1.10 + SDK 3.x (Node ${env.nodeVersions[22]})`,
    what: 'real SDK spans: client span → carrier → server span parented across await',
    variant: 'otel3',
    unsupported: (env) =>
      atLeast(env.nodeVersions[22], '22.15') ? null : `OTel SDK 3 needs Node >= 22.15, got ${env.nodeVersions[22]}`,
    ...nodeCell(22, 'otel-sdk.mjs', { variant: 'otel3', argv: ['@opentelemetry/sdk-trace'] }),
  },
  {
    id: 'otel-api1.10-sdk3-node24',
    area: 'OpenTelemetry',
    versions: 'API 1.10 + SDK 3.x (Node 24)',
    what: 'real SDK spans: client span → carrier → server span parented across await',
    variant: 'otel3',
    ...nodeCell(24, 'otel-sdk.mjs', { variant: 'otel3', argv: ['@opentelemetry/sdk-trace'] }),
  },
);

const toolPath = (env, ...p) => join(env.dirs.tools, 'node_modules', ...p);

for (const mode of ['node16-esm', 'node16-cjs', 'bundler', 'node10']) {
  cells.push({
    id: `types-${mode}`,
    area: 'Packaging',
    versions: `TypeScript 5.9, moduleResolution ${mode.replace('-', ' (')}${mode.includes('-') ? ')' : ''}`,
    what: "a consumer project type-checks every entry point with skipLibCheck off (the package's .d.ts checked too); exports typed, not any",
    variant: 'base',
    uses: ['tools'],
    ...nodeCell(24, 'types-check.mjs'),
    command: (env) => ({
      cmd: env.nodeBin(24),
      argv: [join(env.dirs.base, 'compat-cells', 'types-check.mjs'), toolPath(env, 'typescript', 'bin', 'tsc'), mode],
      cwd: env.dirs.base,
    }),
  });
}

cells.push({
  id: 'bundle-isolation',
  area: 'Packaging',
  versions: 'esbuild 0.28, platform browser',
  what: 'esbuild metafile: `otel-rpc-context/trpc` bundles nothing of Apollo, Yoga or GraphQL (also with its tRPC peers inlined); core only the API; yoga and apollo nothing of each other or tRPC',
  variant: 'base',
  uses: ['tools'],
  command: (env) => ({
    cmd: env.nodeBin(24),
    argv: [join(env.dirs.base, 'compat-cells', 'bundle-isolation.mjs'), toolPath(env, 'esbuild')],
    cwd: env.dirs.base,
  }),
});

// Integrations on Node: every supported Node line, then the dependency variants on Node 24.
const integration = (id, area, versions, what, major, variant, mode) => ({
  id,
  area,
  versions,
  what,
  variant,
  command: (env) => ({
    cmd: env.nodeBin(major),
    argv: [join(env.dirs[variant], 'compat-cells', 'node-integration.mjs'), mode],
    cwd: env.dirs[variant],
  }),
});
for (const major of [20, 22, 24]) {
  const v = (env) => `Node ${env.nodeVersions[major]}`;
  cells.push(
    integration(
      `node${major}-trpc`,
      'Node.js',
      v,
      'tRPC 11.25 standalone server: httpBatchLink (incl. identical calls), httpBatchStreamLink, httpLink: per-operation context; SDK SERVER spans under CLIENT spans',
      major,
      'base',
      'trpc',
    ),
    integration(
      `node${major}-yoga`,
      'Node.js',
      v,
      'Yoga 5 + graphql 16: batched POST incl. identical operations, per-operation context; SDK SERVER spans under each caller span',
      major,
      'base',
      'graphql',
    ),
  );
}
cells.push(
  integration(
    'graphql16-apollo4',
    'GraphQL',
    'graphql 16, Yoga 5, Apollo Client 4',
    'Apollo Client → Yoga: BatchHttpLink and HttpLink, per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'base',
    'apollo',
  ),
  {
    id: 'apollo-server4',
    area: 'GraphQL',
    versions: 'Apollo Server 4.x, graphql-ws 6, graphql 16',
    what: 'traceContextPlugin (startStandaloneServer) single and batched HTTP, withTraceContext graphql-ws query and subscription: every resolver and event in its caller trace; SDK SERVER spans under each caller span',
    variant: 'apolloServer4',
    ...nodeCell(24, 'apollo-server.mjs', { variant: 'apolloServer4' }),
  },
  {
    id: 'apollo-server5',
    area: 'GraphQL',
    versions: 'Apollo Server 5.x, graphql-ws 6, graphql 16',
    what: 'traceContextPlugin (startStandaloneServer) single and batched HTTP, withTraceContext graphql-ws query and subscription: every resolver and event in its caller trace; SDK SERVER spans under each caller span',
    variant: 'apolloServer5',
    ...nodeCell(24, 'apollo-server.mjs', { variant: 'apolloServer5' }),
  },
  {
    id: 'graphql-ws5-apollo-server5',
    area: 'GraphQL',
    versions: 'graphql-ws 5.x, Apollo Server 5, graphql 16',
    what: 'withTraceContext on graphql-ws 5 (hooks called with the message), traceContextPlugin single and batched HTTP: every resolver and event in its caller trace',
    variant: 'graphqlWs5',
    ...nodeCell(24, 'apollo-server.mjs', { variant: 'graphqlWs5' }),
  },
  {
    id: 'nestjs-apollo-server',
    area: 'GraphQL',
    versions: 'NestJS 12, @nestjs/apollo 14, Apollo Server 5',
    what: 'GraphQLModule.forRoot({ driver: ApolloDriver, plugins: [traceContextPlugin()] }): single and batched operations, every resolver in its caller trace; SDK SERVER spans under each caller span',
    variant: 'nestjs',
    ...nodeCell(24, 'nestjs-apollo.mjs', { variant: 'nestjs' }),
  },
  integration(
    'graphql17-yoga',
    'GraphQL',
    'graphql 17, Yoga 5',
    'Yoga batched POST incl. identical operations, per-operation context; SDK SERVER spans under each caller span',
    24,
    'graphql17',
    'graphql',
  ),
  integration(
    'graphql17-apollo4',
    'GraphQL',
    'graphql 17, Yoga 5, Apollo Client 4',
    'Apollo Client → Yoga: BatchHttpLink and HttpLink, per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'graphql17',
    'apollo',
  ),
  integration(
    'apollo3',
    'GraphQL',
    'Apollo Client 3.x (latest), graphql 16',
    'Apollo Client 3 → Yoga: BatchHttpLink and HttpLink, per-operation context; SDK SERVER spans under CLIENT spans (Node: require)',
    24,
    'apollo3',
    'apollo',
  ),
  integration(
    'apollo3.8',
    'GraphQL',
    'Apollo Client 3.8.0 (lowest in range), graphql 16',
    'Apollo Client 3 → Yoga: BatchHttpLink and HttpLink, per-operation context; SDK SERVER spans under CLIENT spans (Node: require)',
    24,
    'apollo3.8',
    'apollo',
  ),
  integration(
    'urql6',
    'GraphQL',
    '@urql/core 6 (latest), Yoga 5',
    'urql traceContextExchange → Yoga: fetchExchange POST and GET, per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'base',
    'urql',
  ),
  integration(
    'urql5.0',
    'GraphQL',
    '@urql/core 5.0.0 (lowest in range), Yoga 5',
    'urql traceContextExchange → Yoga: fetchExchange POST and GET, per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'urql-floor',
    'urql',
  ),
  integration(
    'trpc-11.0.0',
    'tRPC',
    'tRPC 11.0.0 (lowest in ^11)',
    'standalone server: httpBatchLink (incl. identical calls), httpBatchStreamLink, httpLink: per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'floors',
    'trpc',
  ),
  integration(
    'floors-yoga',
    'GraphQL',
    'graphql 16.0.0, Yoga 5.13.1 (lowest in range on the registry)',
    'Yoga batched POST incl. identical operations, per-operation context; SDK SERVER spans under each caller span',
    24,
    'floors',
    'graphql',
  ),
  integration(
    'floors-apollo',
    'GraphQL',
    'Apollo Client 4.0.0, rxjs 7.3.0, graphql 16.0.0 (lowest in range)',
    'Apollo Client → Yoga: BatchHttpLink and HttpLink, per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'floors',
    'apollo',
  ),
  integration(
    'trpc-11.25',
    'tRPC',
    'tRPC 11.25 (latest)',
    'standalone server: httpBatchLink (incl. identical calls), httpBatchStreamLink, httpLink: per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'base',
    'trpc',
  ),
  integration(
    'otel3-trpc',
    'OpenTelemetry',
    'API 1.10 + SDK 3.x packages, tRPC 11.25',
    'tRPC httpBatchLink (incl. identical calls), httpBatchStreamLink, httpLink: per-operation context; SDK SERVER spans under CLIENT spans',
    24,
    'otel3',
    'trpc',
  ),
  integration(
    'otel3-yoga',
    'OpenTelemetry',
    'API 1.10 + SDK 3.x packages, Yoga 5',
    'Yoga batched POST incl. identical operations, per-operation context; SDK SERVER spans under each caller span',
    24,
    'otel3',
    'graphql',
  ),
);

// Runtimes without monkey-patching instrumentation: Bun and Deno run the base variant's node_modules.
const runtimeBin = (env, name) => join(env.dirs.runtimes, 'node_modules', '.bin', name);
for (const runtime of ['bun', 'deno']) {
  const name = runtime === 'bun' ? 'Bun' : 'Deno';
  for (const [mode, what] of [
    ['core', 'core: getContext/attachContext, W3C trace context + baggage, across await'],
    [
      'trpc',
      `tRPC fetch adapter on ${runtime === 'bun' ? 'Bun.serve' : 'Deno.serve'}: httpBatchLink, httpBatchStreamLink and httpLink, per-operation context`,
    ],
    ['yoga', `Yoga on ${runtime === 'bun' ? 'Bun.serve' : 'Deno.serve'}: batched POST, per-operation context`],
  ]) {
    cells.push({
      id: `${runtime}-${mode}`,
      area: 'Runtimes',
      versions: (env) => `${name} ${env.runtimeVersions?.[runtime] ?? ''}`.trim(),
      what,
      variant: 'base',
      uses: ['runtimes'],
      command: (env) => ({
        cmd: runtimeBin(env, runtime),
        argv: [
          ...(runtime === 'deno' ? ['run', '-A', '--no-lock', '--quiet'] : []),
          join(env.dirs.base, 'compat-cells', 'runtime-app.mjs'),
          mode,
        ],
        cwd: env.dirs.base,
      }),
      env: () => ({ DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' }),
    });
  }
}

// workerd: the worker is bundled with esbuild and served by workerd; Node drives it over loopback.
for (const [mode, what] of [
  ['core', 'core: getContext/attachContext inside a worker (AsyncLocalStorage via nodejs_compat)'],
  ['trpc', 'tRPC fetch adapter in a worker: httpBatchLink, httpBatchStreamLink and httpLink, per-operation context'],
  ['yoga', 'Yoga in a worker: batched POST, per-operation context'],
]) {
  cells.push({
    id: `workerd-${mode}`,
    area: 'Runtimes',
    versions: (env) => `workerd ${env.runtimeVersions?.workerd ?? ''}`.trim(),
    what,
    variant: 'base',
    uses: ['runtimes', 'tools'],
    command: (env) => ({
      cmd: env.nodeBin(24),
      argv: [
        join(env.dirs.base, 'compat-cells', 'workerd-cell.mjs'),
        join(env.dirs.tools, 'node_modules', 'esbuild'),
        runtimeBin(env, 'workerd'),
        mode,
      ],
      cwd: env.dirs.base,
    }),
    env: (env) => ({ WORKERD_VERSION: env.runtimeVersions?.workerd ?? '' }),
  });
}

// Chromium: Debian's /usr/bin/chromium driven by playwright-core, the page bundled with esbuild.
for (const [mode, what] of [
  ['core', 'core: getContext/attachContext in the page (stack context manager, W3C propagators)'],
  [
    'trpc',
    'tRPC traceContextLink + httpBatchLink, httpBatchStreamLink and httpLink from the page: per-operation context at the server',
  ],
  ['apollo', 'Apollo TraceContextLink + BatchHttpLink/HttpLink from the page to Yoga: per-operation context'],
]) {
  cells.push({
    id: `chromium-${mode}`,
    area: 'Browser',
    versions: (env) => `Chromium ${env.chromiumVersion ?? ''}`.trim(),
    what,
    variant: 'base',
    uses: ['tools'],
    needs: 'chromium',
    command: (env) => ({
      cmd: env.nodeBin(24),
      argv: [
        join(env.dirs.base, 'compat-cells', 'browser-cell.mjs'),
        join(env.dirs.tools, 'node_modules', 'esbuild'),
        join(env.dirs.tools, 'node_modules', 'playwright-core'),
        mode,
      ],
      cwd: env.dirs.base,
    }),
  });
}

// Optional peers: each entry point with nothing but its own peers installed.
for (const [variant, entries, versions] of [
  ['only-api', ['otel-rpc-context'], 'only @opentelemetry/api installed'],
  ['only-trpc', ['otel-rpc-context', 'otel-rpc-context/trpc'], 'only @opentelemetry/api + @trpc/server + @trpc/client'],
  ['only-yoga', ['otel-rpc-context', 'otel-rpc-context/yoga'], 'only @opentelemetry/api + graphql + graphql-yoga'],
  ['only-urql', ['otel-rpc-context', 'otel-rpc-context/urql'], 'only @opentelemetry/api + @urql/core'],
  [
    'only-apollo',
    ['otel-rpc-context', 'otel-rpc-context/apollo'],
    'only @opentelemetry/api + graphql + @apollo/client + rxjs',
  ],
]) {
  cells.push({
    id: `peers-${variant}`,
    area: 'Packaging',
    versions: `${versions} (Node 20)`,
    what: `optional peers stay optional: ${entries.map((e) => `\`${e}\``).join(' and ')} import and require`,
    variant,
    ...nodeCell(20, 'peers-only.mjs', { variant, argv: entries }),
  });
}

// Table order: by area, Node.js rows grouped per Node line; otherwise in the order above.
const areaOrder = ['Node.js', 'OpenTelemetry', 'tRPC', 'GraphQL', 'Runtimes', 'Browser', 'Packaging'];
const nodeLine = (cell) => Number(cell.id.match(/^node(\d+)-/)?.[1] ?? 0);
const position = new Map(cells.map((cell, i) => [cell, i]));
cells.sort(
  (a, b) =>
    areaOrder.indexOf(a.area) - areaOrder.indexOf(b.area) ||
    nodeLine(a) - nodeLine(b) ||
    position.get(a) - position.get(b),
);
