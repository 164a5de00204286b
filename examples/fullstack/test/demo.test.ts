import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { startServerProcess } from '../scripts/server-process.ts';
import { ACTIONS } from '../shared/actions.ts';
import type { StoredTrace } from '../shared/spans.ts';

const demo = fileURLToPath(new URL('../scripts/demo.ts', import.meta.url));

async function runDemo(env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [demo], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

it('npm run demo drives every action headlessly, prints one whole trace per action and exits 0', async () => {
  const { code, output } = await runDemo();
  expect(code, output).toBe(0);
  for (const action of ACTIONS) {
    expect(output).toContain(`✔ ${action.group} ${action.label}:`);
    expect(output).toContain(`click: ${action.group} ${action.label}`);
  }
  expect(output).not.toContain('✘');
  expect(output).toContain(`demo: ${ACTIONS.length} actions, ${ACTIONS.length} complete traces`);
  // The trees: trace ids, client and server sides, database spans under resolvers.
  expect(output.match(/^trace [0-9a-f]{32}$/gm)).toHaveLength(ACTIONS.length);
  expect(output).toMatch(/^ {6}todo\.list +server +server/m);
  expect(output).toMatch(/^ {8}resolve Todo\.author +server/m);
  expect(output).toMatch(/^ {10}SELECT users +server +client/m);
}, 90_000);

it('with OTEL_EXPORTER_OTLP_ENDPOINT set, the server exports its spans and forwards the client spans there', async () => {
  // Any OTLP/HTTP JSON receiver will do as the collector: here, a second example server, printing its trees.
  const collector = await startServerProcess({ TRACE_TREES: '1' });
  try {
    const { code, output } = await runDemo({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.origin });
    expect(code, output).toBe(0);
    const complete = async () => {
      const traces = (await (await fetch(`${collector.origin}/api/traces`)).json()) as StoredTrace[];
      return traces.filter((trace) => {
        const services = new Set(trace.spans.map((span) => span.service));
        return (
          trace.name.startsWith('click:') &&
          services.has('fullstack-demo-client') &&
          services.has('fullstack-server') &&
          trace.spans.some((span) => span.attributes['db.system.name'] === 'sqlite')
        );
      }).length;
    };
    await expect.poll(complete, { timeout: 10_000 }).toBe(ACTIONS.length);
    // Its terminal: each finished trace as an indented tree, both sides in it.
    for (const action of ACTIONS) {
      await expect
        .poll(() => collector.output(), { timeout: 10_000 })
        .toContain(`── click: ${action.group} ${action.label} ·`);
    }
    expect(collector.output()).toMatch(/^ {6}query Todos +server +server/m);
  } finally {
    await collector.stop();
  }
}, 90_000);
