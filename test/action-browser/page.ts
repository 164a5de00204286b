// The page of the browser proofs (bundled by test/action-browser.test.ts with vite): React 19 with TanStack
// Query 5 over tRPC, Apollo Client 4's hooks and urql's hooks, traced by a WebTracerProvider whose
// StackContextManager forgets the active context across every `await` (zone.html: ZoneContextManager, which does
// too for native `await`). It records its finished spans in
// `window.__spans` for the test to read.
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import {
  ApolloProvider,
  useApolloClient,
  useMutation as useApolloMutation,
  useQuery as useApolloQuery,
} from '@apollo/client/react';
import { trace } from '@opentelemetry/api';
import { ZoneContextManager } from '@opentelemetry/context-zone-peer-dep';
import { type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import {
  MutationCache,
  QueryClient,
  QueryClientProvider,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { createElement as h, type ReactNode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
  Client,
  cacheExchange,
  fetchExchange,
  Provider as UrqlProvider,
  useClient,
  useMutation as useUrqlMutation,
  useQuery as useUrqlQuery,
} from 'urql';
import { TraceContextLink } from '../../src/apollo.js';
import { mutationCacheActions, startAction, startPageAction } from '../../src/index.js';
import { traceContextHeaders, traceContextLink } from '../../src/trpc.js';
import { traceContextExchange } from '../../src/urql.js';
import type { AppRouter } from './server.js';

export interface RecordedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  startMs: number;
  endMs: number;
}

export interface PageState {
  spans: RecordedSpan[];
  ended: Record<string, string>;
  startPolling(): void;
  stopPolling(): void;
}

const toMs = ([seconds, nanos]: [number, number]) => seconds * 1e3 + nanos / 1e6;
const state: PageState = { spans: [], ended: {}, startPolling() {}, stopPolling() {} };
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
        startMs: toMs(span.startTime),
        endMs: toMs(span.endTime),
      });
    }
    done({ code: 0 });
  },
  async shutdown() {},
};
// register(): StackContextManager (ZoneContextManager where zone-entry.ts loaded zone.js first) and the W3C
// propagators.
const zoneLoaded = typeof (globalThis as { Zone?: unknown }).Zone === 'function';
new WebTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register(
  zoneLoaded ? { contextManager: new ZoneContextManager() } : {},
);
const tracer = trace.getTracer('action-browser');

/** A click: its span, and the action that makes it the fallback parent of what the click starts. */
function clickAction(name: string) {
  const span = tracer.startSpan(`click: ${name}`);
  return startAction(span, {
    timeout: 4_000,
    onEnd: (reason) => {
      span.end();
      state.ended[name] = reason;
    },
  });
}

const queryClient = new QueryClient({
  mutationCache: new MutationCache(mutationCacheActions()),
  defaultOptions: { queries: { retry: false, staleTime: 0, refetchOnWindowFocus: false } },
});
const trpcClient = createTRPCClient<AppRouter>({
  links: [traceContextLink(), httpBatchLink({ url: '/trpc', headers: traceContextHeaders })],
});
const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
const apollo = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([new TraceContextLink(), new HttpLink({ uri: '/graphql' })]),
});
const urql = new Client({
  url: '/graphql',
  exchanges: [cacheExchange, traceContextExchange(), fetchExchange],
});

const POSTS = gql`
  query Posts {
    posts {
      id
      title
    }
  }
`;
const RENAME = gql`
  mutation Rename($id: Int!, $title: String!) {
    rename(id: $id, title: $title) {
      id
      title
    }
  }
`;
const STATS = 'query Stats { stats }';
const TOUCH = 'mutation Touch($id: Int!) { touch(id: $id) { id } }';

function LatestPost() {
  const trpc = useTRPC();
  const latest = useQuery(trpc.post.latest.queryOptions());
  return h('p', { id: 'latest' }, latest.data?.title ?? '…');
}

function ApolloPosts() {
  const { data } = useApolloQuery<{ posts: { id: number; title: string }[] }>(POSTS);
  return h('p', { id: 'apollo-posts' }, data ? String(data.posts.length) : '…');
}

function UrqlStats() {
  const [{ data }] = useUrqlQuery<{ stats: number }>({ query: STATS });
  const client = useClient();
  const [, touch] = useUrqlMutation(TOUCH);
  return h(
    'p',
    null,
    h('span', { id: 'urql-stats' }, data ? String(data.stats) : '…'),
    h(
      'button',
      {
        id: 'touch',
        type: 'button',
        onClick: () => {
          const action = clickAction('touch');
          // After the response: a request of its own, started in the action (docs/react-actions.md).
          void touch({ id: 1 }).then(() =>
            action.run(() => client.query(STATS, {}, { requestPolicy: 'network-only' }).toPromise()),
          );
        },
      },
      'Touch',
    ),
  );
}

function Poller() {
  const trpc = useTRPC();
  const [on, setOn] = useState(false);
  useEffect(() => {
    state.startPolling = () => setOn(true);
    state.stopPolling = () => setOn(false);
  }, []);
  const tick = useQuery({
    ...trpc.post.tick.queryOptions(),
    enabled: on,
    refetchInterval: 40,
    refetchIntervalInBackground: true,
  });
  return h('p', { id: 'tick' }, String(tick.data ?? 0));
}

function CreatePost() {
  const trpc = useTRPC();
  const client = useQueryClient();
  const create = useMutation(
    trpc.post.create.mutationOptions({
      onSuccess: () => client.invalidateQueries({ queryKey: trpc.post.latest.queryKey() }),
    }),
  );
  return h(
    'button',
    {
      id: 'create',
      type: 'button',
      onClick: () => {
        clickAction('create');
        create.mutate({ title: 'created by a click' });
      },
    },
    'Create',
  );
}

function RenamePost() {
  const client = useApolloClient();
  const [rename] = useApolloMutation(RENAME);
  return h(
    'button',
    {
      id: 'rename',
      type: 'button',
      onClick: () => {
        const action = clickAction('rename');
        // After the response: the refetch of the posts, started in the action (docs/react-actions.md).
        void rename({ variables: { id: 1, title: 'renamed by a click' } }).then(() =>
          action.run(() => client.refetchQueries({ include: [POSTS] })),
        );
      },
    },
    'Rename',
  );
}

/** A handler that awaits on its own (a validation, a token) before it calls the client: native `await`s. */
function DirectCreate() {
  return h(
    'button',
    {
      id: 'direct',
      type: 'button',
      onClick: async () => {
        clickAction('direct');
        for (let turn = 0; turn < 3; turn++) await null;
        await trpcClient.post.create.mutate({ title: 'created after awaits' });
      },
    },
    'Create after awaits',
  );
}

function Providers({ children }: { children: ReactNode }) {
  return h(
    QueryClientProvider,
    { client: queryClient },
    h(TRPCProvider, {
      trpcClient,
      queryClient,
      children: h(ApolloProvider, { client: apollo, children: h(UrqlProvider, { value: urql }, children) }),
    }),
  );
}

// The page load: the hooks' queries start in React's render tasks, with no context of their own.
const pageSpan = tracer.startSpan('page load');
startPageAction(pageSpan, {
  onEnd: (reason) => {
    pageSpan.end();
    state.ended.page = reason;
  },
});
createRoot(document.getElementById('root')!).render(
  h(
    Providers,
    null,
    h(LatestPost),
    h(ApolloPosts),
    h(UrqlStats),
    h(Poller),
    h(CreatePost),
    h(RenamePost),
    h(DirectCreate),
  ),
);
