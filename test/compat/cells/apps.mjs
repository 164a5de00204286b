// The servers and clients the integration cells share, written against fetch-style APIs so the same code
// runs on Node, Bun, Deno, workerd and in the browser. Every procedure/resolver answers with the trace id
// that is active while it runs; the clients call it concurrently, each call under its own context, so a
// mix-up between operations of one batch shows as a wrong trace id.
import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';

export const tags = ['a', 'b', 'c'];
export const traceIdFor = (tag) => String(tag).repeat(32).slice(0, 32);
export const contextFor = (tag) =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceIdFor(tag),
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: false,
  });
export const activeTraceId = () => trace.getSpanContext(context.active())?.traceId ?? null;
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

function expectPerOperation(kind, results) {
  const wrong = results.filter((r) => r.traceId !== traceIdFor(r.tag));
  if (wrong.length > 0) {
    throw new Error(`${kind}: operations ran in the wrong context: ${JSON.stringify(results)}`);
  }
}

/** tRPC: a router whose procedures use traceContextMiddleware(). */
export async function trpcRouter() {
  const { initTRPC } = await import('@trpc/server');
  const { traceContextMiddleware } = await import('otel-rpc-context/trpc');
  const t = initTRPC.context().create();
  const procedure = t.procedure.use(traceContextMiddleware());
  return t.router({
    whoami: procedure
      .input((v) => String(v))
      .query(async ({ input }) => {
        await tick();
        return { tag: input, traceId: activeTraceId() };
      }),
  });
}

/** tRPC fetch adapter: (Request) => Promise<Response> on /trpc. */
export async function trpcFetchHandler() {
  const { fetchRequestHandler } = await import('@trpc/server/adapters/fetch');
  const router = await trpcRouter();
  return (req) =>
    fetchRequestHandler({ endpoint: '/trpc', req, router, createContext: ({ req, info }) => ({ req, info }) });
}

/** tRPC client: three operations in one batched request, three in one streamed batch, and one unbatched. */
export async function trpcClientCheck(url) {
  const { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } = await import('@trpc/client');
  const { traceContextHeaders, traceContextLink } = await import('otel-rpc-context/trpc');
  let requests = 0;
  const countingFetch = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const batch = createTRPCClient({
    links: [traceContextLink(), httpBatchLink({ url, headers: traceContextHeaders, fetch: countingFetch })],
  });
  const batched = await Promise.all(tags.map((tag) => context.with(contextFor(tag), () => batch.whoami.query(tag))));
  expectPerOperation('tRPC httpBatchLink', batched);
  if (requests !== 1) throw new Error(`expected one batched HTTP request, saw ${requests}`);
  // Same procedure, same input, different callers: only the position in the batch tells them apart
  // (tRPC < 11.10 has no batchIndex, so the middleware matches the call itself).
  const same = await Promise.all(tags.map((tag) => context.with(contextFor(tag), () => batch.whoami.query('same'))));
  expectPerOperation(
    'tRPC httpBatchLink, identical calls',
    same.map((r, i) => ({ ...r, tag: tags[i] })),
  );
  requests = 1;
  const stream = createTRPCClient({
    links: [traceContextLink(), httpBatchStreamLink({ url, headers: traceContextHeaders, fetch: countingFetch })],
  });
  const streamed = await Promise.all(tags.map((tag) => context.with(contextFor(tag), () => stream.whoami.query(tag))));
  expectPerOperation('tRPC httpBatchStreamLink', streamed);
  if (requests !== 2) throw new Error(`expected one streamed batch request, saw ${requests - 1}`);
  const single = createTRPCClient({ links: [traceContextLink(), httpLink({ url, headers: traceContextHeaders })] });
  expectPerOperation('tRPC httpLink', [await context.with(contextFor('d'), () => single.whoami.query('d'))]);
  return `${tags.length} operations in 1 httpBatchLink request (also ${tags.length} identical calls), ${tags.length} in 1 httpBatchStreamLink request, 1 httpLink call, each in its caller's context`;
}

const typeDefs = 'type Query { whoami(tag: String!): Trace! } type Trace { tag: String! traceId: String }';

/** Yoga with useTraceContext() and batching. */
export async function yogaServer(extra = {}) {
  const { createSchema, createYoga } = await import('graphql-yoga');
  const { useTraceContext } = await import('otel-rpc-context/yoga');
  return createYoga({
    schema: createSchema({
      typeDefs,
      resolvers: {
        Query: {
          whoami: async (_root, { tag }) => {
            await tick();
            return { tag, traceId: activeTraceId() };
          },
        },
      },
    }),
    plugins: [useTraceContext()],
    batching: true,
    graphqlEndpoint: '/graphql',
    logging: false,
    maskedErrors: false,
    ...extra,
  });
}

