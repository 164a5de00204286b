// Instructions per operation, counted by valgrind: a deterministic companion to the CPU-time bench (#14).
//
//   node bench/instructions.mjs [trpc|graphql] [single|batch10]     (Node 24; valgrind from Debian)
//
// On a small shared VM, CPU-time ratios of two identical baselines differ by several percent, so effects
// of 2-5% are invisible. The number of instructions the process executes barely moves between runs when
// client and server share one process and no sockets (bench/lib/inprocess.mjs). Each scenario × variant
// runs in two child processes under cachegrind, both with the same warm-up of N operations, the second
// then with 5N more: the difference of their instruction counts over 5N is the instructions per
// operation, with start-up, module loading and warm-up cancelled out. Two children run at a time (one per core); the baseline runs
// twice, and the two must agree within 1%. Writes bench/instructions.json; bench/report.mjs renders it in
// BENCHMARKS.md. Cache and branch effects are not counted: in situ the same instructions cost more time
// than in this tight loop.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const OUT = path.join(here, 'instructions.json');

/** The variants measured, in the table's order; 'baseline-aa' is the baseline again, for repeatability. */
const VARIANTS = ['baseline', 'baseline-aa', 'empty', 'floor', 'ours-nospans', 'floor-spans', 'ours-spans'];
/** Two baselines further apart than this (relative) mean N is too small for the figures to be read. */
const REPEAT_LIMIT = 0.01;
/** Both runs warm up with N operations; the long run then does this many times N more. */
const LONG_FACTOR = 5;
/**
 * N per scenario, in operations. Start-up (Node, the modules, the warm-up) is most of a child's
 * instructions, about 3 billion of them and a minute under valgrind; the 5N operations that differ
 * between the two runs must outweigh what timers and GC move from run to run (the two baselines show it).
 */
const OPS = {
  // tRPC's batch: with two batches in flight, N = 300 left the two baselines 2.2% apart (bench/lib/inprocess.mjs).
  trpc: { single: 200, batch10: 600 },
  graphql: { single: 200, batch10: 300 },
};
const VALGRIND = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'];

/**
 * One child: warm up with `warm` operations of the scenario, then run `ops` more (none in the short run),
 * and print how many of those ran in their caller's trace and how many spans ended in all (the
 * propagation check), for the parent.
 */
async function child([suite, variant, scenarioName, warm, ops]) {
  const { setupOtel } = await import('./lib/otel.mjs');
  const { drive } = await import('./lib/drive.mjs');
  const { inProcessScenarios } = await import('./lib/inprocess.mjs');
  const otel = await setupOtel([]);
  const scenarios = await inProcessScenarios({
    suite,
    variant: variant === 'baseline-aa' ? 'baseline' : variant,
    otel,
  });
  const scenario = scenarios[scenarioName];
  const warmUp = await drive(scenario, Number(warm), otel.callerContext);
  const joined0 = otel.joined();
  // The short run stops after the warm-up: the long run's operations after it are the difference.
  const run = Number(ops) > 0 ? await drive(scenario, Number(ops), otel.callerContext) : { ops: 0 };
  const joined = otel.joined() - joined0;
  const spans = await otel.spanCount();
  const result = { ops: warmUp.ops + run.ops, measured: run.ops, joined, spans, label: scenario.label };
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

/** Builds src/ into a private folder (as bench/profile.mjs does), so a concurrent build cannot move dist/. */
function buildOwn() {
  const dist = path.join(root, 'node_modules', '.cache', 'otel-rpc-context-bench-instructions');
  rmSync(dist, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--outDir', path.join(dist, 'esm'), '--declaration', 'false', '--declarationMap', 'false'];
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags], { cwd: root, stdio: 'inherit' });
  writeFileSync(path.join(dist, 'package.json'), '{ "type": "module" }\n');
  return path.join(dist, 'esm');
}

/** Runs one child under cachegrind; resolves with its instruction count and its RESULT line. */
function countInstructions(env, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      'valgrind',
      [...VALGRIND, process.execPath, '--single-threaded', fileURLToPath(import.meta.url), '--child', ...args],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr);
      const result = /^RESULT (.*)$/m.exec(stdout);
      if (code !== 0 || !refs || !result) {
        reject(new Error(`child ${args.join(' ')} failed (exit ${code}):\n${stderr.slice(-2000)}`));
        return;
      }
      resolve({ ir: Number(refs[1].replaceAll(',', '')), ...JSON.parse(result[1]) });
    });
  });
}

/** Runs `jobs` (functions returning promises) at most `width` at a time, results in the jobs' order. */
async function pool(jobs, width) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

/** The commit measured, and whether src/ differs from it. */
function commitOf() {
  const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), srcDirty: git('status', '--porcelain', '--', 'src') !== '' };
  } catch {
    return { commit: 'unknown', srcDirty: false };
  }
}

const int = (value) => Math.round(value).toLocaleString('en-US');
const signed = (value) => `${value >= 0 ? '+' : '−'}${int(Math.abs(value))}`;
const pct = (value) => `${value >= 0 ? '+' : '−'}${Math.abs(100 * value).toFixed(2)}%`;

/**
 * The figures of one scenario: instructions per operation of each variant, and ours above the floor
 * (absolute and as a share of the baseline), without and with spans.
 */
function summarise(perOp) {
  const base = perOp.baseline;
  const gap = (ours, floor) => perOp[ours] - perOp[floor];
  const nospans = gap('ours-nospans', 'floor');
  const spans = gap('ours-spans', 'floor-spans');
  return {
    repeat: Math.abs(perOp['baseline-aa'] - base) / base,
    oursOverFloor: { nospans, spans, nospansOfBaseline: nospans / base, spansOfBaseline: spans / base },
  };
}

