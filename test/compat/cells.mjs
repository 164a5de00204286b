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
  {
    id: 'otel-api1.10-sdk3-node20',
    area: 'OpenTelemetry',
    versions: (env) => `API 1.10 + SDK 3.x (Node ${env.nodeVersions[20]})`,
    what: 'real SDK spans',
    variant: 'otel3',
    unsupported: () => 'OTel SDK 3 requires Node >= 22.15 (its engines field)',
    ...nodeCell(20, 'otel-sdk.mjs', { variant: 'otel3', argv: ['@opentelemetry/sdk-trace'] }),
  },
);

const toolPath = (env, ...p) => join(env.dirs.tools, 'node_modules', ...p);

for (const mode of ['node16-esm', 'node16-cjs', 'bundler']) {
  cells.push({
    id: `types-${mode}`,
    area: 'Packaging',
    versions: `TypeScript 5.9, moduleResolution ${mode.replace('-', ' (')}${mode.includes('-') ? ')' : ''}`,
    what: 'a consumer project type-checks every entry point; exports are typed, not any',
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
  id: 'bundle-trpc-isolation',
  area: 'Packaging',
  versions: 'esbuild 0.28, platform browser',
  what: 'bundle of `otel-rpc-context/trpc` contains nothing of Apollo, Yoga or GraphQL; core only the API',
  variant: 'base',
  uses: ['tools'],
  command: (env) => ({
    cmd: env.nodeBin(24),
    argv: [join(env.dirs.base, 'compat-cells', 'bundle-isolation.mjs'), toolPath(env, 'esbuild')],
    cwd: env.dirs.base,
  }),
});