const query = 'query Who($tag: String!) { whoami(tag: $tag) { tag traceId } }';

/**
 * GraphQL over plain fetch: one batched POST holding three operations, each with its own carrier in
 * `extensions` (written by getContext() under the caller's context, as the client links do).
 */
export async function graphqlFetchCheck(url) {
  const { getContext } = await import('otel-rpc-context');
  const { TRACE_CONTEXT_EXTENSION } = await import('otel-rpc-context/yoga');
  // Distinct operations, then identical ones (same query, same variables) that only their carriers tell apart.
  for (const identical of [false, true]) {
    const body = tags.map((tag) => ({
      query,
      variables: { tag: identical ? 'same' : tag },
      extensions: { [TRACE_CONTEXT_EXTENSION]: context.with(contextFor(tag), () => getContext()) },
    }));
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!Array.isArray(json)) throw new Error(`expected a batched response: ${JSON.stringify(json)}`);
    expectPerOperation(
      `Yoga batched POST${identical ? ', identical operations' : ''}`,
      json.map((r, i) => ({ tag: tags[i], traceId: r.data?.whoami?.traceId ?? JSON.stringify(r.errors) })),
    );
  }
  return `${tags.length} operations in 1 batched POST (also ${tags.length} identical ones), each in its own context`;
}

/**
 * Apollo Client (3.8+ or 4): TraceContextLink in front of BatchHttpLink (one request) and HttpLink. `modules`
 * gives the modules already loaded (Apollo Client 3 on Node is required: Node's ESM loader cannot import it by
 * name); otherwise they are imported here, with literal specifiers so that bundlers see them.
 */
export async function apolloClientCheck(url, modules) {
  const apollo = modules?.apollo ?? (await import('@apollo/client'));
  const { BatchHttpLink } = modules?.batch ?? (await import('@apollo/client/link/batch-http'));
  const { TraceContextLink, traceContextBatchKey } = modules?.link ?? (await import('otel-rpc-context/apollo'));
  const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = apollo;
  const doc = gql(query);
  let requests = 0;
  const countingFetch = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const run = async (terminating, kind) => {
    const client = new ApolloClient({
      link: ApolloLink.from([new TraceContextLink(), terminating]),
      cache: new InMemoryCache(),
    });
    const results = await Promise.all(
      tags.map((tag) =>
        context.with(contextFor(tag), () => client.query({ query: doc, variables: { tag }, fetchPolicy: 'no-cache' })),
      ),
    );
    expectPerOperation(
      kind,
      results.map((r) => r.data.whoami),
    );
  };
  // On Node the link sends W3C headers too (headers: 'auto'): traceContextBatchKey keeps them out of the key.
  const batchKey = traceContextBatchKey(url);
  await run(new BatchHttpLink({ uri: url, fetch: countingFetch, batchInterval: 5, batchKey }), 'Apollo BatchHttpLink');
  const batchedRequests = requests;
  await run(new HttpLink({ uri: url }), 'Apollo HttpLink');
  if (batchedRequests !== 1) throw new Error(`expected one batched request, saw ${batchedRequests}`);
  const named = apollo.version ? `Apollo Client ${apollo.version}: ` : ''; // 3's /core does not export it
  return `${named}${tags.length} queries in 1 BatchHttpLink request + HttpLink, each in its caller's context`;
}

/** urql: traceContextExchange before fetchExchange, POST and GET (urql's default for queries). */
export async function urqlClientCheck(url) {
  const { Client, cacheExchange, fetchExchange, gql } = await import('@urql/core');
  const { traceContextExchange } = await import('otel-rpc-context/urql');
  const doc = gql(query);
  const methods = [];
  for (const preferGetMethod of [false, 'within-url-limit']) {
    const client = new Client({
      url,
      exchanges: [cacheExchange, traceContextExchange(), fetchExchange],
      preferGetMethod,
      requestPolicy: 'network-only',
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
    const results = await Promise.all(
      tags.map((tag) => context.with(contextFor(tag), () => client.query(doc, { tag }).toPromise())),
    );
    expectPerOperation(
      `urql ${preferGetMethod ? 'GET' : 'POST'}`,
      results.map((r) => r.data?.whoami ?? { tag: '?', traceId: String(r.error) }),
    );
  }
  const counts = `${methods.filter((m) => m === 'POST').length} POST + ${methods.filter((m) => m === 'GET').length} GET`;
  return `${tags.length} queries by POST and ${tags.length} by GET (${counts}), each in its caller's context`;
}
