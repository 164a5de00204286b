/**
 * The example end to end in real Chromium (Debian's, driven by playwright-core): every action is clicked in
 * the page, and its trace, as the server collected it from the browser's OTLP export and its own SDK, must be
 * one tree: click span → link CLIENT span(s) → procedure / operation SERVER span(s) → resolvers → SQLite.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess } from '../scripts/server-process.ts';
import { ACTIONS } from '../shared/actions.ts';
import { checkActionTrace } from '../shared/check.ts';
import type { StoredTrace } from '../shared/spans.ts';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshotPath = process.env.UPDATE_SCREENSHOT
  ? join(exampleDir, 'screenshot.png')
  : join(repoRoot, 'test-results', 'example-waterfall.png');

let server: ServerProcess;
let browserContext: BrowserContext;
let page: Page;
let userDataDir: string;
const pageErrors: string[] = [];

async function fetchTrace(traceId: string): Promise<StoredTrace | undefined> {
  const res = await fetch(`${server.origin}/api/traces/${traceId}`);
  return res.ok ? ((await res.json()) as StoredTrace) : undefined;
}

beforeAll(async () => {
  // The project's own script installs Debian's chromium when it is missing (apt-get, as root).
  execFileSync('bash', [join(repoRoot, 'scripts/ensure-chromium.sh')], { stdio: 'inherit' });
  await build({ root: join(exampleDir, 'web'), configFile: join(exampleDir, 'vite.config.ts'), logLevel: 'warn' });
  server = await startServerProcess();
  userDataDir = mkdtempSync(join(tmpdir(), 'otel-rpc-context-chromium-'));
  browserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  page = browserContext.pages()[0] ?? (await browserContext.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${server.origin}/`);
  await page.locator('button[data-action="trpc-query"]').waitFor();
}, 600_000);

afterAll(async () => {
  await browserContext?.close();
  await server?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe('full-stack example in Chromium', () => {
  for (const action of ACTIONS) {
    it(`${action.group} ${action.label}: click → client → server → resolvers → database, one trace`, async () => {
      const runs = page.locator(`[data-testid="run"][data-action="${action.id}"]`);
      const before = await runs.count();
      await page.locator(`button[data-action="${action.id}"]`).click();
      await expect.poll(() => runs.count(), { timeout: 20_000 }).toBe(before + 1);
      const traceId = await runs.first().getAttribute('data-trace-id');
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const trace = await fetchTrace(traceId!);
      expect(checkActionTrace(action, trace), JSON.stringify(trace?.spans, null, 1)).toEqual([]);
      // The page checked the trace itself too before listing it.
      expect(await runs.first().getAttribute('data-ok')).toBe('true');

      const spans = trace!.spans;
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
      const click = spans.find((s) => s.name.startsWith('click:'))!;
      expect(click.service).toBe('fullstack-browser');
      expect(click.parentSpanId).toBeUndefined();
      // Every client span came from the browser; every server span's chain leads back to the click.
      for (const span of spans.filter((s) => s.side === 'client')) expect(span.service).toBe('fullstack-browser');
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      for (const span of spans) {
        let current = span;
        let hops = 0;
        while (current.parentSpanId && hops++ < 50) current = byId.get(current.parentSpanId)!;
        expect(current.spanId, `${span.name} leads back to the click`).toBe(click.spanId);
      }
      const dbSpans = spans.filter((s) => s.attributes['db.system.name'] === 'sqlite');
      expect(dbSpans.length).toBeGreaterThan(0);
      // The waterfall shows this trace.
      await expect.poll(() => page.locator('[data-testid="waterfall"]').getAttribute('data-trace-id')).toBe(traceId);
      expect(await page.locator('.wf-row[data-span-role]').count()).toBe(spans.length);
    }, 60_000);
  }

  it('shows the waterfall (screenshot) and logged no errors', async () => {
    // The batched GraphQL request: two operations in one HTTP request, each its own subtree.
    await page.locator('[data-testid="run"][data-action="graphql-batch"]').first().click();
    await expect
      .poll(() => page.locator('[data-testid="waterfall"]').getAttribute('data-action'))
      .toBe('graphql-batch');
    mkdirSync(join(screenshotPath, '..'), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
