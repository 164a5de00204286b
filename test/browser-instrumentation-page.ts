// The page of test/browser-instrumentation.test.ts, bundled for Chromium. The browser set-up people run:
// WebTracerProvider + StackContextManager, W3C propagators, and the real instrumentation-fetch and
// instrumentation-xml-http-request, which overwrite or append to `traceparent`. `window.runScenario` starts
// n operations at once, each synchronously inside its own click-like span, and returns what the page saw
// and every span it recorded.
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { XMLHttpRequestInstrumentation } from '@opentelemetry/instrumentation-xml-http-request';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StackContextManager, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  type TRPCLink,
} from '@trpc/client';
import { TraceContextLink } from '../src/apollo.js';
import { traceContextFetch, traceContextHeaders, traceContextLink, traceContextUrl } from '../src/trpc.js';
import type { AppRouter, Seen } from './trpc-harness.js';

/** One cell of the matrix, as the test asks for it. */
export interface Scenario {
  client: 'trpc' | 'apollo';
  link: string;
  /** `fetch`: the instrumented global fetch; `xhr`: a fetch built on the instrumented XMLHttpRequest. */
  transport: 'fetch' | 'xhr';
  /** tRPC: pass `traceContextFetch()` as the link's `fetch`. */
  wrap: boolean;
  /** The API's origin: the page's own, or another one. */
  api: string;
  n: number;
}

export interface PageSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  links: string[];
  url: string | undefined;
}

export interface ScenarioOutput {
  /** The click-like span each operation started in. */
  callers: { traceId: string; spanId: string }[];
  /** What each procedure or resolver saw, per operation (subscriptions: one per event). */
  results: Seen[];
  spans: PageSpan[];
  errors: string[];
  ms: number;
}

const exporter = new InMemorySpanExporter();
const provider = new WebTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register({
  contextManager: new StackContextManager(),
  propagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }),
});
// Cross-origin requests to the other loopback name get trace headers too, as users configure it.
const propagateTraceHeaderCorsUrls = [/^http:\/\/localhost:\d+\//];
registerInstrumentations({
  instrumentations: [
    new FetchInstrumentation({ propagateTraceHeaderCorsUrls }),
    new XMLHttpRequestInstrumentation({ propagateTraceHeaderCorsUrls }),
  ],
});
const tracer = trace.getTracer('page');

/** A `fetch` made of XMLHttpRequest, so that instrumentation-xml-http-request sees the requests. */
function xhrFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init?.method ?? 'GET', String(input));
    new Headers(init?.headers).forEach((value, name) => {
      xhr.setRequestHeader(name, value);
    });
    xhr.onload = () => {
      const headers = new Headers();
      for (const line of xhr
        .getAllResponseHeaders()
        .trim()
        .split(/[\r\n]+/)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      resolve(new Response(xhr.responseText, { status: xhr.status, headers }));
    };
    xhr.onerror = () => reject(new TypeError('XMLHttpRequest failed'));
    xhr.send((init?.body as XMLHttpRequestBodyInit | null | undefined) ?? null);
  });
}

function trpcLink(scenario: Scenario): TRPCLink<AppRouter> {
  const url = `${scenario.api}/trpc`;
  const custom = scenario.transport === 'xhr' ? xhrFetch : undefined;
  const fetch = scenario.wrap ? traceContextFetch(custom ? { fetch: custom } : {}) : custom;
  switch (scenario.link) {
    case 'httpLink':
      return httpLink({ url, headers: traceContextHeaders, fetch });
    case 'httpBatchLink':
      return httpBatchLink({ url, headers: traceContextHeaders, fetch });
    case 'httpBatchStreamLink':
      return httpBatchStreamLink({ url, headers: traceContextHeaders, fetch });
    case 'httpSubscriptionLink':
      return httpSubscriptionLink({ url: traceContextUrl(url) });
    default:
      throw new Error(`unknown tRPC link ${scenario.link}`);
  }
}

