// Samples the CPU while a scenario runs and measures how much of it is otel-rpc-context's own work.
//
// Every sample is attributed to the nearest frame up its stack that is neither OpenTelemetry nor Node.js
// internals: when that frame is in otel-rpc-context, the sample is our cost (including the OpenTelemetry
// and Node calls we make: inject, extract, context.with, span creation); otherwise it belongs to the app,
// tRPC, GraphQL or HTTP. Our share of the main thread's busy samples is a direct measurement of what
// our code costs, much less sensitive to the run-to-run noise that limits throughput ratios to a few
// percent on a shared 2-core machine: a CPU-bound server would run at (1 - share) of its throughput.
//
// Our µs per operation are that share times the main thread's CPU time per operation
// (process.threadCpuUsage, Node.js >= 23.9). The sampler ticks in wall time: on a loaded machine the main
// thread waits, runnable, for a core between its slices, and every tick in that wait lands on the frame it
// was preempted in and counts as busy. Shares stay fair (a frame is preempted about as often as it runs),
// but the wall time per operation grows with the machine's load: share × wall time charged our code for
// the time other processes ran (up to 3× our CPU time at a load of 6 on 2 cores). Without threadCpuUsage
// (older Node.js) the figures fall back to share of all samples × wall time, as before.
//
// "Our code" is a folder or a single file (`own`): otel-rpc-context's compiled files for our variants, and
// bench/lib/floor.mjs for the floor variants, whose µs/op are then the floor's own, measured the same way.
import { statSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ownDir } from './own.mjs';

const FLOOR_FILE = fileURLToPath(new URL('./floor.mjs', import.meta.url));

/**
 * The code a variant's profile and call counts are charged to: bench/lib/floor.mjs for the floor variants
 * (a suite's variant with `floor`), otel-rpc-context's compiled files for every other.
 * @param {{ floor?: unknown }} spec the suite's variant
 */
export function ownedCode(spec) {
  return spec.floor ? FLOOR_FILE : ownDir();
}

/**
 * @param {() => Promise<{ ops: number, wallNs: number, cpuUs: number }>} run the measured work
 * @param {{ intervalUs?: number, top?: number, own?: string }} [options] `own`: the folder or file whose
 *   frames count as ours (default: our compiled files, {@link ownDir})
 * @returns our share of the busy samples, and per-operation µs (the main thread's CPU time × our share of
 *   its busy samples): wall, CPU, ours, ours by function and by leaf frame
 */
// 500 µs: at 100 µs the sampler's own stack walks slow a deep GraphQL execution by half and skew the shares.
export async function profileRun(run, { intervalUs = 500, top = 10, own = ownDir() } = {}) {
  const ownUrl = pathToFileURL(own).href;
  // Frames are named relative to the owned folder (a file's own folder, for a single file).
  const nameBase = statSync(own).isDirectory() ? ownUrl : pathToFileURL(path.dirname(own)).href;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  const threadCpu = typeof process.threadCpuUsage === 'function' ? () => process.threadCpuUsage() : undefined;
  await session.post('Profiler.start');
  const mainCpu0 = threadCpu?.();
  let result;
  let profile;
  let mainCpu;
  try {
    result = await run();
  } finally {
    mainCpu = mainCpu0 && threadCpu();
    ({ profile } = await session.post('Profiler.stop'));
    await session.post('Profiler.disable');
    session.disconnect();
  }

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const isOurs = (url) => url.startsWith(ownUrl);
  // Frames we may have caused by calling them: OpenTelemetry, the AsyncLocalStorage machinery behind
  // context.with, and natives (RegExp, Map, JSON) that belong to whoever called them. Every other frame,
  // Node's own (undici, http, streams) included, ends the walk: that work is not ours.
  const isInfra = (url) =>
    url === '' ||
    url.includes('/node_modules/@opentelemetry/') ||
    url.startsWith('node:internal/async_context_frame') ||
    url.startsWith('node:internal/async_local_storage') ||
    url.startsWith('node:async_hooks') ||
    url.startsWith('node:internal/async_hooks');
  const name = (frame) => {
    const file = isOurs(frame.url) ? frame.url.slice(nameBase.length + 1) : frame.url.split('/').slice(-2).join('/');
    return `${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`;
  };

  const byFunction = new Map();
  const byLeaf = new Map();
  let sampled = 0;
  let busy = 0;
  let ours = 0;
  let calls = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // Every sample counts once. The recorded gaps between samples are not used: a gap spans whatever
    // stopped the sampler (a GC pause, the OS running another process) and would be charged to the
    // frame that happens to run when sampling resumes.
    const dt = 1;
    sampled += dt;
    const leaf = nodes.get(profile.samples[i]);
    if (leaf.callFrame.functionName !== '(idle)') busy += dt;
    let id = leaf.id;
    while (id !== undefined && isInfra(nodes.get(id).callFrame.url)) id = parent.get(id);
    if (id === undefined || !isOurs(nodes.get(id).callFrame.url)) continue;
    ours += dt;
    const owner = name(nodes.get(id).callFrame);
    byFunction.set(owner, (byFunction.get(owner) ?? 0) + dt);
    if (leaf.id !== id) calls += dt;
    const callee = leaf.id === id ? '(own code)' : name(leaf.callFrame);
    byLeaf.set(callee, (byLeaf.get(callee) ?? 0) + dt);
  }
  // Shares of the busy samples, turned into µs with the main thread's CPU time per operation (else shares of
  // all samples with the wall time, where threadCpuUsage is missing).
  const wallUs = result.wallNs / 1000 / result.ops;
  const mainCpuUs = mainCpu
    ? (mainCpu.user + mainCpu.system - mainCpu0.user - mainCpu0.system) / result.ops
    : undefined;
  const perOp = (count) => {
    if (mainCpuUs !== undefined) return busy > 0 ? (count / busy) * mainCpuUs : Number.NaN;
    return sampled > 0 ? (count / sampled) * wallUs : Number.NaN;
  };
  // The figure the old method gave (share of all samples × wall time), to compare runs across the change.
  const wallBasedUs = sampled > 0 ? (ours / sampled) * wallUs : Number.NaN;
  const ranked = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, us]) => ({ where, us: perOp(us) }));
  return {
    ops: result.ops,
    wallUs,
    cpuUs: result.cpuUs / result.ops,
    /** The main thread's CPU time per operation while profiled: what our µs are a share of (when measured). */
    mainCpuUs,
    /** Our µs per operation by the method before main-thread CPU time (share of all samples × wall time). */
    wallBasedUs,
    samples: sampled,
    /** Samples attributed to our code: the profile's precision (relative error about 1/√oursSamples). */
    oursSamples: ours,
    oursUs: perOp(ours),
    /** Main-thread time that was not idle, per operation (its CPU time, when measured): the work our share is a part of. */
    busyUs: perOp(busy),
    /** Our share of the main thread's work (GC included in the whole, not in our part). */
    share: busy > 0 ? ours / busy : Number.NaN,
    /**
     * The part of our share spent inside OpenTelemetry and Node.js calls we make (inject, extract,
     * context.with, spans): what would remain if our own code cost nothing.
     */
    callsShare: busy > 0 ? calls / busy : Number.NaN,
    byFunction: ranked(byFunction),
    byLeaf: ranked(byLeaf),
  };
}
