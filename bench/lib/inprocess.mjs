// The tRPC and GraphQL bench apps with client and server in one process and no sockets, for
// bench/instructions.mjs: each client's `fetch` hands its Request straight to the server's fetch handler
// (tRPC's `fetchRequestHandler`, `yoga.fetch`). Over loopback, how requests batch and when the event loop
// polls vary from run to run; without sockets the same operations execute the same instructions, so
// valgrind's instruction count per operation repeats to well under 1%.
//
// Same router, schema, queries, variants (bench/lib/own.mjs, bench/lib/floor.mjs) and callers as the
// suites in bench/suites/; only the single and batch-of-10 request scenarios.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { trpcFloorHeaders, trpcFloorLink } from './floor.mjs';
import { importOwn, ownOptions } from './own.mjs';

/** Where the in-process servers pretend to live: the URL only has to parse and match their endpoint. */
const ORIGIN = 'http://localhost';
const TRPC_ENDPOINT = '/trpc';

/**
 * One batch in flight at a time (the suites run two): both batch links dispatch on a timer, and with two
 * loops whether their operations meet in one timer tick depends on how fast the process runs, which
 * under valgrind moved the baseline's count by 2%. With one, every call is exactly one request of 10.
 */
const BATCH_CONCURRENCY = 1;

