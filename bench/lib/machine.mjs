// Is the machine quiet enough for a benchmark? Checked by bench/run.mjs before it starts anything of
// its own (the build, the bench processes): the 1-minute load average, and CPU steal (time a hypervisor
// gave this virtual machine's CPUs to someone else) and busy time sampled from /proc/stat.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** 1-minute load average above this many runnable processes per core: other work is running. */
export const LOAD_PER_CORE = 0.25;
/** Share of CPU time stolen by the hypervisor above which the run counts as busy. */
export const MAX_STEAL = 0.01;

/** Aggregate CPU counters from /proc/stat (clock ticks), or undefined where there is none (macOS, Windows). */
function cpuTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    if (!line.startsWith('cpu ')) return undefined;
    // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user and nice)
    const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { total, idle: idle + iowait, steal };
  } catch {
    return undefined;
  }
}

/**
 * Samples the machine over `sampleMs`: load average (read before sampling), steal and busy shares of all
 * CPU time in that window.
 * @returns {Promise<{ at: string, cores: number, loadAverage: number[], loadLimit: number, steal?: number,
 *   busy?: number, sampleMs: number, quiet: boolean, reasons: string[] }>}
 */
export async function checkMachine(sampleMs = 2000) {
  const cores = os.cpus().length;
  const loadAverage = os.loadavg();
  const before = cpuTicks();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = cpuTicks();
  let steal;
  let busy;
  if (before && after && after.total > before.total) {
    const total = after.total - before.total;
    steal = (after.steal - before.steal) / total;
    busy = 1 - (after.idle - before.idle) / total;
  }
  const loadLimit = LOAD_PER_CORE * cores;
  const reasons = [];
  if (loadAverage[0] > loadLimit)
    reasons.push(`1-minute load average ${loadAverage[0].toFixed(2)} > ${loadLimit.toFixed(2)} (${cores} cores)`);
  if (steal !== undefined && steal > MAX_STEAL)
    reasons.push(`CPU steal ${(100 * steal).toFixed(1)}% > ${(100 * MAX_STEAL).toFixed(0)}%`);
  return {
    at: new Date().toISOString(),
    cores,
    loadAverage,
    loadLimit,
    steal,
    busy,
    sampleMs,
    quiet: reasons.length === 0,
    reasons,
  };
}

/** One line for the log and the report. */
export function describeCheck(check) {
  const pct = (value) => (value === undefined ? 'not measured' : `${(100 * value).toFixed(1)}%`);
  return `load average ${check.loadAverage.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min), CPU steal ${pct(check.steal)}, CPU busy ${pct(check.busy)} over ${(check.sampleMs / 1000).toFixed(0)} s`;
}
