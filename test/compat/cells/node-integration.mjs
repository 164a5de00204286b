// tRPC (standalone adapter) and Yoga (Node http) servers on loopback, driven by the client links, on Node.
// argv: trpc | graphql | apollo
import { createServer } from 'node:http';
import { apolloClientCheck, graphqlFetchCheck, trpcClientCheck, trpcRouter, yogaServer } from './apps.mjs';
import { done, fail, registerPropagation, requireImplemented, unsupported } from './lib.mjs';

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));

const mode = process.argv[2];
let server;
try {
  registerPropagation();
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
      if (!apollo.startsWith('4.')) {
        // Outside the peer range: say precisely what a user of this version would hit.
        const { createRequire } = await import('node:module');
        const problems = [];
        await import('otel-rpc-context/apollo').catch((e) => problems.push(`import: ${e.code ?? e.message}`));
        try {
          createRequire(import.meta.url)('otel-rpc-context/apollo');
        } catch (e) {
          problems.push(`require: ${e.code ?? e.message}`);
        }
        if (problems.length > 0) {
          unsupported(
            `Apollo Client ${apollo} is outside the peer range (^4): the link does not load, as it imports ` +
              `'@apollo/client/link', an Apollo Client 4 entry point (${problems.join('; ')})`,
          );
        }
      }
      await requireImplemented('otel-rpc-context/apollo');
      detail = `graphql ${version('graphql')}, ${await apolloClientCheck(url).catch((e) => {
        if (apollo.startsWith('4.')) throw e;
        unsupported(`Apollo Client ${apollo} is outside the peer range (^4): ${e.message}`);
      })}`;
    } else {
      detail = `graphql ${version('graphql')}, graphql-yoga ${version('graphql-yoga')}: ${await graphqlFetchCheck(url)}`;
    }
  }
  server.close();
  server.closeAllConnections?.();
  done(`${detail} (Node ${process.versions.node})`);
} catch (error) {
  server?.close();
  fail(error);
}
