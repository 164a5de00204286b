// urql's and Apollo Client 3's React hooks in real Chromium (Debian's, driven by playwright-core), with the
// browser's StackContextManager, against a real Yoga server with useTraceContext over loopback. One click
// starts 50 callers, each its own span, each calling the hook's mutate function inside it: every operation
// must reach the server in its own caller's trace, under its own CLIENT span (synchronous capture), and the
// browser sends no W3C header of ours (headers: 'auto' keeps them off in a browser).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTraceContext } from '../src/yoga.js';
import { setupGraphqlTracing, startServer, type TestServer } from './graphql-fixture.js';
import type { PageState } from './urql-browser/page.js';

const pageSource = fileURLToPath(new URL('./urql-browser/', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const tracing = setupGraphqlTracing();
let yoga: TestServer;
let http: Server;
let origin: string;
let browser: BrowserContext;
let page: Page;
const tempDirs: string[] = [];
const pageErrors: string[] = [];
const traceparents: (string | string[] | undefined)[] = [];

beforeAll(async () => {
  execFileSync('bash', [join(repoRoot, 'scripts/ensure-chromium.sh')], { stdio: 'inherit' });
  const outDir = mkdtempSync(join(tmpdir(), 'otel-rpc-context-urql-page-'));
  tempDirs.push(outDir);
  await build({
    configFile: false,
    root: pageSource,
    logLevel: 'error',
    build: { outDir, emptyOutDir: true, minify: false, chunkSizeWarningLimit: 5_000 },
    resolve: {
      // The link imports `@apollo/client/core`: here that is Apollo Client 3, as for an app on 3.x.
      alias: [{ find: /^@apollo\/client\/core$/, replacement: 'apollo-client-3/core' }],
      dedupe: ['@opentelemetry/api', 'react', 'react-dom', 'graphql', '@urql/core'],
    },
  });
  // The fixture's Yoga (useTraceContext), served with the page from one loopback origin.
  yoga = await startServer([useTraceContext()], { batching: { limit: 50 } });
  http = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/graphql')) {
      traceparents.push(req.headers.traceparent);
      return void yoga.yoga(req, res);
    }
    const file = url === '/' ? 'index.html' : url.slice(1).split('?')[0]!;
    if (file.includes('..')) return void res.writeHead(404).end();
    readFile(join(outDir, file)).then(
      (body) =>
        res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const userDataDir = mkdtempSync(join(tmpdir(), 'otel-rpc-context-chromium-'));
  tempDirs.push(userDataDir);
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync', '--no-first-run'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(`${origin}/`);
  await page.locator('#urql').waitFor();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  http?.closeAllConnections();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  await yoga?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(['urql', 'apollo3'])('%s React hooks in Chromium', (name) => {
  it('50 callers in one click: each operation in its own caller trace, under its own CLIENT span', async () => {
    traceparents.length = 0;
    await page.click(`#${name}`);
    await expect
      .poll(() => page.evaluate((key) => (window as unknown as { __page: PageState }).__page.results[key], name), {
        timeout: 20_000,
      })
      .toHaveLength(50);
    const { results, spans } = await page.evaluate(() => {
      const state = (window as unknown as { __page: PageState }).__page;
      return { results: state.results, spans: [...state.spans] };
    });
    const outcomes = results[name]!;
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT && span.name === 'mutation Touch');
    const serverSpans = tracing.exporter
      .getFinishedSpans()
      .filter((span) => span.kind === SpanKind.SERVER && span.instrumentationScope.name === 'otel-rpc-context');
    const wrong: number[] = [];
    for (const { i, caller, seen, error } of outcomes) {
      const client = clients.find((span) => span.parentSpanId === caller.spanId);
      const server = client && serverSpans.find((span) => span.parentSpanContext?.spanId === client.spanId);
      const right =
        !error &&
        client?.traceId === caller.traceId &&
        server?.spanContext().traceId === caller.traceId &&
        seen?.traceId === caller.traceId &&
        seen?.spanId === server?.spanContext().spanId;
      if (!right) wrong.push(i);
    }
    expect({ name, wrong, errors: pageErrors }).toEqual({ name, wrong: [], errors: [] });
    expect(new Set(outcomes.map((outcome) => outcome.caller.traceId)).size).toBe(50);
    // headers: 'auto' in a browser: no W3C header of ours (none at all: no fetch instrumentation here).
    expect(traceparents.length).toBeGreaterThanOrEqual(1);
    expect(traceparents.filter(Boolean)).toEqual([]);
  });
});

describe('BatchHttpLink (Apollo Client 3) under the real instrumentation-fetch in Chromium', () => {
  it("traceContextFetch() puts a batch's fetch span and server HTTP request in its first operation's trace", async () => {
    traceparents.length = 0;
    const before = await page.evaluate(() => (window as unknown as { __page: PageState }).__page.spans.length);
    await page.evaluate(() => (window as unknown as { __page: PageState }).__page.runBatches());
    const read = () =>
      page.evaluate(() => {
        const state = (window as unknown as { __page: PageState }).__page;
        return { results: state.results, spans: [...state.spans] };
      });
    const isFetch = (span: { kind: number; name: string }) =>
      span.kind === SpanKind.CLIENT && span.name !== 'mutation Touch';
    // instrumentation-fetch ends its spans a little after the response (it waits for resource timings).
    await expect
      .poll(async () => (await read()).spans.slice(before).filter(isFetch).length, { timeout: 10_000 })
      .toBe(2);
    const { results, spans } = await read();
    const fresh = spans.slice(before);
    const clients = fresh.filter((span) => span.kind === SpanKind.CLIENT && span.name === 'mutation Touch');
    const fetches = fresh.filter(isFetch);
    const serverSpans = tracing.exporter
      .getFinishedSpans()
      .filter((span) => span.kind === SpanKind.SERVER && span.instrumentationScope.name === 'otel-rpc-context');
    expect(fetches).toHaveLength(2); // one request per client: neither batch split
    expect(traceparents).toHaveLength(2);
    const [wrappedFetch, plainFetch] = fetches;
    for (const [key, fetchSpan, wrapped] of [
      ['batch wrapped', wrappedFetch!, true],
      ['batch plain', plainFetch!, false],
    ] as const) {
      const outcomes = results[key]!;
      expect(outcomes).toHaveLength(10);
      // Every operation in its own caller's trace either way: the body's slots decide that.
      for (const { caller, seen, error } of outcomes) {
        expect(error).toBeUndefined();
        const client = clients.find((span) => span.parentSpanId === caller.spanId)!;
        const server = serverSpans.find((span) => span.parentSpanContext?.spanId === client.spanId);
        expect(seen).toMatchObject({ traceId: caller.traceId, spanId: server?.spanContext().spanId });
      }
      const first = clients.find((span) => span.parentSpanId === outcomes[0]!.caller.spanId)!;
      const callerTraces = new Set(outcomes.map((outcome) => outcome.caller.traceId));
      const sentTraceId = traceparents.find((value) => String(value).split('-')[2] === fetchSpan.spanId);
      expect(sentTraceId, key).toBeDefined();
      if (wrapped) {
        // The fetch span is the child of the first operation's CLIENT span, and the server saw it.
        expect(fetchSpan.parentSpanId).toBe(first.spanId);
        expect(fetchSpan.traceId).toBe(first.traceId);
      } else {
        // Without it: a trace of its own, the fault traceContextFetch() fixes.
        expect(fetchSpan.parentSpanId).toBeUndefined();
        expect(callerTraces.has(fetchSpan.traceId)).toBe(false);
      }
    }
  });
});