/** The scenarios of an earlier bench/instructions.json, each with the date and commit it was counted at. */
function earlierScenarios(results) {
  return Object.fromEntries(
    Object.entries(results.scenarios).map(([key, scenario]) => [
      key,
      { countedAt: results.date, commit: results.commit, ...scenario },
    ]),
  );
}

async function main(filter) {
  if (spawnSync('valgrind', ['--version']).error) {
    console.error('bench/instructions.mjs needs valgrind (the Debian package `valgrind`), and it is not installed.');
    process.exit(1);
  }
  const started = Date.now();
  const env = { ...process.env, OTEL_RPC_CONTEXT_BENCH_DIST: buildOwn() };
  const wanted = Object.entries(OPS).flatMap(([suite, scenarios]) =>
    Object.entries(scenarios)
      .filter(([scenario]) => filter.every((word) => word === suite || word === scenario))
      .map(([scenario, n]) => ({ suite, scenario, n })),
  );
  // A run of some scenarios only (`trpc batch10`) replaces those in bench/instructions.json, keeps the rest.
  const earlier = filter.length > 0 && existsSync(OUT) ? earlierScenarios(JSON.parse(readFileSync(OUT, 'utf8'))) : {};
  const { commit, srcDirty } = commitOf();
  const runs = [];
  const jobs = wanted.flatMap(({ suite, scenario, n }) =>
    VARIANTS.flatMap((variant) =>
      [0, LONG_FACTOR * n].map((ops) => async () => {
        const run = await countInstructions(env, [suite, variant, scenario, String(n), String(ops)]);
        process.stderr.write(`  ${suite}/${scenario}/${variant} ${n}+${ops} ops: ${int(run.ir)} instructions\n`);
        runs.push({ suite, scenario, variant, ...run });
        // Written as each scenario completes: a run cut short keeps the scenarios it finished.
        writeResults(false);
      }),
    ),
  );

  /** bench/instructions.json from the scenarios whose runs have all finished. */
  const writeResults = (complete) => {
    const counted = {};
    for (const { suite, scenario, n } of wanted) {
      const mine = runs.filter((r) => r.suite === suite && r.scenario === scenario);
      if (mine.length < 2 * VARIANTS.length) continue;
      const perOp = {};
      const variants = {};
      for (const variant of VARIANTS) {
        const [short, long] = mine.filter((r) => r.variant === variant).sort((a, b) => a.ops - b.ops);
        perOp[variant] = (long.ir - short.ir) / (long.ops - short.ops);
        variants[variant] = {
          perOp: perOp[variant],
          runs: [short, long].map(({ ops, measured, ir, joined, spans }) => ({ ops, measured, ir, joined, spans })),
        };
      }
      counted[`${suite}/${scenario}`] = {
        label: mine[0].label,
        countedAt: new Date(started).toISOString(),
        commit,
        n,
        warmUp: n,
        variants,
        ...summarise(perOp),
      };
    }
    // In OPS's order: this run's scenarios, else an earlier run's.
    const scenarios = {};
    for (const key of Object.entries(OPS).flatMap(([suite, s]) => Object.keys(s).map((name) => `${suite}/${name}`))) {
      const scenario =
        counted[key] ?? (wanted.some((w) => `${w.suite}/${w.scenario}` === key) ? undefined : earlier[key]);
      if (scenario) scenarios[key] = scenario;
    }
    const results = {
      date: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      complete,
      commit,
      srcDirty,
      node: process.version,
      valgrind: spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim(),
      command: `valgrind ${VALGRIND.join(' ')} node --single-threaded bench/instructions.mjs --child <suite> <variant> <scenario> <N> <0 or ${LONG_FACTOR}N>`,
      longFactor: LONG_FACTOR,
      repeatLimit: REPEAT_LIMIT,
      scenarios,
    };
    if (Object.keys(scenarios).length > 0) writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
    return results;
  };

  await pool(jobs, Math.max(1, Math.min(2, os.availableParallelism())));
  const results = writeResults(true);
  const { scenarios } = results;
  printTable(results);
  const unsteady = Object.entries(scenarios).filter(([, s]) => s.repeat > REPEAT_LIMIT);
  for (const [key, s] of unsteady) {
    console.log(`‼ ${key}: the two baselines differ by ${(100 * s.repeat).toFixed(2)}% (> 1%): raise N in OPS`);
  }
  console.log(`\nwrote ${path.relative(root, OUT)} in ${results.durationS} s`);
  if (unsteady.length > 0) process.exitCode = 1;
}

/** The table on the terminal: instructions per operation, then ours above the floor. */
function printTable(results) {
  const columns = ['baseline', 'baseline-aa', 'empty', 'floor', 'ours-nospans', 'floor-spans', 'ours-spans'];
  const rows = Object.entries(results.scenarios).map(([key, s]) => [
    key,
    ...columns.map((variant) => int(s.variants[variant].perOp)),
    `${signed(s.oursOverFloor.nospans)} (${pct(s.oursOverFloor.nospansOfBaseline)})`,
    `${signed(s.oursOverFloor.spans)} (${pct(s.oursOverFloor.spansOfBaseline)})`,
  ]);
  const header = ['scenario', ...columns, 'ours − floor', 'ours − floor, spans'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\ninstructions per operation (${results.node}, commit ${results.commit}):`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else await main(process.argv.slice(2));
