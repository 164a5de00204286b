// User actions in real Chromium (Debian's, driven by playwright-core): a React 19 page with TanStack Query 5
// over tRPC, Apollo Client 4's hooks and urql's hooks (test/action-browser/page.ts), the browser's
// StackContextManager, and real servers over loopback (tRPC with traceContextMiddleware, graphql-yoga with
// useTraceContext). Proves, from the spans both sides recorded:
// - page load with three hook queries: one page-load trace;
// - click → useMutation → success → invalidateQueries refetch: one trace, with its parentage;
// - two rapid overlapping clicks on different buttons: each click's operations under its own click span;
// - a polling query started outside any action, ticking while both clicks are open: never in their traces.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageState, RecordedSpan } from './action-browser/page.js';
import { startServer } from './action-browser/server.js';
import { setupTracing } from './support/otel.js';

const pageSource = fileURLToPath(new URL('./action-browser/', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

let tracing: ReturnType<typeof setupTracing>;
let server: Awaited<ReturnType<typeof startServer>>;
let browser: BrowserContext;
let page: Page;
const tempDirs: string[] = [];
const pageErrors: string[] = [];

const pageState = () =>
  page.evaluate(() => {
    const { spans, ended } = (window as unknown as { __page: PageState }).__page;
    return { spans: [...spans], ended: { ...ended } };
  });
const serverSpans = (): ReadableSpan[] => tracing.exporter.getFinishedSpans();
/** The SERVER span that ran the operation of this CLIENT span. */
const serverSpanOf = (client: RecordedSpan) =>
  serverSpans().find((span) => span.kind === SpanKind.SERVER && span.parentSpanContext?.spanId === client.spanId);

beforeAll(async () => {
  execFileSync('bash', [join(repoRoot, 'scripts/ensure-chromium.sh')], { stdio: 'inherit' });
  tracing = setupTracing();
  const outDir = mkdtempSync(join(tmpdir(), 'otel-rpc-context-action-page-'));
  tempDirs.push(outDir);
  await build({
    configFile: false,
    root: pageSource,
    logLevel: 'error',
    build: { outDir, emptyOutDir: true, minify: false, chunkSizeWarningLimit: 5_000 },
    resolve: { dedupe: ['@opentelemetry/api', 'react', 'react-dom', 'graphql', '@tanstack/react-query'] },
  });
  server = await startServer(outDir);
  const userDataDir = mkdtempSync(join(tmpdir(), 'otel-rpc-context-chromium-'));
  tempDirs.push(userDataDir);
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
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
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('user actions in Chromium', () => {
  it('page load with three hook queries (React Query, Apollo, urql): one page-load trace', async () => {
    await page.goto(`${server.origin}/`);
    await expect.poll(async () => (await pageState()).ended.page, { timeout: 15_000 }).toBe('idle');
    const { spans } = await pageState();
    const pageSpan = spans.find((span) => span.name === 'page load')!;
    expect(pageSpan.parentSpanId).toBeUndefined();
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    const names = ['post.latest', 'query Posts', 'query Stats'];
    expect(new Set(clients.map((span) => span.name)), JSON.stringify(spans)).toEqual(new Set(names));
    for (const client of clients) {
      expect(client.parentSpanId, client.name).toBe(pageSpan.spanId);
      expect(client.traceId, client.name).toBe(pageSpan.traceId);
    }
    // urql's hook may start an operation twice while React mounts (the first run superseded before it is
    // sent): every query reached its server once, in the page's trace, under its CLIENT span.
    for (const name of names) {
      const served = clients
        .filter((client) => client.name === name)
        .map(serverSpanOf)
        .filter(Boolean);
      expect(
        served.map((span) => span!.spanContext().traceId),
        name,
      ).toEqual([pageSpan.traceId]);
    }
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([pageSpan.traceId]));
  });

  it('two overlapping clicks and a poll: each click one trace (mutation, success, invalidation refetch), the poll in none', async () => {
    await page.evaluate(() => (window as unknown as { __page: PageState }).__page.startPolling());
    await expect
      .poll(async () => Number(await page.locator('#tick').textContent()), { timeout: 10_000 })
      .toBeGreaterThan(2);
    const before = (await pageState()).spans.length;
    // Two buttons, one right after the other: the tRPC mutation (600 ms on the server) and the Apollo one
    // (400 ms) are in flight together, while the poll ticks every 40 ms.
    // Real input events (each its own task, as a user's clicks are), without Playwright's actionability waits.
    const createBox = (await page.locator('#create').boundingBox())!;
    const renameBox = (await page.locator('#rename').boundingBox())!;
    await page.mouse.click(createBox.x + createBox.width / 2, createBox.y + createBox.height / 2);
    await page.mouse.click(renameBox.x + renameBox.width / 2, renameBox.y + renameBox.height / 2);
    await expect
      .poll(async () => (await pageState()).ended, { timeout: 15_000 })
      .toMatchObject({ create: 'timeout', rename: 'timeout' });
    await page.evaluate(() => (window as unknown as { __page: PageState }).__page.stopPolling());
    const spans = (await pageState()).spans.slice(before);

    const dump = JSON.stringify(spans);
    const create = spans.find((span) => span.name === 'click: create')!;
    const rename = spans.find((span) => span.name === 'click: rename')!;
    expect(create.parentSpanId).toBeUndefined();
    expect(rename.parentSpanId).toBeUndefined();
    expect(create.traceId).not.toBe(rename.traceId);
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    const mutation = clients.find((span) => span.name === 'post.create')!;
    const refetch = clients.find((span) => span.name === 'post.latest')!;
    const renameOp = clients.find((span) => span.name === 'mutation Rename')!;
    // The clicks overlapped: the second came while the first one's mutation (600 ms on the server) was in flight.
    expect(rename.startMs, dump).toBeLessThan(mutation.endMs);
    // click → useMutation → its CLIENT span → the procedure
    expect(mutation.parentSpanId, dump).toBe(create.spanId);
    expect(serverSpanOf(mutation)?.spanContext().traceId).toBe(create.traceId);
    // → success → invalidateQueries → the refetch, after the mutation's response, under the same click
    expect(refetch.startMs).toBeGreaterThanOrEqual(mutation.endMs - 1);
    expect(refetch.parentSpanId, dump).toBe(create.spanId);
    expect(serverSpanOf(refetch)?.spanContext().traceId).toBe(create.traceId);
    // The other click, the Apollo mutation hook: under its own click span.
    expect(renameOp.parentSpanId, dump).toBe(rename.spanId);
    expect(serverSpanOf(renameOp)?.spanContext().traceId).toBe(rename.traceId);
    // Every span in either click's trace is one of these, or their server side.
    const inClicks = spans.filter((span) => span.traceId === create.traceId || span.traceId === rename.traceId);
    expect(inClicks.map((span) => span.name).sort(), dump).toEqual(
      ['click: create', 'click: rename', 'mutation Rename', 'post.create', 'post.latest'].sort(),
    );

    // The poll: started outside any action, ticking while both clicks were open, in neither trace.
    const ticks = clients.filter((span) => span.name === 'post.tick');
    const whileOpen = ticks.filter((tick) => tick.startMs > create.startMs && tick.startMs < create.endMs);
    expect(whileOpen.length, dump).toBeGreaterThan(3);
    for (const tick of ticks) {
      expect(tick.parentSpanId, dump).toBeUndefined();
      expect([create.traceId, rename.traceId]).not.toContain(tick.traceId);
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
