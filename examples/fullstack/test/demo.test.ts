import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ACTIONS } from '../shared/actions.ts';

const demo = fileURLToPath(new URL('../scripts/demo.ts', import.meta.url));

it('npm run demo drives every action headlessly, prints one whole trace per action and exits 0', async () => {
  const child = spawn(process.execPath, [demo], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
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
