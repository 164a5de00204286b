// `npm run bench`: every scenario and variant interleaved in one run, one process per variant.
//
// Each (suite, variant) pair runs in its own child process (bench/worker.mjs), because HTTP and GraphQL
// auto-instrumentation patch modules as they load. All processes start first and stay up; then every
// round runs each scenario once in every variant process, one process at a time, in an order that
// rotates from round to round. Ratios are taken within a round and summarised over rounds.
//
// Before anything of its own starts, it checks that the machine is quiet (bench/lib/machine.mjs: 1-minute
// load average, CPU steal over 2 s). A full run waits up to BENCH_WAIT_QUIET seconds (default 300) for a
// busy machine to calm down; a run that still starts busy says so at the top of BENCHMARKS.md and leaves
// the README's bench section as it was.
//
// BENCH_QUICK=1   smoke run: tiny counts, writes to the OS temp folder, leaves BENCHMARKS.md and README alone
// BENCH_ROUNDS, BENCH_TARGET_MS, BENCH_SUITES=core,trpc,graphql,apollo-server, BENCH_OUT=path, BENCH_WAIT_QUIET=seconds
//   override the defaults
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkMachine, describeCheck } from './lib/machine.mjs';
import { findBenchSection, renderReport, updateBenchSection } from './report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const quick = process.env.BENCH_QUICK === '1';

const config = {
  quick,
  rounds: Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 16)),
  // Each measurement (one scenario, one variant, one round) runs about this long in the baseline.
  targetMs: Number(process.env.BENCH_TARGET_MS ?? (quick ? 40 : 300)),
  // Heap after a full GC at `memoryCheckpoints` points of a run of up to `memoryOps` operations per scenario,
  // fewer where that would take longer than about `memoryBudgetMs` in the baseline (field-heavy queries).
  memoryOps: quick ? 3_000 : 100_000,
  memoryCheckpoints: quick ? 3 : 10,
  memoryBudgetMs: quick ? 300 : 15_000,
  memoryVariants: ['baseline', 'ours-nospans', 'ours-spans', 'ours-metrics'],
  // Counting processes (bench/lib/count.mjs): OpenTelemetry calls our code makes per operation.
  countVariants: quick ? ['ours-spans'] : ['ours-nospans', 'ours-spans'],
  // After the rounds, our variants run each scenario once more under the sampling profiler; so do the floor
  // variants, whose samples are charged to bench/lib/floor.mjs: the floor's µs/op in the same app.
  profileVariants: ['ours-nospans', 'ours-spans', 'ours-metrics', 'floor', 'floor-spans'],
  // Each profile runs this many times a measurement's operations (about 2 s: some thousands of samples).
  profileScale: quick ? 1 : 7,
  suites: (process.env.BENCH_SUITES ?? 'core,trpc,graphql,apollo-server').split(',').filter(Boolean),
  requestTimeoutMs: 180_000,
  // How long a full run waits for a busy machine to become quiet before it starts anyway (and says so).
  waitQuietS: Number(process.env.BENCH_WAIT_QUIET ?? (quick ? 0 : 300)),
};
const out = path.resolve(process.env.BENCH_OUT ?? (quick ? path.join(os.tmpdir(), 'otel-rpc-context-bench') : root));

const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

class VariantProcess {
  constructor(suite, variant, env = {}) {
    this.suite = suite;
    this.variant = variant;
    this.env = env;
    this.inbox = [];
    this.waiters = [];
  }

