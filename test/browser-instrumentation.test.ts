/**
 * Issue 10, the browser side: real Chromium with the browser set-up people run (WebTracerProvider,
 * StackContextManager, W3C propagators, the real instrumentation-fetch and instrumentation-xml-http-request,
 * which overwrite or append to `traceparent`), every tRPC HTTP link and Apollo Client 4's HttpLink (POST,
 * GET) and BatchHttpLink, against a tRPC standalone server with traceContextMiddleware() and Yoga with
 * useTraceContext() over loopback, same-origin and cross-origin (127.0.0.1 page, localhost API, CORS
 * preflights). Per operation, ≥50 at once, each started inside its own click span: the procedure or
 * resolver runs in its caller's trace and its SERVER span's parent is its own CLIENT span. Item 10: with
 * traceContextFetch() the request's fetch/XHR span is a child of its first operation's CLIENT span.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createYoga } from 'graphql-yoga';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTraceContext } from '../src/yoga.js';
import type { Scenario, ScenarioOutput } from './browser-instrumentation-page.js';
import { schema } from './graphql-fixture.js';
import { bundlePage, launchChromium } from './support/browser.js';
import { setupTracing } from './support/otel.js';
import { makeRouter } from './trpc-harness.js';

const N = 60;
const HTTP_SCOPE = '@opentelemetry/instrumentation-http';
/** What tRPC and Apollo send, and what the CORS configuration must allow for it. */
const ALLOWED_HEADERS = 'content-type, trpc-accept, traceparent, tracestate, baggage, x-trpc-trace-context';

interface LoggedRequest {
  method: string;
  url: string;
  origin: string | undefined;
  traceparent: string | undefined;
  batch: string | undefined;
}

let exporter: InMemorySpanExporter;
let httpInstrumentation: HttpInstrumentation;
let server: Server;
let browser: Browser;
let page: Page;
let sameOrigin: string;
let crossOrigin: string;
const requests: LoggedRequest[] = [];
let preflights = 0;
const pageErrors: string[] = [];

