import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setupTracing } from './support/otel.js';
import { makeRouter, type Seen, type Servers, startServers } from './trpc-harness.js';

let servers: Servers;
beforeAll(async () => {
  setupTracing();
  // No server spans: each procedure must see exactly the CLIENT span of its own operation.
  servers = await startServers(makeRouter({ spans: false }));
});
afterAll(async () => {
  await servers.close();
});

interface LinkOutput {
  results: Seen[];
  callers: Record<number, string>;
  spans: { spanId: string; parentSpanId?: string; kind: number }[];
}

it('captures each operation synchronously: a context manager that forgets across await still gets every operation right', async () => {
  const script = fileURLToPath(new URL('./trpc-browser-client.mjs', import.meta.url));
  const n = 50;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [script, JSON.stringify({ httpUrl: servers.standaloneUrl, wsUrl: servers.wsUrl, n })],
    { timeout: 50_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const output = JSON.parse(stdout) as Record<string, LinkOutput>;
  expect(Object.keys(output)).toEqual([
    'httpLink',
    'httpBatchLink',
    'httpBatchStreamLink',
    'httpSubscriptionLink',
    'wsLink',
  ]);
  for (const [name, { results, callers, spans }] of Object.entries(output)) {
    const clientSpans = new Map(spans.filter((span) => span.kind === 2).map((span) => [span.spanId, span]));
    const wrong = results.filter((result) => clientSpans.get(result.spanId)?.parentSpanId !== callers[result.i]);
    expect({ name, wrong: wrong.map((result) => result.i) }).toEqual({ name, wrong: [] });
    expect(new Set(results.map((result) => result.i)).size).toBe(n);
  }
});
