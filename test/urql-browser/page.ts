// The page of test/urql-browser.test.ts (bundled with vite): React 19 with urql's hooks and Apollo Client 3's
// hooks, traced by a WebTracerProvider whose StackContextManager forgets the active context across every
// `await`, so only a synchronous read of the caller's context can be right. `@apollo/client/core` is aliased to
// Apollo Client 3 at build time, as it resolves for an app that has 3.x installed.
import { trace } from '@opentelemetry/api';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { ApolloClient, ApolloLink, gql as gql3, HttpLink, InMemoryCache } from 'apollo-client-3';
import { BatchHttpLink } from 'apollo-client-3/link/batch-http';
import { ApolloProvider, useMutation as useApolloMutation } from 'apollo-client-3/react';
import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import {
  Client,
  cacheExchange,
  fetchExchange,
  gql,
  Provider as UrqlProvider,
  useMutation as useUrqlMutation,
} from 'urql';
import { TraceContextLink, traceContextFetch } from '../../src/apollo.js';
import { traceContextExchange } from '../../src/urql.js';

export interface RecordedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
}
export interface Outcome {
  i: number;
  caller: { traceId: string; spanId: string };
  seen: { traceId: string | null; spanId: string | null } | null;
  error?: string;
}
export interface PageState {
  spans: RecordedSpan[];
  results: Record<string, Outcome[]>;
  /** BatchHttpLink under the real instrumentation-fetch, with and without traceContextFetch(). */
  runBatches(): Promise<void>;
}

const state: PageState = { spans: [], results: {}, runBatches };
(window as unknown as { __page: PageState }).__page = state;
const exporter: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    for (const span of spans) {
      state.spans.push({
        name: span.name,
        kind: span.kind,
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId,
      });
    }
    done({ code: 0 });
  },
  async shutdown() {},
};
// register(): StackContextManager and the W3C propagators.
new WebTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
const tracer = trace.getTracer('urql-browser');

// Off until runBatches: the hook tests run without fetch instrumentation.
const fetchInstrumentation = new FetchInstrumentation({ enabled: false });

const TOUCH = 'mutation Touch($tag: String!) { touch(tag: $tag) { tag seen { traceId spanId } } }';
const N = 50;

type Seen = Outcome['seen'];
/** One click: N callers, each its own span, each calling `run` synchronously inside it. */
function runCallers(name: string, run: (tag: string) => Promise<Seen>, n = N): Promise<Outcome[]> {
  const outcomes: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) {
    tracer.startActiveSpan(`caller ${name} ${i}`, (span) => {
      const caller = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      outcomes.push(
        run(`${name}${i}`).then(
          (seen) => ({ i, caller, seen }),
          (error: unknown) => ({ i, caller, seen: null, error: String(error) }),
        ),
      );
      span.end();
    });
  }
  return Promise.all(outcomes).then((done) => {
    state.results[name] = done;
    return done;
  });
}

async function runBatches() {
  fetchInstrumentation.enable();
  try {
    for (const wrapped of [true, false]) {
      const client = new ApolloClient({
        cache: new InMemoryCache(),
        link: ApolloLink.from([
          new TraceContextLink() as unknown as ApolloLink,
          // One batch of 10 with room for more, so it leaves from Apollo's timer, where the StackContextManager
          // knows no operation.
          new BatchHttpLink({
            uri: '/graphql',
            batchMax: 20,
            batchInterval: 20,
            fetch: wrapped ? traceContextFetch() : undefined,
          }),
        ]),
      });
      await runCallers(
        `batch ${wrapped ? 'wrapped' : 'plain'}`,
        (tag) =>
          client
            .mutate<TouchData>({ mutation: gql3(TOUCH), variables: { tag } })
            .then((result) => result.data?.touch.seen ?? null),
        10,
      );
    }
  } finally {
    fetchInstrumentation.disable();
  }
}

const urql = new Client({ url: '/graphql', exchanges: [cacheExchange, traceContextExchange(), fetchExchange] });
const apollo3 = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([new TraceContextLink() as unknown as ApolloLink, new HttpLink({ uri: '/graphql' })]),
});

type TouchData = { touch: { seen: NonNullable<Seen> } };

function UrqlButton() {
  const [, touch] = useUrqlMutation<TouchData>(gql(TOUCH));
  return h(
    'button',
    {
      id: 'urql',
      type: 'button',
      onClick: () =>
        runCallers('urql', (tag) =>
          touch({ tag }).then((result) => {
            if (result.error) throw result.error;
            return result.data?.touch.seen ?? null;
          }),
        ),
    },
    'urql',
  );
}

function Apollo3Button() {
  const [touch] = useApolloMutation<TouchData>(gql3(TOUCH));
  return h(
    'button',
    {
      id: 'apollo3',
      type: 'button',
      onClick: () =>
        runCallers('apollo3', (tag) => touch({ variables: { tag } }).then((result) => result.data?.touch.seen ?? null)),
    },
    'apollo3',
  );
}

createRoot(document.getElementById('root')!).render(
  h(
    UrqlProvider,
    { value: urql },
    h(ApolloProvider, {
      client: apollo3 as never,
      children: [h(UrqlButton, { key: 'u' }), h(Apollo3Button, { key: 'a' })],
    }),
  ),
);