/** Reads a Fetch `Headers`: the fetch adapter's `ctx.req` is a Fetch Request, not Node's request. */
const FETCH_HEADERS_GETTER = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * bench/lib/floor.mjs's `trpcFloorMiddleware`, reading the Fetch `Headers` of the fetch adapter's request
 * (that one reads Node's plain header object): one extract and one `context.with` per call, with `spans`
 * under a SERVER span ended when `next` settles.
 * @param {{ spans: boolean }} options
 */
function trpcFetchFloorMiddleware({ spans }) {
  const extract = (ctx) => propagation.extract(ROOT_CONTEXT, ctx.req.headers, FETCH_HEADERS_GETTER);
  if (!spans) return ({ ctx, next }) => context.with(extract(ctx), next);
  const tracer = trace.getTracer('floor');
  return async ({ ctx, path, next }) => {
    const extracted = extract(ctx);
    const span = tracer.startSpan(path, { kind: SpanKind.SERVER }, extracted);
    try {
      return await context.with(trace.setSpan(extracted, span), next);
    } finally {
      span.end();
    }
  };
}

/**
 * The server side of a request, as a real server would start it: in the root context. Called directly, the
 * handler would run in the client's context (AsyncLocalStorage follows the call), and the server code
 * would see the caller's context without any propagation: the baseline would join its callers' traces,
 * and our middleware would take the call for an in-process one (`createCaller`, `localLink`) and skip
 * the extract it makes for a request that came over the wire.
 */
const asIncoming =
  (handler) =>
  (...args) =>
    context.with(ROOT_CONTEXT, handler, undefined, ...args);

/** The bench's tRPC app (bench/suites/trpc.mjs: the `greet` query, the variant's link and middleware) in process. */
async function trpcScenarios(spec, otel) {
  const { createTRPCClient, httpBatchLink, httpLink } = await import('@trpc/client');
  const { initTRPC } = await import('@trpc/server');
  const { fetchRequestHandler } = await import('@trpc/server/adapters/fetch');
  const { observable } = await import('@trpc/server/observable');
  const { ours, empty, floor } = spec;
  const integration = ours ? await importOwn('trpc') : undefined;

  const t = initTRPC.context().create();
  const procedure = ours
    ? t.procedure.use(integration.traceContextMiddleware(ownOptions(ours)))
    : empty
      ? t.procedure.use(({ next }) => next())
      : floor
        ? t.procedure.use(trpcFetchFloorMiddleware(floor))
        : t.procedure;
  const router = t.router({
    greet: procedure
      .input((value) => value)
      .query(({ input }) => {
        otel.probe(input.caller);
        return { greeting: `hello ${input.caller}`, n: input.n };
      }),
  });
  const createContext = ({ req, info }) => ({ req, info });
  const fetch = asIncoming((url, init) =>
    fetchRequestHandler({ endpoint: TRPC_ENDPOINT, req: new Request(url, init), router, createContext }),
  );

  const url = `${ORIGIN}${TRPC_ENDPOINT}`;
  const emptyLink =
    () =>
    ({ next, op }) =>
      next(op);
  const withOurs = (terminating) =>
    ours
      ? [integration.traceContextLink(ownOptions(ours)), terminating]
      : empty
        ? [emptyLink, terminating]
        : floor
          ? [trpcFloorLink({ observable, spans: floor.spans }), terminating]
          : [terminating];
  const headers = ours ? { headers: integration.traceContextHeaders } : floor ? { headers: trpcFloorHeaders } : {};
  const single = createTRPCClient({ links: withOurs(httpLink({ url, fetch, ...headers })) });
  const batch = createTRPCClient({ links: withOurs(httpBatchLink({ url, fetch, maxItems: 10, ...headers })) });

  let n = 0;
  const one = (client) => otel.asCaller((caller) => client.greet.query({ caller, n: n++ }));
  return {
    single: { label: 'tRPC single call (`httpLink`)', opsPerCall: 1, concurrency: 4, call: () => one(single) },
    batch10: {
      label: 'tRPC batch of 10 (`httpBatchLink`)',
      opsPerCall: 10,
      concurrency: BATCH_CONCURRENCY,
      call: () => Promise.all(Array.from({ length: 10 }, () => one(batch))),
    },
  };
}

/** The bench's GraphQL app (bench/suites/graphql.mjs: its schema, query, links and plugins) on `yoga.fetch`. */
async function graphqlScenarios(spec, otel) {
  const { ApolloClient, ApolloLink, HttpLink, InMemoryCache } = await import('@apollo/client');
  const { BatchHttpLink } = await import('@apollo/client/link/batch-http');
  const { createSchema, createYoga } = await import('graphql-yoga');
  const { GREET, clientLinks, resolvers, serverPlugins, typeDefs } = await import('../suites/graphql.mjs');
  const yoga = createYoga({
    schema: createSchema({ typeDefs, resolvers: resolvers(otel) }),
    plugins: await serverPlugins(spec, otel),
    batching: { limit: 10 },
    graphiql: false,
    landingPage: false,
    logging: false,
  });
  const uri = `${ORIGIN}${yoga.graphqlEndpoint}`;
  const fetch = asIncoming((input, init) => yoga.fetch(input, init));

  const ours = await clientLinks(spec);
  const client = (terminating) =>
    new ApolloClient({
      link: ApolloLink.from([...ours, terminating]),
      cache: new InMemoryCache(),
      queryDeduplication: false,
    });
  const single = client(new HttpLink({ uri, fetch }));
  // As in the suite: one batch key for ours and the floor, whose headers differ per operation.
  const batchKey = spec.ours
    ? (await importOwn('apollo')).traceContextBatchKey(uri)
    : spec.floor
      ? () => uri
      : undefined;
  const batch = client(new BatchHttpLink({ uri, fetch, batchMax: 10, batchInterval: 0, batchKey }));

  let n = 0;
  const greet = (apollo) =>
    otel.asCaller((caller) => apollo.query({ query: GREET, variables: { caller, n: n++ }, fetchPolicy: 'no-cache' }));
  return {
    single: { label: 'GraphQL single query (`HttpLink`)', opsPerCall: 1, concurrency: 4, call: () => greet(single) },
    batch10: {
      label: 'GraphQL batch of 10 (`BatchHttpLink`)',
      opsPerCall: 10,
      concurrency: BATCH_CONCURRENCY,
      call: () => Promise.all(Array.from({ length: 10 }, () => greet(batch))),
    },
  };
}

/**
 * The single and batch-of-10 scenarios of `suite` for `variant`, client and server in this process.
 * Call after setupOtel (bench/lib/otel.mjs), as the suites are.
 * @param {{ suite: 'trpc' | 'graphql', variant: string,
 *   otel: Awaited<ReturnType<typeof import('./otel.mjs').setupOtel>> }} options
 * @returns {Promise<Record<'single' | 'batch10', { label: string, opsPerCall: number, concurrency: number,
 *   call: () => Promise<unknown> }>>}
 */
export async function inProcessScenarios({ suite, variant, otel }) {
  const { variants } = await import(`../suites/${suite}.mjs`);
  const spec = variants[variant];
  if (!spec) throw new Error(`unknown variant ${variant} for suite ${suite}`);
  return suite === 'trpc' ? trpcScenarios(spec, otel) : graphqlScenarios(spec, otel);
}
