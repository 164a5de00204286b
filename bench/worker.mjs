// One bench process: one suite (core, trpc, graphql) in one variant. The parent (bench/run.mjs) tells it
// over IPC which scenario to run and for how many operations; it answers with wall and CPU time.
// Auto-instrumentation patches modules as they load, which is why every variant has its own process.
// With BENCH_COUNT_CALLS=1 it is a counting process: the OpenTelemetry globals are wrapped to count the
// calls our code makes and the calls of our own functions are counted (bench/lib/count.mjs), and it answers
// `count` requests; never timed.
import { countOwnFunctionCalls, createCounters } from './lib/count.mjs';
import { setupOtel } from './lib/otel.mjs';
import { ownedCode } from './lib/profile.mjs';

const [suiteName, variant] = process.argv.slice(2);
const send = (message) => process.send(message);
// Never outlive the parent: without it, the server would keep this process alive.
process.on('disconnect', () => process.exit());

try {
  const suiteModule = await import(`./suites/${suiteName}.mjs`);
  const spec = suiteModule.variants[variant];
  if (!spec) throw new Error(`unknown variant ${variant} for suite ${suiteName}`);
  // Our variants' calls and samples are our compiled files'; the floor variants', bench/lib/floor.mjs's.
  const own = ownedCode(spec);
  const counting = process.env.BENCH_COUNT_CALLS === '1';
  const counters = counting ? createCounters(own) : undefined;
  const functionCalls = counting ? await countOwnFunctionCalls(own) : undefined;
  const otel = await setupOtel(spec.instrument, { counters, metrics: spec.metrics === true });
  // Loaded after the instrumentations are registered, so that they can patch what it imports.
  const { drive, driveSync } = await import('./lib/drive.mjs');
  const suite = await suiteModule.createSuite({ variant, otel });

  const run = (scenario, ops) =>
    scenario.sync ? driveSync(scenario.fn, ops, otel.callerContext) : drive(scenario, ops, otel.callerContext);

  process.on('message', async (message) => {
    try {
      if (message.type === 'run') {
        const scenario = suite.scenarios[message.scenario];
        // Each measurement starts with a clean heap: no garbage left by the one before it.
        globalThis.gc?.();
        const spans0 = await otel.spanCount();
        const records0 = await otel.histogramRecords();
        const joined0 = otel.joined();
        const result = await run(scenario, message.ops);
        const spans = (await otel.spanCount()) - spans0;
        // With a MeterProvider (the metrics variant): the histogram records the measurement made.
        const records1 = await otel.histogramRecords();
        const histograms = records1 === undefined ? {} : { histogramRecords: records1 - records0 };
        send({
          type: 'result',
          scenario: message.scenario,
          ...result,
          spans,
          joined: otel.joined() - joined0,
          ...histograms,
        });
      } else if (message.type === 'memory') {
        const scenario = suite.scenarios[message.scenario];
        send({ type: 'memory', samples: await measureMemory(scenario, message.checkpoints) });
      } else if (message.type === 'profile') {
        const { profileRun } = await import('./lib/profile.mjs');
        const scenario = suite.scenarios[message.scenario];
        send({ type: 'profile', profile: await profileRun(() => run(scenario, message.ops), { own }) });
      } else if (message.type === 'count') {
        if (!counters) throw new Error('not a counting process (BENCH_COUNT_CALLS=1)');
        const scenario = suite.scenarios[message.scenario];
        // One-off work (caches filled by the first operations) is not what an operation costs.
        await run(scenario, message.warmup);
        counters.take();
        await functionCalls.take();
        const { ops } = await run(scenario, message.ops);
        send({ type: 'count', ops, counts: { ...counters.take(), functions: (await functionCalls.take()).calls } });
      } else if (message.type === 'exit') {
        await suite.close?.();
        await otel.shutdown();
        process.disconnect();
      }
    } catch (error) {
      send({ type: 'error', error: String(error?.stack ?? error) });
    }
  });
  send({
    type: 'ready',
    memory: suite.memory ?? [],
    scenarios: Object.fromEntries(
      Object.entries(suite.scenarios).map(([name, s]) => [
        name,
        { label: s.label, short: s.short ?? s.label, opsPerCall: s.opsPerCall ?? 1 },
      ]),
    ),
  });

  /** Heap (after a full GC) at each checkpoint: a number of operations since the memory run began. */
  async function measureMemory(scenario, checkpoints) {
    const samples = [];
    let done = 0;
    for (const checkpoint of checkpoints) {
      if (checkpoint > done) done += (await run(scenario, checkpoint - done)).ops;
      await otel.spanCount();
      for (let i = 0; i < 3; i++) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      samples.push({ ops: done, heapUsed: process.memoryUsage().heapUsed });
    }
    return samples;
  }
} catch (error) {
  send({ type: 'error', fatal: true, error: String(error?.stack ?? error) });
  process.exitCode = 1;
  process.disconnect();
}
