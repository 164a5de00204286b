// User actions in real Chromium (Debian's, driven by playwright-core): a React 19 page with TanStack Query 5
// over tRPC, Apollo Client 4's hooks and urql's hooks (test/action-browser/page.ts), the browser's StackContextManager
// (and again with zone.js and ZoneContextManager: zone.html), and real servers over loopback (tRPC with
// traceContextMiddleware, graphql-yoga with useTraceContext). Proves, from the spans both sides recorded:
// - page load with three hook queries: one page-load trace;
// - click → useMutation → success → invalidateQueries refetch: one trace, with its parentage;
// - three rapid overlapping clicks on different buttons (TanStack Query over tRPC, Apollo, urql): each click's
//   operations, the requests after its mutation's response included, under its own click span;
// - a polling query started outside any action, ticking while both clicks are open: never in their traces;
// - a click handler that awaits (native `await`) before it calls the tRPC client: the mutation under the click.
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
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      chunkSizeWarningLimit: 5_000,
      rollupOptions: { input: { index: join(pageSource, 'index.html'), zone: join(pageSource, 'zone.html') } },
    },
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

describe.each([
  ['StackContextManager', '/'],
  ['ZoneContextManager, zone.js loaded first', '/zone.html'],
])('user actions in Chromium, %s', (_manager, path) => {
  it('page load with three hook queries (React Query, Apollo, urql): one page-load trace', async () => {
    await page.goto(`${server.origin}${path}`);
    const zone = await page.evaluate(() => typeof (globalThis as { Zone?: unknown }).Zone === 'function');
    expect(zone).toBe(path === '/zone.html');
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

  it('three overlapping clicks and a poll: each click one trace (mutation, then the refetch after its response), the poll in none', async () => {
    await page.evaluate(() => (window as unknown as { __page: PageState }).__page.startPolling());
    await expect
      .poll(async () => Number(await page.locator('#tick').textContent()), { timeout: 10_000 })
      .toBeGreaterThan(2);
    const before = (await pageState()).spans.length;
    // Three buttons, one right after the other: the tRPC mutation (1.2 s on the server), the Apollo one
    // (800 ms) and the urql one (400 ms) are in flight together, while the poll ticks every 40 ms. Real input
    // events (each its own task, as a user's clicks are), without Playwright's actionability waits.
    const boxes = [];
    for (const button of ['#create', '#rename', '#touch']) boxes.push((await page.locator(button).boundingBox())!);
    for (const box of boxes) await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect
      .poll(async () => (await pageState()).ended, { timeout: 15_000 })
      .toMatchObject({ create: 'settled', rename: 'settled', touch: 'settled' });
    await page.evaluate(() => (window as unknown as { __page: PageState }).__page.stopPolling());
    const spans = (await pageState()).spans.slice(before);
    const dump = JSON.stringify(spans);
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    const clientSpan = (name: string) => clients.find((span) => span.name === name)!;

    const clicks = ['create', 'rename', 'touch'].map((name) => spans.find((span) => span.name === `click: ${name}`)!);
    const [create, rename, touch] = clicks as [RecordedSpan, RecordedSpan, RecordedSpan];
    for (const click of clicks) expect(click.parentSpanId, click.name).toBeUndefined();
    expect(new Set(clicks.map((click) => click.traceId)).size).toBe(3);
    // The clicks overlapped: each came while the previous click's mutation was in flight.
    expect(rename.startMs, dump).toBeLessThan(clientSpan('post.create').endMs);
    expect(touch.startMs, dump).toBeLessThan(clientSpan('mutation Rename').endMs);

    // Per click: its mutation under the click span (started after the hook's own awaits), then the request
    // started after the mutation's response, under the same click; each with its server side in the trace.
    const expected: [RecordedSpan, string, string][] = [
      [create, 'post.create', 'post.latest'], // TanStack Query: onSuccess → invalidateQueries (mutationCacheActions)
      [rename, 'mutation Rename', 'query Posts'], // Apollo hooks: refetchQueries in action.run
      [touch, 'mutation Touch', 'query Stats'], // urql hooks: client.query in action.run
    ];
    for (const [click, mutationName, followName] of expected) {
      const mutation = clientSpan(mutationName);
      const follow = clients.find((span) => span.name === followName && span.startMs >= mutation.endMs - 1);
      expect(mutation.parentSpanId, `${mutationName}: ${dump}`).toBe(click.spanId);
      expect(follow?.parentSpanId, `${followName}: ${dump}`).toBe(click.spanId);
      for (const op of [mutation, follow!]) {
        expect(serverSpanOf(op)?.spanContext().traceId, `${op.name} on the server`).toBe(click.traceId);
      }
    }
    // Nothing else is in the clicks' traces.
    const clickTraces = new Set(clicks.map((click) => click.traceId));
    const inClicks = spans.filter((span) => clickTraces.has(span.traceId));
    expect(inClicks.map((span) => span.name).sort(), dump).toEqual(
      [
        'click: create',
        'post.create',
        'post.latest',
        'click: rename',
        'mutation Rename',
        'query Posts',
        'click: touch',
        'mutation Touch',
        'query Stats',
      ].sort(),
    );

    // The poll: started outside any action, ticking while the clicks were open, in none of their traces.
    const ticks = clients.filter((span) => span.name === 'post.tick');
    const whileOpen = ticks.filter((tick) => tick.startMs > create.startMs && tick.startMs < create.endMs);
    expect(whileOpen.length, dump).toBeGreaterThan(3);
    for (const tick of ticks) {
      expect(tick.parentSpanId, dump).toBeUndefined();
      expect(clickTraces.has(tick.traceId)).toBe(false);
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('a click handler that awaits before it calls the client itself: the mutation in the click trace', async () => {
    const before = (await pageState()).spans.length;
    await page.locator('#direct').click();
    await expect.poll(async () => (await pageState()).ended.direct, { timeout: 15_000 }).toBe('settled');
    const spans = (await pageState()).spans.slice(before);
    const dump = JSON.stringify(spans);
    const click = spans.find((span) => span.name === 'click: direct')!;
    const mutation = spans.find((span) => span.kind === SpanKind.CLIENT && span.name === 'post.create')!;
    expect(mutation.parentSpanId, dump).toBe(click.spanId);
    expect(serverSpanOf(mutation)?.spanContext().traceId).toBe(click.traceId);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
