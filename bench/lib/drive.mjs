// Closed-loop driver: runs `calls` calls of one scenario with `concurrency` loops in flight and
// measures wall time and this process's CPU time (client and server both live in this process).
import { context } from '@opentelemetry/api';

/**
 * @param {{ call: () => Promise<unknown>, opsPerCall: number, concurrency: number }} scenario
 * @param {number} ops operations wanted; rounded up to whole calls
 * @param {import('@opentelemetry/api').Context} callerContext the context every call starts in
 */
export async function drive(scenario, ops, callerContext) {
  const calls = Math.max(1, Math.ceil(ops / scenario.opsPerCall));
  let started = 0;
  const loop = async () => {
    while (started < calls) {
      started++;
      await context.with(callerContext, scenario.call);
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(scenario.concurrency, calls) }, loop));
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { ops: calls * scenario.opsPerCall, wallNs, cpuUs: cpu.user + cpu.system };
}

/** Synchronous variant for the core micro-benchmark: `fn` is one operation. */
export function driveSync(fn, ops, callerContext) {
  return context.with(callerContext, () => {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) fn();
    const wallNs = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    return { ops, wallNs, cpuUs: cpu.user + cpu.system };
  });
}
