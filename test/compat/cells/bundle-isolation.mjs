// Bundles each entry point with esbuild (browser platform, everything inlined) and reads the metafile:
// `otel-rpc-context/trpc` must pull in nothing of Apollo, Yoga or GraphQL (also with its tRPC peers bundled),
// the core nothing but the API, and the GraphQL entry points nothing of each other or of tRPC.
// argv: <esbuild package folder>
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { check, done, fail } from './lib.mjs';

const require = createRequire(join(process.argv[2], 'noop.js'));
const esbuild = require('esbuild');
const dir = join(process.cwd(), 'bundle-isolation');
mkdirSync(dir, { recursive: true });

// Per entry point: what its bundle must not contain, and the peers left external (an app bundles those anyway;
// the sizes then measure only what this package adds).
// Our own modules, by integration: the entry file and the folder that holds its implementation.
const own = (...names) => new RegExp(`otel-rpc-context/dist/esm/(${names.join('|')})`);
const APOLLO = ['apollo\\.js', 'graphql/apollo/'];
const YOGA = ['yoga\\.js', 'graphql/yoga/'];
const TRPC = ['trpc\\.js', 'trpc/'];
const URQL = ['urql\\.js', 'graphql/urql/'];
const APOLLO_SERVER = ['apollo-server\\.js', 'graphql/apollo-server/'];
const GRAPHQL_WS = ['graphql-ws\\.js', 'graphql/graphql-ws/'];
const entries = {
  'otel-rpc-context': {
    bad: [/@apollo|graphql|@envelop|@trpc|rxjs|@urql|wonka/, own(...APOLLO, ...YOGA, ...TRPC, ...URQL, 'graphql/')],
    external: ['@opentelemetry/api'],
  },
  'otel-rpc-context/trpc': {
    bad: [/@apollo|graphql|@envelop|@whatwg-node|rxjs/, own(...APOLLO, ...YOGA, 'graphql/')],
    external: ['@opentelemetry/api', '@trpc/*'],
  },
  'otel-rpc-context/yoga': {
    bad: [/@apollo|@trpc|rxjs/, own(...APOLLO, ...TRPC, ...APOLLO_SERVER, ...GRAPHQL_WS)],
    external: ['@opentelemetry/api', 'graphql-yoga', 'graphql', '@envelop/*'],
  },
  'otel-rpc-context/apollo': {
    bad: [/graphql-yoga|@envelop|@trpc|@whatwg-node|@urql|wonka/, own(...YOGA, ...TRPC, ...URQL, 'graphql/server')],
    external: ['@opentelemetry/api', '@apollo/client', '@apollo/client/*', 'rxjs', 'graphql'],
  },
  // urql: nothing of Apollo, tRPC or Yoga; only @urql/core (left external), never wonka directly.
  'otel-rpc-context/urql': {
    bad: [
      /@apollo|graphql-yoga|@envelop|@trpc|@whatwg-node|rxjs|wonka/,
      own(...APOLLO, ...YOGA, ...TRPC, 'graphql/server'),
    ],
    external: ['@opentelemetry/api', '@urql/core'],
  },
  // The server integrations share src/graphql/server.ts and graphql/shared.ts, never another server's folder.
  // The Apollo Server entry imports graphql's `execute` for traceContextGateway only (a peer: Apollo Server
  // depends on graphql itself), so graphql stays external.
  'otel-rpc-context/apollo-server': {
    bad: [
      /graphql-yoga|@envelop|@trpc|@whatwg-node|rxjs|@apollo|graphql-ws|node_modules\/graphql\//,
      own(...APOLLO, ...TRPC, ...GRAPHQL_WS, ...YOGA, 'graphql/client'),
    ],
    external: ['@opentelemetry/api', 'graphql'],
  },
  'otel-rpc-context/graphql-ws': {
    bad: [
      /graphql-yoga|@envelop|@trpc|@whatwg-node|rxjs|@apollo/,
      own(...APOLLO, ...APOLLO_SERVER, ...TRPC, ...YOGA, 'graphql/client'),
    ],
    external: ['@opentelemetry/api', 'graphql'],
  },
};

try {
  const sizes = [];
  for (const [specifier, { bad, external }] of Object.entries(entries)) {
    const entry = join(dir, `${specifier.replace(/\W/g, '_')}.mjs`);
    writeFileSync(entry, `export * from '${specifier}';\n`);
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      external,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const offenders = inputs.filter((p) => bad.some((re) => re.test(p)));
    check(offenders.length === 0, `${specifier} pulls in ${offenders.join(', ')}`);
    const ownModules = inputs.filter((p) => p.includes('otel-rpc-context/dist/')).length;
    sizes.push(`${specifier}: ${result.outputFiles[0].contents.length} B min (${ownModules} own modules)`);
    // With the tRPC client bundled too, still nothing of Apollo/Yoga/GraphQL arrives.
    if (specifier.endsWith('/trpc')) {
      const full = await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        write: false,
        metafile: true,
        format: 'esm',
        platform: 'browser',
        logLevel: 'silent',
      });
      const extra = Object.keys(full.metafile.inputs).filter((p) => bad.some((re) => re.test(p)));
      check(extra.length === 0, `${specifier} with its peers pulls in ${extra.join(', ')}`);
    }
  }
  done(sizes.join('; '));
} catch (error) {
  fail(error);
}
