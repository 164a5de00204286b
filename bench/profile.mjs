// Where our CPU time goes in one bench scenario, in µs per operation.
//
//   node bench/profile.mjs <suite> <variant> <scenario> [ops]    e.g. node bench/profile.mjs trpc ours-nospans single 20000
//   BENCH_TOP=100 node bench/profile.mjs trpc ours-nospans single 400 --count    (all our functions called, by count)
//
// Runs the scenario in this process under the V8 sampling profiler and attributes every sample to the
// nearest frame up its stack that is not OpenTelemetry or Node.js internals (bench/lib/profile.mjs); our
// µs/op are our share of the busy samples times the main thread's CPU time per operation.
// Then a child process runs it again with counting wrappers around the OpenTelemetry globals
// (bench/lib/count.mjs) and prints how many inject, extract, context.with and startSpan calls our code
// makes per operation, and how many calls of our own functions it takes (`--count` runs only that part).
// `npm run bench` does both for our variants after its rounds and reports them in BENCHMARKS.md. For the
// OTel floor variants (`floor`, `floor-spans`) both measure bench/lib/floor.mjs instead: the floor's own
// µs/op and calls, to compare ours with.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COUNTED, countOwnFunctionCalls, createCounters } from './lib/count.mjs';
import { setupOtel } from './lib/otel.mjs';
import { ownedCode } from './lib/profile.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const countOnly = process.argv.includes('--count');
const [suiteName = 'trpc', variant = 'ours-nospans', scenarioName = 'single', opsArg = '20000'] = process.argv
  .slice(2)
  .filter((arg) => arg !== '--count');
const ops = Number(opsArg);

if (!process.env.OTEL_RPC_CONTEXT_BENCH_DIST) {
  const dist = path.join(root, 'node_modules', '.cache', 'otel-rpc-context-bench-profile');
  rmSync(dist, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--outDir', path.join(dist, 'esm'), '--declaration', 'false', '--declarationMap', 'false'];
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags], { cwd: root, stdio: 'inherit' });
  writeFileSync(path.join(dist, 'package.json'), '{ "type": "module" }\n');
  process.env.OTEL_RPC_CONTEXT_BENCH_DIST = path.join(dist, 'esm');
}

const suiteModule = await import(`./suites/${suiteName}.mjs`);
const spec = suiteModule.variants[variant];
if (!spec) throw new Error(`unknown variant ${variant} for suite ${suiteName}`);
// The floor variants' samples and calls are bench/lib/floor.mjs's; every other variant's, our compiled files'.
const own = ownedCode(spec);
const ownName = spec.floor ? 'bench/lib/floor.mjs' : 'otel-rpc-context';
const counters = countOnly ? createCounters(own) : undefined;
const functionCalls = countOnly ? await countOwnFunctionCalls(own) : undefined;
const otel = await setupOtel(spec.instrument, { counters, metrics: spec.metrics === true });
const { drive, driveSync } = await import('./lib/drive.mjs');
const { profileRun } = await import('./lib/profile.mjs');
const suite = await suiteModule.createSuite({ variant, otel });
const scenario = suite.scenarios[scenarioName];
const run = (n) =>
  scenario.sync ? driveSync(scenario.fn, n, otel.callerContext) : drive(scenario, n, otel.callerContext);

await run(Math.max(scenario.opsPerCall ?? 1, Math.round(ops / 4))); // warm-up

if (counters) {
  // Counting captures a stack per call: a few thousand operations give exact per-operation counts.
  counters.take();
  await functionCalls.take();
  const counted = await run(Math.max(scenario.opsPerCall ?? 1, Math.min(ops, 2_000)));
  const counts = counters.take();
  const calls = await functionCalls.take();
  console.log(`\nOpenTelemetry calls ${ownName} makes per operation (${counted.ops} ops counted):`);
  for (const name of COUNTED) console.log(`  ${(counts[name] / counted.ops).toFixed(2).padStart(7)}  ${name}`);
  console.log(
    `\ncalls of ${ownName}'s own functions per operation: ${(calls.calls / counted.ops).toFixed(2)}, most called:`,
  );
  const most = [...calls.byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.BENCH_TOP ?? 25));
  for (const [where, n] of most) console.log(`  ${(n / counted.ops).toFixed(2).padStart(7)}  ${where}`);
  await suite.close?.();
  await otel.shutdown();
  process.exit(0);
}
const records0 = await otel.histogramRecords();
const p = await profileRun(() => run(ops), { top: 15, own });
const records = (await otel.histogramRecords()) - records0;
await suite.close?.();
await otel.shutdown();

const us = (value) => value.toFixed(2).padStart(7);
const mainCpu = p.mainCpuUs === undefined ? '' : `, ${p.mainCpuUs.toFixed(1)} µs/op main-thread CPU`;
console.log(
  `${suiteName}/${variant}/${scenarioName}: ${p.ops} ops, ${p.wallUs.toFixed(1)} µs/op wall, ${p.cpuUs.toFixed(1)} µs/op CPU (process)${mainCpu}`,
);
console.log(
  `in ${ownName} (with the OpenTelemetry/Node calls it makes): ${(100 * p.share).toFixed(2)}% of the busy samples, ${p.oursUs.toFixed(2)} µs/op (${p.samples} samples)`,
);
if (p.mainCpuUs !== undefined) {
  console.log(
    `  (µs/op = share × main-thread CPU per op; share of all samples × wall time, the method before, gives ${p.wallBasedUs.toFixed(2)})`,
  );
}
if (spec.metrics) console.log(`histogram records (MeterProvider registered): ${(records / p.ops).toFixed(3)} per op`);
else console.log('no MeterProvider registered: the duration histograms are no-ops');
console.log(`\nby function of ${ownName} (µs/op):`);
for (const row of p.byFunction) console.log(`  ${us(row.us)}  ${row.where}`);
console.log(`\nby leaf frame under ${ownName} (µs/op):`);
for (const row of p.byLeaf) console.log(`  ${us(row.us)}  ${row.where}`);
// The counts, in a process of their own: the counting wrappers would distort the profile above.
execFileSync(process.execPath, [fileURLToPath(import.meta.url), suiteName, variant, scenarioName, opsArg, '--count'], {
  stdio: 'inherit',
  env: process.env,
});
process.exit(0);
