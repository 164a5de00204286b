// The tRPC and GraphQL bench apps with client and server in one process and no sockets, for
// bench/instructions.mjs: each client's `fetch` hands its Request straight to the server's fetch handler
// (tRPC's `fetchRequestHandler`, `yoga.fetch`). Over loopback, how requests batch and when the event loop
// polls vary from run to run; without sockets the same operations execute the same instructions, so
// valgrind's instruction count per operation repeats to well under 1%.
//
// Same router, schema, queries, variants (bench/lib/own.mjs, bench/lib/floor.mjs) and callers as the
// suites in bench/suites/; only the single and batch-of-10 request scenarios.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { importOwn } from './own.mjs';

/** Where the in-process servers pretend to live: the URL only has to parse and match their endpoint. */
const ORIGIN = 'http://localhost';
const TRPC_ENDPOINT = '/trpc';

/**
 * One batch in flight at a time (the suites run two): both batch links dispatch on a timer, and with two
 * loops whether their operations meet in one timer tick depends on how fast the process runs, which
 * under valgrind moved the baseline's count by 2%. With one, every call is exactly one request of 10.
 */
const BATCH_CONCURRENCY = 1;

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
  const { fetchRequestHandler } = await import('@trpc/server/adapters/fetch');
  const { trpcApp } = await import('../suites/trpc.mjs');
  const integration = spec.ours ? await importOwn('trpc') : undefined;
  const { router, links, headers } = trpcApp(spec, otel, integration);
  const createContext = ({ req, info }) => ({ req, info });
  const fetch = asIncoming((url, init) =>
    fetchRequestHandler({ endpoint: TRPC_ENDPOINT, req: new Request(url, init), router, createContext }),
  );
  const url = `${ORIGIN}${TRPC_ENDPOINT}`;
  const single = createTRPCClient({ links: links(httpLink({ url, fetch, ...headers })) });
  const batch = createTRPCClient({ links: links(httpBatchLink({ url, fetch, maxItems: 10, ...headers })) });

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
  const { HttpLink } = await import('@apollo/client');
  const { BatchHttpLink } = await import('@apollo/client/link/batch-http');
  const { GREET, apolloClients, createBenchYoga } = await import('../suites/graphql.mjs');
  const yoga = await createBenchYoga(spec, otel);
  const uri = `${ORIGIN}${yoga.graphqlEndpoint}`;
  const fetch = asIncoming((input, init) => yoga.fetch(input, init));
  const { client, batchKey } = await apolloClients(spec, uri);
  const single = client(new HttpLink({ uri, fetch }));
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