function trpcCall(scenario: Scenario): (i: number) => Promise<Seen[]> {
  const client = createTRPCClient<AppRouter>({ links: [traceContextLink(), trpcLink(scenario)] });
  if (scenario.link === 'httpSubscriptionLink') {
    return (i) =>
      new Promise((resolve, reject) => {
        const events: Seen[] = [];
        const subscription = client.sub.subscribe(
          { i, count: 2 },
          {
            onData: (event) => {
              events.push(event.data);
              if (events.length === 2) {
                subscription.unsubscribe();
                resolve(events);
              }
            },
            onError: reject,
          },
        );
      });
  }
  return async (i) => {
    const input = { i, delay: i % 5 };
    const seen = await (i % 3 === 2
      ? client.m.mutate(input)
      : i % 3 === 1
        ? client.b.q.query(input)
        : client.a.q.query(input));
    return [seen];
  };
}

const PROBE = gql`
  query Probe($tag: String!) {
    probe(tag: $tag) {
      tag
      seen {
        traceId
        spanId
      }
    }
  }
`;

function apolloCall(scenario: Scenario): (i: number) => Promise<Seen[]> {
  const uri = `${scenario.api}/graphql`;
  const fetch = scenario.transport === 'xhr' ? xhrFetch : undefined;
  const get = scenario.link === 'HttpLink GET';
  const terminating =
    scenario.link === 'BatchHttpLink'
      ? new BatchHttpLink({ uri, fetch })
      : scenario.link === 'BatchHttpLink timer'
        ? // Room for every operation: the batch leaves from Apollo's batchInterval timer, not from a call.
          new BatchHttpLink({ uri, fetch, batchMax: 100 })
        : new HttpLink({ uri, fetch, useGETForQueries: get });
  const client = new ApolloClient({
    link: ApolloLink.from([new TraceContextLink({ useGETForQueries: get }), terminating]),
    cache: new InMemoryCache(),
  });
  return async (i) => {
    const { data } = await client.query<{ probe: { tag: string; seen: { traceId: string; spanId: string } } }>({
      query: PROBE,
      variables: { tag: String(i) },
      fetchPolicy: 'no-cache',
    });
    if (!data) throw new Error(`operation ${i}: no data`);
    return [{ i: Number(data.probe.tag), traceId: data.probe.seen.traceId, spanId: data.probe.seen.spanId }];
  };
}

async function runScenario(scenario: Scenario): Promise<ScenarioOutput> {
  exporter.reset();
  const call = scenario.client === 'trpc' ? trpcCall(scenario) : apolloCall(scenario);
  const callers: ScenarioOutput['callers'] = [];
  const errors: string[] = [];
  const started = performance.now();
  const pending: Promise<Seen[]>[] = [];
  // One event-loop task, like a burst of clicks handled together: every operation begins synchronously
  // inside its own span, and the StackContextManager forgets that span as soon as the callback returns.
  for (let i = 0; i < scenario.n; i++) {
    tracer.startActiveSpan(`click ${i}`, (span) => {
      callers[i] = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      pending.push(
        call(i).catch((error: unknown) => {
          errors.push(`operation ${i}: ${String(error)}`);
          return [];
        }),
      );
      span.end();
    });
  }
  const results = (await Promise.all(pending)).flat();
  const ms = performance.now() - started;
  // instrumentation-fetch ends its spans 300 ms after the response, once resource timings are in: wait
  // until no span has ended for 400 ms (5 s at most).
  let seen = -1;
  for (let waited = 0; waited < 5000; waited += 400) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    const now = exporter.getFinishedSpans().length;
    if (now === seen) break;
    seen = now;
  }
  const spans = exporter.getFinishedSpans().map(
    (span): PageSpan => ({
      name: span.name,
      kind: span.kind,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId,
      links: span.links.map((link) => link.context.spanId),
      url: (span.attributes['url.full'] ?? span.attributes['http.url']) as string | undefined,
    }),
  );
  return { callers, results, spans, errors, ms };
}

(window as unknown as { runScenario: typeof runScenario }).runScenario = runScenario;
document.title = 'ready';