beforeAll(async () => {
  const tracing = setupTracing();
  exporter = tracing.exporter;
  // Off until the block that wants HTTP server spans turns it on.
  httpInstrumentation = new HttpInstrumentation({ enabled: false });
  httpInstrumentation.setTracerProvider(tracing.provider);
  const js = await bundlePage(fileURLToPath(new URL('./browser-instrumentation-page.ts', import.meta.url)));
  const trpc = createHTTPHandler({
    router: makeRouter(),
    basePath: '/trpc/',
    createContext: ({ req, info }) => ({ req, info }),
  });
  // Yoga answers CORS preflights itself (by default it allows the requested headers for any origin).
  const yoga = createYoga({
    schema,
    plugins: [useTraceContext()],
    logging: false,
    maskedErrors: false,
    batching: { limit: 100 },
  });
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/') || url.startsWith('/graphql')) {
      if (req.method === 'OPTIONS') preflights++;
      else {
        const header = (name: string) => {
          const value = req.headers[name];
          return Array.isArray(value) ? value.join(', ') : value;
        };
        requests.push({
          method: req.method ?? '',
          url,
          origin: header('origin'),
          traceparent: header('traceparent'),
          batch: header('x-trpc-trace-context'),
        });
      }
    }
    if (url.startsWith('/trpc/')) {
      // The CORS a cross-origin tRPC API needs for these links: the trace headers and the batch header.
      res.setHeader('access-control-allow-origin', '*');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': ALLOWED_HEADERS,
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
      trpc(req, res);
      return;
    }
    if (url.startsWith('/graphql')) {
      yoga(req, res);
      return;
    }
    if (url.startsWith('/page.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>loading</title><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  sameOrigin = `http://127.0.0.1:${port}`;
  // Another origin for the page at 127.0.0.1: same server, other host name.
  crossOrigin = `http://localhost:${port}`;

  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(`${sameOrigin}/`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  links: string[];
  scope?: string;
  method?: unknown;
}

interface Outcome {
  /** Operations whose procedure/resolver ran outside its caller's trace, or under another parent than expected. */
  wrong: string[];
  /** Operations whose SERVER span's parent is the request's fetch/XHR span, itself the child of the operation's CLIENT span. */
  throughHttpSpan: number;
  /** Operations under their CLIENT span whose SERVER span links to the request's HTTP server span. */
  linkedToHttpServer: number;
  /** instrumentation-http's SERVER spans (preflights aside): how many, and how many are children of the page's fetch / XHR span. */
  httpServer: { spans: number; childOfPageRequest: number };
  operations: number;
  /** The request-level (fetch / XHR) spans of the scenario's requests, by parent. */
  http: {
    requests: number;
    /** Child of the CLIENT span of the first operation with a span in the request's x-trpc-trace-context. */
    childOfFirstOperation: number;
    /** Child of some operation's CLIENT span (the operation indexes, for requests without a batch header). */
    childOfOperation: number[];
    roots: number;
    other: number;
  };
  /** Requests (preflights aside) that reached the API. */
  apiRequests: number;
  /** Requests that reached the API from another origin than the page's. */
  crossOriginRequests: number;
  preflights: number;
  ms: number;
}

function httpServerStats(server: Map<string, SpanRecord>, page: Map<string, { parentSpanId: string | undefined }>) {
  let spans = 0;
  let childOfPageRequest = 0;
  for (const span of server.values()) {
    if (span.method === 'OPTIONS') continue;
    spans++;
    if (span.parentSpanId && page.has(span.parentSpanId)) childOfPageRequest++;
  }
  return { spans, childOfPageRequest };
}

const spanIdOf = (traceparent: string | undefined) => traceparent?.split('-')[2];
const traceIdOf = (traceparent: string | undefined) => traceparent?.split('-')[1];

async function run(scenario: Omit<Scenario, 'n' | 'api'>, cross: boolean): Promise<Outcome> {
  exporter.reset();
  requests.length = 0;
  preflights = 0;
  const full: Scenario = { ...scenario, n: N, api: cross ? crossOrigin : sameOrigin };
  const out = await page.evaluate(
    (s) => (window as unknown as { runScenario(s: Scenario): Promise<ScenarioOutput> }).runScenario(s),
    full,
  );
  expect(out.errors).toEqual([]);
  const serverSpans: SpanRecord[] = exporter.getFinishedSpans().map((span) => ({
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    links: span.links.map((link) => link.context.spanId),
    scope: span.instrumentationScope.name,
    method: span.attributes['http.request.method'] ?? span.attributes['http.method'],
  }));
  const serverById = new Map(serverSpans.map((span) => [span.spanId, span]));
  const httpSpans = new Map(out.spans.filter((span) => span.url !== undefined).map((span) => [span.spanId, span]));
  // instrumentation-http's SERVER spans, when it is on.
  const httpServerSpans = new Map(
    serverSpans.filter((span) => span.scope === HTTP_SCOPE).map((span) => [span.spanId, span] as const),
  );
  /** The first span above `spanId` that is not an HTTP-level span (fetch / XHR / HTTP server). */
  const aboveHttp = (spanId: string | undefined): string | undefined => {
    let id = spanId;
    for (let hops = 0; id !== undefined && hops < 4; hops++) {
      const http = httpServerSpans.get(id) ?? httpSpans.get(id);
      if (!http) return id;
      id = http.parentSpanId;
    }
    return undefined;
  };
  // The link's CLIENT span of each operation is the one child of its click span.
  const clientOf = new Map<string, SpanRecord>();
  for (const span of out.spans) {
    if (span.kind === SpanKind.CLIENT && span.parentSpanId !== undefined && span.url === undefined) {
      clientOf.set(span.parentSpanId, span);
    }
  }
  const operationOf = new Map<string, number>();
  out.callers.forEach((caller, i) => {
    const client = clientOf.get(caller.spanId);
    if (client) operationOf.set(client.spanId, i);
  });
  const wrong: string[] = [];
  let throughHttpSpan = 0;
  let linkedToHttpServer = 0;
  const perOperation = scenario.link === 'httpSubscriptionLink' ? 2 : 1;
  const counts = new Map<number, number>();
  for (const result of out.results) {
    counts.set(result.i, (counts.get(result.i) ?? 0) + 1);
    const caller = out.callers[result.i];
    const client = caller && clientOf.get(caller.spanId);
    const serverSpan = serverById.get(result.spanId);
    const parent = serverSpan?.parentSpanId;
    if (!caller || !client) wrong.push(`${result.i}: no CLIENT span under its click`);
    else if (result.traceId !== caller.traceId) wrong.push(`${result.i}: ran in trace ${result.traceId}`);
    else if (serverSpan?.kind !== SpanKind.SERVER) wrong.push(`${result.i}: ran under no SERVER span`);
    else if (parent !== client.spanId) {
      if (parent !== undefined && aboveHttp(parent) === client.spanId) throughHttpSpan++;
      else wrong.push(`${result.i}: SERVER span's parent ${parent}, CLIENT span ${client.spanId}`);
    } else if (serverSpan.links.some((link) => httpServerSpans.has(link))) linkedToHttpServer++;
  }
  for (let i = 0; i < N; i++) if (counts.get(i) !== perOperation) wrong.push(`${i}: ${counts.get(i) ?? 0} results`);

  // Request-level spans: the fetch / XHR span whose context the instrumentation put last in `traceparent`
  // (instrumentation-fetch overwrites the header; XMLHttpRequest's setRequestHeader appends to it).
  const http: Outcome['http'] = { requests: 0, childOfFirstOperation: 0, childOfOperation: [], roots: 0, other: 0 };
  for (const request of requests) {
    const values = request.traceparent?.split(',').map((value) => value.trim()) ?? [];
    const span = httpSpans.get(spanIdOf(values.at(-1)) ?? '');
    if (!span) continue;
    http.requests++;
    let first: string | undefined;
    try {
      const entries = JSON.parse(request.batch ?? '[]') as { traceparent?: string }[];
      first = entries.find((entry) => entry?.traceparent)?.traceparent;
    } catch {
      first = undefined;
    }
    const operation = span.parentSpanId === undefined ? undefined : operationOf.get(span.parentSpanId);
    if (span.parentSpanId === undefined) http.roots++;
    else if (first && span.parentSpanId === spanIdOf(first) && span.traceId === traceIdOf(first))
      http.childOfFirstOperation++;
    else if (operation !== undefined) http.childOfOperation.push(operation);
    else http.other++;
  }
  const crossOriginRequests = requests.filter((request) => cross && request.origin === sameOrigin).length;
  return {
    wrong,
    apiRequests: requests.length,
    throughHttpSpan,
    linkedToHttpServer,
    httpServer: httpServerStats(httpServerSpans, httpSpans),
    operations: counts.size,
    http,
    crossOriginRequests,
    preflights,
    ms: Math.round(out.ms),
  };
}

const summary: Record<string, unknown>[] = [];
afterAll(() => {
  // The figures for docs/browser-instrumentation.md and the issue.
  console.log(JSON.stringify(summary, null, 1));
});

for (const cross of [false, true]) {
  const where = cross ? 'cross-origin (CORS preflight)' : 'same-origin';
  describe(`Chromium, ${where}`, () => {
    for (const transport of ['fetch', 'xhr'] as const) {
      for (const link of ['httpLink', 'httpBatchLink', 'httpBatchStreamLink']) {
        it(`tRPC ${link} over instrumented ${transport}: every procedure under its own CLIENT span; traceContextFetch puts the request's ${transport} span under the first operation`, async () => {
          const plain = await run({ client: 'trpc', link, transport, wrap: false }, cross);
          const wrapped = await run({ client: 'trpc', link, transport, wrap: true }, cross);
          summary.push({ where, link, transport, plain, wrapped });
          for (const outcome of [plain, wrapped]) {
            expect(outcome.wrong).toEqual([]);
            expect(outcome.throughHttpSpan).toBe(0);
            expect(outcome.operations).toBe(N);
            expect(outcome.crossOriginRequests).toBe(cross ? outcome.apiRequests : 0);
            expect(outcome.http.requests).toBe(outcome.apiRequests);
          }
          expect(pageErrors).toEqual([]);
          // Without the wrapper, tRPC calls fetch after an await (batches: from a timer), where the
          // StackContextManager knows no operation: every request's span starts a trace of its own.
          expect(plain.http.requests).toBeGreaterThan(0);
          expect(plain.http).toEqual({
            requests: plain.http.requests,
            childOfFirstOperation: 0,
            childOfOperation: [],
            roots: plain.http.requests,
            other: 0,
          });
          // With it, each one is the child of its request's first operation's CLIENT span.
          expect(wrapped.http).toEqual({
            requests: wrapped.http.requests,
            childOfFirstOperation: wrapped.http.requests,
            childOfOperation: [],
            roots: 0,
            other: 0,
          });
        });
      }
    }

    it('tRPC httpSubscriptionLink with traceContextUrl (native EventSource): every event under its own CLIENT span', async () => {
      const outcome = await run(
        { client: 'trpc', link: 'httpSubscriptionLink', transport: 'fetch', wrap: false },
        cross,
      );
      summary.push({ where, link: 'httpSubscriptionLink', outcome });
      expect(outcome.wrong).toEqual([]);
      expect(outcome.throughHttpSpan).toBe(0);
      expect(outcome.operations).toBe(N);
      expect(outcome.crossOriginRequests).toBe(cross ? outcome.apiRequests : 0);
    });

    for (const transport of ['fetch', 'xhr'] as const) {
      for (const link of ['HttpLink', 'HttpLink GET', 'BatchHttpLink', 'BatchHttpLink timer']) {
        it(`Apollo Client 4 ${link} over instrumented ${transport}, Yoga: every resolver under its own CLIENT span`, async () => {
          const outcome = await run({ client: 'apollo', link, transport, wrap: false }, cross);
          summary.push({ where, link: `Apollo ${link}`, transport, outcome });
          expect(outcome.wrong).toEqual([]);
          // A GET carries the carrier only in `traceparent`, which instrumentation-fetch replaces with its
          // own span's, the child of the CLIENT span: the resolver's SERVER span hangs under that fetch span,
          // one tree still. XMLHttpRequest appends instead, and the server reads the first value, ours.
          expect(outcome.throughHttpSpan).toBe(link === 'HttpLink GET' && transport === 'fetch' ? N : 0);
          expect(outcome.operations).toBe(N);
          expect(outcome.crossOriginRequests).toBe(cross ? outcome.apiRequests : 0);
          expect(pageErrors).toEqual([]);
        });
      }
    }
  });
}

// What auto-instrumentations-node adds on the server: instrumentation-http's SERVER span per request.
describe('Chromium, with instrumentation-http on the server', () => {
  beforeAll(() => {
    httpInstrumentation.enable();
    // node:http is patched when it is next required (Server.prototype.emit, shared by every server).
    createRequire(import.meta.url)('node:http');
  });
  afterAll(() => httpInstrumentation.disable());

  for (const cross of [false, true]) {
    const where = cross ? 'cross-origin' : 'same-origin';
    for (const link of ['httpLink', 'httpBatchLink', 'httpBatchStreamLink']) {
      it(`${where} tRPC ${link}: the server's HTTP span joins the first operation's trace with traceContextFetch; procedures keep their own parents`, async () => {
        const plain = await run({ client: 'trpc', link, transport: 'fetch', wrap: false }, cross);
        const wrapped = await run({ client: 'trpc', link, transport: 'fetch', wrap: true }, cross);
        summary.push({ where: `${where}, instrumentation-http`, link, transport: 'fetch', plain, wrapped });
        const single = link === 'httpLink';
        for (const outcome of [plain, wrapped]) {
          expect(outcome.wrong).toEqual([]);
          expect(outcome.operations).toBe(N);
          // One HTTP server span per request, each the child of the page's fetch span.
          expect(outcome.httpServer).toEqual({ spans: outcome.apiRequests, childOfPageRequest: outcome.apiRequests });
          // A batch's SERVER spans stay under their own CLIENT spans and link to the request's HTTP span.
          expect(outcome.linkedToHttpServer).toBe(single ? 0 : N);
        }
        expect(plain.http.roots).toBe(plain.http.requests);
        expect(wrapped.http.childOfFirstOperation).toBe(wrapped.http.requests);
        // A lone operation whose HTTP server span continued its own trace runs under that span (CLIENT →
        // fetch → HTTP server → SERVER, one tree); without the wrapper that span is in a trace of its own.
        expect(plain.throughHttpSpan).toBe(0);
        expect(wrapped.throughHttpSpan).toBe(single ? N : 0);
      });
    }
    for (const link of ['HttpLink', 'BatchHttpLink']) {
      it(`${where} Apollo Client 4 ${link}, Yoga: every resolver under its own CLIENT span`, async () => {
        const outcome = await run({ client: 'apollo', link, transport: 'fetch', wrap: false }, cross);
        summary.push({ where: `${where}, instrumentation-http`, link: `Apollo ${link}`, transport: 'fetch', outcome });
        expect(outcome.wrong).toEqual([]);
        expect(outcome.operations).toBe(N);
        expect(outcome.httpServer).toEqual({ spans: outcome.apiRequests, childOfPageRequest: outcome.apiRequests });
        // HttpLink fetches inside the operation's context: its HTTP server span is in the caller's trace.
        expect(outcome.throughHttpSpan).toBe(link === 'HttpLink' ? N : 0);
        expect(outcome.linkedToHttpServer).toBe(link === 'HttpLink' ? 0 : N);
      });
    }
  }
});
