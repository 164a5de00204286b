// Where our CPU time goes in one bench scenario, in µs per operation.
//
//   node bench/profile.mjs <suite> <variant> <scenario> [ops]     e.g. node bench/profile.mjs trpc ours-nospans single 20000
//
// Runs the scenario in this process under the V8 sampling profiler, then attributes every sample to the
// nearest frame up its stack that is not OpenTelemetry or Node.js internals: when that frame is
// otel-rpc-context's, the sample is our cost (including the OpenTelemetry and Node calls we make);
// otherwise it belongs to the app, tRPC, GraphQL, HTTP. `--cpu-prof` gives the same data as a file.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupOtel } from './lib/otel.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const [suiteName = 'trpc', variant = 'ours-nospans', scenarioName = 'single', opsArg = '20000'] = process.argv.slice(2);
const ops = Number(opsArg);

const dist = path.join(root, 'node_modules', '.cache', 'otel-rpc-context-bench-profile');
if (!process.env.OTEL_RPC_CONTEXT_BENCH_DIST) {
  rmSync(dist, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '-p',
      'tsconfig.build.json',
      '--outDir',
      path.join(dist, 'esm'),
      '--declaration',
      'false',
      '--declarationMap',
      'false',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  writeFileSync(path.join(dist, 'package.json'), '{ "type": "module" }\n');
  process.env.OTEL_RPC_CONTEXT_BENCH_DIST = path.join(dist, 'esm');
}
const ownDir = process.env.OTEL_RPC_CONTEXT_BENCH_DIST;

const suiteModule = await import(`./suites/${suiteName}.mjs`);
const otel = await setupOtel(suiteModule.variants[variant].instrument);
const { drive, driveSync } = await import('./lib/drive.mjs');
const suite = await suiteModule.createSuite({ variant, otel });
const scenario = suite.scenarios[scenarioName];
const run = (n) =>
  scenario.sync ? driveSync(scenario.fn, n, otel.callerContext) : drive(scenario, n, otel.callerContext);

await run(Math.max(scenario.opsPerCall ?? 1, Math.round(ops / 4))); // warm-up
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const result = await run(ops);
const { profile } = await session.post('Profiler.stop');
session.disconnect();
await suite.close?.();
await otel.provider.shutdown();

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const isOurs = (url) => url.startsWith(`file://${ownDir}`) || url.startsWith(ownDir);
const isInfra = (url) =>
  url === '' || url.startsWith('node:') || url.includes('/node_modules/@opentelemetry/') || url.startsWith('internal');
const where = (frame) =>
  `${frame.functionName || '(anonymous)'} ${path.relative(ownDir, fileURLToPath(frame.url))}:${frame.lineNumber + 1}`;

const byOurFunction = new Map();
const byCallee = new Map();
let total = 0;
let ours = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const leaf = nodes.get(profile.samples[i]);
  let id = leaf.id;
  while (id !== undefined && isInfra(nodes.get(id).callFrame.url)) id = parent.get(id);
  if (id === undefined || !isOurs(nodes.get(id).callFrame.url)) continue;
  ours += dt;
  const owner = where(nodes.get(id).callFrame);
  byOurFunction.set(owner, (byOurFunction.get(owner) ?? 0) + dt);
  const callee =
    leaf.id === id
      ? '(self)'
      : `${leaf.callFrame.functionName || '(anonymous)'} ${leaf.callFrame.url.split('/').slice(-2).join('/')}`;
  byCallee.set(callee, (byCallee.get(callee) ?? 0) + dt);
}

const perOp = (us) => (us / result.ops).toFixed(2);
console.log(
  `${suiteName}/${variant}/${scenarioName}: ${result.ops} ops, ${(result.wallNs / result.ops / 1000).toFixed(1)} µs/op wall, ${(result.cpuUs / result.ops).toFixed(1)} µs/op CPU`,
);
console.log(
  `profiled ${(total / 1000).toFixed(0)} ms; in otel-rpc-context (with the OpenTelemetry/Node calls it makes): ${perOp(ours)} µs/op (${((ours / total) * 100).toFixed(1)}%)`,
);
console.log('\nby our function (µs/op):');
for (const [name, us] of [...byOurFunction].sort((a, b) => b[1] - a[1]).slice(0, 15))
  console.log(`  ${perOp(us).padStart(7)}  ${name}`);
console.log('\nby leaf frame under our code (µs/op):');
for (const [name, us] of [...byCallee].sort((a, b) => b[1] - a[1]).slice(0, 20))
  console.log(`  ${perOp(us).padStart(7)}  ${name}`);
process.exit(0);