  start() {
    this.child = fork(path.join(here, 'worker.mjs'), [this.suite, this.variant], {
      cwd: root,
      execArgv: [
        '--expose-gc',
        '--max-old-space-size=2048',
        ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...this.env },
    });
    // A send to a process that has just exited fails asynchronously; the 'exit' handler deals with it.
    this.child.on('error', () => {});
    this.child.on('message', (message) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(message);
      else this.inbox.push(message);
    });
    this.child.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`process exited with code ${code}`));
    });
    return this.next();
  }

  next() {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift());
    if (this.exited) return Promise.reject(new Error('process has exited'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer in time')), config.requestTimeoutMs);
      this.waiters.push({
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  async request(message) {
    this.child.send(message);
    const answer = await this.next();
    if (answer.type === 'error') throw new Error(answer.error);
    return answer;
  }

  async stop() {
    if (this.exited || !this.child) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    try {
      if (this.child.connected) this.child.send({ type: 'exit' });
    } catch {}
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/**
 * What a variant is, for the report: the reference, the A/A control, ours, ours with metrics on, an empty
 * stand-in, the OpenTelemetry floor (bench/lib/floor.mjs), or an anchor (a competitor ours is judged
 * against). A suite may say it with `role`.
 */
const roleOf = (variant, spec) =>
  spec.role ??
  (variant === 'baseline'
    ? 'baseline'
    : spec.control
      ? 'control'
      : spec.ours
        ? 'ours'
        : spec.empty
          ? 'empty'
          : spec.floor
            ? 'floor'
            : 'anchor');

/**
 * Checks the machine before the bench starts anything; a full run waits (up to `waitQuietS`) for a busy
 * machine to become quiet. Returns the last check.
 */
async function quietMachine() {
  const deadline = Date.now() + config.waitQuietS * 1000;
  let check = await checkMachine();
  while (!check.quiet && Date.now() < deadline) {
    log(`machine busy (${check.reasons.join('; ')}); waiting for it to settle (until BENCH_WAIT_QUIET runs out)`);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    check = await checkMachine();
  }
  log(`machine check: ${describeCheck(check)}: ${check.quiet ? 'quiet' : `BUSY (${check.reasons.join('; ')})`}`);
  return check;
}
const perOpMs = (result) => result.wallNs / 1e6 / result.ops;

function versions() {
  const names = [
    '@opentelemetry/api',
    '@opentelemetry/sdk-trace-node',
    '@opentelemetry/sdk-trace-base',
    '@opentelemetry/context-async-hooks',
    '@opentelemetry/sdk-metrics',
    '@trpc/server',
    '@trpc/client',
    'graphql',
    'graphql-yoga',
    '@apollo/client',
    'graphql-ws',
    'ws',
    'eventsource',
    '@envelop/opentelemetry',
    '@graphql-hive/plugin-opentelemetry',
    '@opentelemetry/instrumentation',
    '@opentelemetry/instrumentation-http',
    '@opentelemetry/instrumentation-undici',
    '@opentelemetry/instrumentation-graphql',
  ];
  const read = (name) =>
    JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const packages = Object.fromEntries(names.map((name) => [name, read(name)]));
  const own = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
  } catch {}
  return { self: { name: own.name, version: own.version, commit, srcDirty: dirty }, packages };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
  };
}

/**
 * Compiles src/ into a private folder for the workers, so that a concurrent `npm run build` (which
 * deletes dist/) cannot break a run, and the figures are for the source as it is now.
 */
function buildOwn() {
  const dist = path.join(root, 'node_modules', '.cache', 'otel-rpc-context-bench');
  if (process.env.BENCH_NO_BUILD === '1') return undefined;
  rmSync(dist, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--outDir', path.join(dist, 'esm'), '--declaration', 'false', '--declarationMap', 'false'];
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags, '--sourceMap', 'false'], {
    cwd: root,
    stdio: 'inherit',
  });
  writeFileSync(path.join(dist, 'package.json'), '{ "type": "module" }\n');
  return path.join(dist, 'esm');
}

async function main() {
  // First, before the build and the bench processes add load of their own.
  const machineCheck = await quietMachine();
  const started = new Date();
  const own = buildOwn();
  if (own) process.env.OTEL_RPC_CONTEXT_BENCH_DIST = own;
  log(
    `${quick ? 'quick' : 'full'} run: ${config.rounds} rounds, ~${config.targetMs} ms per measurement, suites ${config.suites.join(', ')}`,
  );
  const loadBefore = machineCheck.loadAverage;
  const roundLoads = [];

  // 1. Start every variant process of every suite.
  const suites = {};
  for (const suiteName of config.suites) {
    const { variants } = await import(`./suites/${suiteName}.mjs`);
    const suite = { variants: {}, scenarios: undefined, failed: {} };
    // The variants of a suite start at once (nothing is measured yet) and are recorded in their order.
    const started = await Promise.all(
      Object.entries(variants).map(async ([variant, spec]) => {
        const processHandle = new VariantProcess(suiteName, variant);
        try {
          const ready = await processHandle.start();
          if (ready.type !== 'ready') throw new Error(ready.error ?? `unexpected ${ready.type}`);
          log(`started ${suiteName}/${variant}`);
          return { variant, spec, processHandle, ready };
        } catch (error) {
          await processHandle.stop();
          return { variant, spec, error };
        }
      }),
    );
    for (const { variant, spec, processHandle, ready, error } of started) {
      if (error) {
        suite.failed[variant] = { label: spec.label, reason: String(error.message ?? error).split('\n')[0] };
        log(`could not start ${suiteName}/${variant}: ${suite.failed[variant].reason}`);
        continue;
      }
      suite.scenarios ??= ready.scenarios;
      suite.memory ??= ready.memory;
      suite.variants[variant] = {
        label: spec.label,
        short: spec.short ?? spec.label,
        control: spec.control === true,
        role: roleOf(variant, spec),
        process: processHandle,
      };
    }
    if (suite.scenarios) suites[suiteName] = suite;
  }

  const all = () => Object.entries(suites).flatMap(([, s]) => Object.values(s.variants));
  // A full run measures one process at a time; a smoke run's figures mean nothing, so there the suites run
  // side by side (two cores: about half the time).
  const forEachSuite = async (fn) => {
    if (quick) await Promise.all(Object.entries(suites).map(fn));
    else for (const entry of Object.entries(suites)) await fn(entry);
  };
  const records = {};
  const fail = (suiteName, variant, error) => {
    const suite = suites[suiteName];
    const entry = suite.variants[variant];
    if (!entry) return;
    suite.failed[variant] = { label: entry.label, reason: String(error.message ?? error).split('\n')[0] };
    delete suite.variants[variant];
    log(`${suiteName}/${variant} failed: ${String(error.message ?? error)}`);
    entry.process.stop();
  };

  try {
    // 2. Warm up every process and size each scenario so that a measurement takes ~targetMs.
    const opsFor = {};
    const baselineMs = {};
    await forEachSuite(async ([suiteName, suite]) => {
      opsFor[suiteName] = {};
      baselineMs[suiteName] = {};
      for (const [scenario, info] of Object.entries(suite.scenarios)) {
        const perOp = {};
        for (const variant of Object.keys(suite.variants)) {
          let ops = info.opsPerCall * (quick ? 2 : 8);
          try {
            for (let attempt = 0; attempt < 12; attempt++) {
              const result = await suite.variants[variant].process.request({ type: 'run', scenario, ops });
              perOp[variant] = perOpMs(result);
              // Long enough: done, unless it was the first run, which pays one-off costs (compilation,
              // first-use set-up) that would size the scenario far too small; then once more, same size.
              if (result.wallNs / 1e6 < config.targetMs / 2) ops *= 2;
              else if (attempt > 0 || quick) break;
            }
          } catch (error) {
            fail(suiteName, variant, error);
          }
        }
        const reference = perOp.baseline ?? Math.min(...Object.values(perOp));
        baselineMs[suiteName][scenario] = reference;
        const calls = Math.max(1, Math.round(config.targetMs / reference / info.opsPerCall));
        opsFor[suiteName][scenario] = calls * info.opsPerCall;
        log(`warmed ${suiteName}/${scenario}: ${opsFor[suiteName][scenario]} ops per measurement`);
      }
    });

    // 3. Interleaved rounds.
    for (let round = 0; round < config.rounds; round++) {
      await forEachSuite(async ([suiteName, suite]) => {
        records[suiteName] ??= {};
        const scenarioNames = rotate(Object.keys(suite.scenarios), round);
        for (const scenario of scenarioNames) {
          records[suiteName][scenario] ??= {};
          for (const variant of rotate(Object.keys(suite.variants), round)) {
            const entry = suite.variants[variant];
            if (!entry) continue;
            try {
              const result = await entry.process.request({ type: 'run', scenario, ops: opsFor[suiteName][scenario] });
              records[suiteName][scenario][variant] ??= [];
              records[suiteName][scenario][variant].push({ round, ...result });
            } catch (error) {
              fail(suiteName, variant, error);
            }
          }
        }
      });
      roundLoads.push(os.loadavg()[0]);
      log(`round ${round + 1}/${config.rounds} done (load ${os.loadavg()[0].toFixed(2)})`);
    }

    // 4. Memory: heap after a full GC at checkpoints up to memoryOps operations.
    // The variants of one scenario run at once, each in its own process: heap sizes do not depend on
    // the CPU they share, and it halves the time this phase takes.
    const memory = {};
    await forEachSuite(async ([suiteName, suite]) => {
      // A smoke run checks that the memory run works on one scenario per suite; a full run measures each.
      for (const scenario of quick ? suite.memory.slice(0, 1) : suite.memory) {
        const { ops, checkpoints } = memoryPlan(suite.scenarios[scenario].opsPerCall, baselineMs[suiteName][scenario]);
        await Promise.all(
          config.memoryVariants.map(async (variant) => {
            const entry = suite.variants[variant];
            if (!entry) return;
            try {
              const answer = await entry.process.request({
                type: 'memory',
                scenario,
                ops,
                checkpoints,
              });
              memory[suiteName] ??= {};
              memory[suiteName][scenario] ??= {};
              memory[suiteName][scenario][variant] = answer.samples;
              const heap = answer.samples.map((s) => `${s.ops}→${(s.heapUsed / 2 ** 20).toFixed(1)} MiB`);
              log(`memory ${suiteName}/${scenario}/${variant}: ${heap.join(', ')}`);
            } catch (error) {
              log(`memory ${suiteName}/${scenario}/${variant} failed: ${error.message}`);
            }
          }),
        );
      }
    });

    // 5. Profiles: our own CPU per operation, measured directly.
    const profiles = {};
    await forEachSuite(async ([suiteName, suite]) => {
      for (const scenario of Object.keys(suite.scenarios)) {
        for (const variant of config.profileVariants) {
          const entry = suite.variants[variant];
          if (!entry) continue;
          try {
            const ops = opsFor[suiteName][scenario] * config.profileScale;
            const answer = await entry.process.request({ type: 'profile', scenario, ops });
            profiles[suiteName] ??= {};
            profiles[suiteName][scenario] ??= {};
            profiles[suiteName][scenario][variant] = answer.profile;
            const { share, oursUs } = answer.profile;
            log(
              `profile ${suiteName}/${scenario}/${variant}: ${(100 * share).toFixed(2)}% in ${entry.role === 'floor' ? 'floor.mjs' : 'our code'}, ${oursUs.toFixed(2)} µs/op`,
            );
          } catch (error) {
            log(`profile ${suiteName}/${scenario}/${variant} failed: ${error.message}`);
          }
        }
      }
    });

    // 6. Calls: how many inject, extract, context.with and startSpan our code makes per operation, in
    // counting processes of their own (counting captures a stack per call: never timed).
    const counts = {};
    await forEachSuite(async ([suiteName, suite]) => {
      for (const variant of config.countVariants) {
        if (!suite.variants[variant]) continue;
        const counter = new VariantProcess(suiteName, variant, { BENCH_COUNT_CALLS: '1' });
        try {
          const ready = await counter.start();
          if (ready.type !== 'ready') throw new Error(ready.error ?? `unexpected ${ready.type}`);
          for (const [scenario, info] of Object.entries(suite.scenarios)) {
            const ops = Math.max(info.opsPerCall * (quick ? 2 : 20), Math.min(opsFor[suiteName][scenario], 2_000));
            const answer = await counter.request({ type: 'count', scenario, ops, warmup: info.opsPerCall * 2 });
            counts[suiteName] ??= {};
            counts[suiteName][scenario] ??= {};
            counts[suiteName][scenario][variant] = { ops: answer.ops, counts: answer.counts };
            const perOp = Object.entries(answer.counts).map(([name, n]) => `${name} ${(n / answer.ops).toFixed(2)}`);
            log(`calls ${suiteName}/${scenario}/${variant} per op: ${perOp.join(', ')}`);
          }
        } catch (error) {
          log(`counting ${suiteName}/${variant} failed: ${String(error.message ?? error).split('\n')[0]}`);
        } finally {
          await counter.stop();
        }
      }
    });

    const results = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machineCheck,
      loadAverage: { before: loadBefore, rounds: roundLoads, after: os.loadavg() },
      config,
      machine: machine(),
      versions: versions(),
      suites: Object.fromEntries(
        Object.entries(suites).map(([name, suite]) => [
          name,
          {
            scenarios: suite.scenarios,
            variants: Object.fromEntries(
              Object.entries(suite.variants).map(([v, e]) => [
                v,
                { label: e.label, short: e.short, control: e.control, role: e.role },
              ]),
            ),
            failed: suite.failed,
            opsPerMeasurement: opsFor[name],
            records: records[name] ?? {},
            memory: memory[name] ?? {},
            profiles: profiles[name] ?? {},
            counts: counts[name] ?? {},
          },
        ]),
      ),
    };

    mkdirSync(out, { recursive: true });
    const resultsPath = path.join(out, quick ? 'results-quick.json' : 'bench/results.json');
    mkdirSync(path.dirname(resultsPath), { recursive: true });
    writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
    // In the repository's own formatting, so that \`npm run lint\` stays green after a run.
    if (!quick) {
      try {
        const biome = path.join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
        execFileSync(process.execPath, [biome, 'format', '--write', resultsPath], { cwd: root, stdio: 'ignore' });
      } catch {
        log('could not format the results with biome; run `npx biome format --write` on them before committing');
      }
    }
    const { markdown, readmeSection, verdicts } = renderReport(results);
    const reportPath = path.join(out, quick ? 'BENCHMARKS.quick.md' : 'BENCHMARKS.md');
    writeFileSync(reportPath, markdown);
    log(`wrote ${path.relative(process.cwd(), reportPath) || reportPath} and ${resultsPath} in ${results.durationS} s`);
    if (quick || process.env.BENCH_OUT) {
      const sectionPath = path.join(out, quick ? 'README-section.quick.md' : 'README-section.md');
      writeFileSync(sectionPath, `${readmeSection}\n`);
      log(
        `README bench section not touched (${quick ? 'smoke run' : 'BENCH_OUT set'}); what it would get: ${sectionPath}`,
      );
    } else if (!machineCheck.quiet) {
      log(
        `README bench section left as it was: the machine was busy when the run started (${machineCheck.reasons.join('; ')}); BENCHMARKS.md says so at its top. Rerun on a quiet machine.`,
      );
    } else {
      const target = findBenchSection(root);
      if (!target) {
        log(
          'README bench section not written: no file has the <!-- section:bench --> … <!-- /section:bench --> markers',
        );
      } else {
        updateBenchSection(target, renderReport(results, { linkFrom: path.dirname(target) }).readmeSection);
        log(`wrote the bench section of ${path.relative(root, target)}`);
      }
    }
    for (const verdict of verdicts)
      log(`${verdict.met === true ? 'met   ' : verdict.met === false ? 'MISSED' : 'n/a   '} ${verdict.text}`);
  } finally {
    await Promise.all(all().map((entry) => entry.process.stop()));
  }
}

/**
 * Operations and heap checkpoints of one scenario's memory run: up to `memoryOps`, fewer where that would
 * take much longer than `memoryBudgetMs` in the baseline; whole calls, evenly spaced checkpoints.
 */
function memoryPlan(opsPerCall, baselineMsPerOp) {
  const byTime = Number.isFinite(baselineMsPerOp) ? config.memoryBudgetMs / baselineMsPerOp : config.memoryOps;
  const wanted = Math.max(opsPerCall * config.memoryCheckpoints, Math.min(config.memoryOps, byTime));
  const step = Math.max(1, Math.round(wanted / config.memoryCheckpoints / opsPerCall)) * opsPerCall;
  const checkpoints = Array.from({ length: config.memoryCheckpoints }, (_, i) => (i + 1) * step);
  return { ops: checkpoints.at(-1), checkpoints };
}

await main();
