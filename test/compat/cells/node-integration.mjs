// tRPC (standalone adapter) and Yoga (Node http) servers on loopback, driven by the client links, on Node.
// argv: trpc | graphql | apollo | urql
import { createServer } from 'node:http';
import {
  apolloClientCheck,
  graphqlFetchCheck,
  trpcClientCheck,
  trpcRouter,
  urqlClientCheck,
  yogaServer,
} from './apps.mjs';
import { done, fail, registerPropagation, requireImplemented } from './lib.mjs';

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));

/**
 * Registers the variant's real tracer provider (SDK 3.x sdk-trace or SDK 2.x sdk-trace-base) so the
 * integrations' CLIENT and SERVER spans are recorded; check() then asserts every SERVER span is parented by
 * a CLIENT span of the same trace, or by the caller's own span when no client link ran (plain fetch).
 */
async function registerSdk() {
  const { SpanKind, trace } = await import('@opentelemetry/api');
  const { readFileSync } = await import('node:fs');
  const declared = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies);
  const name = ['@opentelemetry/sdk-trace', '@opentelemetry/sdk-trace-base'].find((n) => declared.includes(n));
  if (!name) return { check: async () => 'no OTel SDK in this variant' };
  const sdk = await import(name);
  const sdkVersion = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
  const exporter = new sdk.InMemorySpanExporter();
  const Provider = sdk.TracerProvider ?? sdk.BasicTracerProvider;
  const provider = new Provider({
    spanProcessors: [new sdk.SimpleSpanProcessor(sdk.TracerProvider ? { exporter } : exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    async check() {
      await provider.forceFlush();
      const finished = exporter.getFinishedSpans();
      const clients = new Map(
        finished.filter((s) => s.kind === SpanKind.CLIENT).map((s) => [s.spanContext().spanId, s]),
      );
      const servers = finished.filter((s) => s.kind === SpanKind.SERVER);
      if (servers.length < 3) throw new Error(`expected a SERVER span per operation, got ${servers.length}`);
      for (const server of servers) {
        const parentId = server.parentSpanContext?.spanId ?? server.parentSpanId;
        const client = clients.get(parentId);
        const ok = client
          ? client.spanContext().traceId === server.spanContext().traceId
          : parentId === '00f067aa0ba902b7';
        if (!ok) throw new Error(`SERVER span ${server.name} has parent ${parentId}, not a CLIENT span of its trace`);
      }
      return `${name} ${sdkVersion}: ${servers.length} SERVER spans, each parented by its operation's ${clients.size ? 'CLIENT span' : 'caller span'}`;
    },
  };
}

const mode = process.argv[2];
let server;
try {
  registerPropagation();
  const spans = await registerSdk();
  const { readFileSync } = await import('node:fs');
  const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
  let detail;
  await requireImplemented(mode === 'trpc' ? 'otel-rpc-context/trpc' : 'otel-rpc-context/yoga');
  if (mode === 'trpc') {
    const { createHTTPServer } = await import('@trpc/server/adapters/standalone');
    server = createHTTPServer({ router: await trpcRouter(), createContext: ({ req, info }) => ({ req, info }) });
    const url = await listen(server);
    detail = `tRPC ${version('@trpc/server')}: ${await trpcClientCheck(url)}`;
  } else {
    const yoga = await yogaServer();
    server = createServer(yoga);
    const url = `${await listen(server)}/graphql`;
    if (mode === 'apollo') {
      const apollo = version('@apollo/client');
      if (apollo.startsWith('3.')) {
        // Apollo Client 3 has no entry Node's ESM loader can import by name (the root is CommonJS whose names
        // it cannot see, `/core` a folder): Node apps on 3.x require it, and the link's CommonJS build with
        // it. Bundlers read its ESM build (tested in Chromium).
        const { createRequire } = await import('node:module');
        const require = createRequire(import.meta.url);
        let esm = 'import of the ESM build: ok';
        await import('otel-rpc-context/apollo').catch((e) => {
          esm = `import of the ESM build fails as Apollo Client 3's own does (${e.code ?? e.name})`;
        });
        // A Node app without React loads `@apollo/client/core` (3's root requires react through its hooks).
        const modules = {
          apollo: require('@apollo/client/core'),
          batch: require('@apollo/client/link/batch-http'),
          link: require('otel-rpc-context/apollo'),
        };
        detail = `graphql ${version('graphql')}, Apollo Client ${apollo}, ${await apolloClientCheck(url, modules)} (require; ${esm})`;
      } else {
        await requireImplemented('otel-rpc-context/apollo');
        detail = `graphql ${version('graphql')}, ${await apolloClientCheck(url)}`;
      }
    } else if (mode === 'urql') {
      await requireImplemented('otel-rpc-context/urql');
      detail = `@urql/core ${version('@urql/core')}, graphql-yoga ${version('graphql-yoga')}: ${await urqlClientCheck(url)}`;
    } else {
      detail = `graphql ${version('graphql')}, graphql-yoga ${version('graphql-yoga')}: ${await graphqlFetchCheck(url)}`;
    }
  }
  server.close();
  server.closeAllConnections?.();
  done(`${detail}; ${await spans.check()} (Node ${process.versions.node})`);
} catch (error) {
  server?.close();
  fail(error);
}
