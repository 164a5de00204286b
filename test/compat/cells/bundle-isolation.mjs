// Bundles each entry point with esbuild (browser platform, everything inlined) and reads the metafile:
// `otel-rpc-context/trpc` must pull in nothing of Apollo, Yoga or GraphQL, and the core nothing but the API.
// argv: <esbuild package folder>
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { check, done, fail } from './lib.mjs';

const require = createRequire(join(process.argv[2], 'noop.js'));
const esbuild = require('esbuild');
const dir = join(process.cwd(), 'bundle-isolation');
mkdirSync(dir, { recursive: true });

const forbidden = {
  'otel-rpc-context': /@apollo|graphql|@envelop|@trpc|otel-rpc-context\/dist\/esm\/(apollo|yoga|trpc)\.js/,
  'otel-rpc-context/trpc': /@apollo|graphql|@envelop|@whatwg-node|otel-rpc-context\/dist\/esm\/(apollo|yoga)\.js/,
};

try {
  const sizes = [];
  for (const [specifier, bad] of Object.entries(forbidden)) {
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
      // The tRPC client is a peer the app bundles anyway; measure only what this package adds on top.
      external: specifier.endsWith('/trpc') ? ['@trpc/*', '@opentelemetry/api'] : ['@opentelemetry/api'],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const offenders = inputs.filter((p) => bad.test(p));
    check(offenders.length === 0, `${specifier} pulls in ${offenders.join(', ')}`);
    const own = inputs.filter((p) => p.includes('otel-rpc-context/dist/'));
    sizes.push(`${specifier}: ${result.outputFiles[0].contents.length} B min (${own.length} own modules)`);
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
      const extra = Object.keys(full.metafile.inputs).filter((p) => bad.test(p));
      check(extra.length === 0, `${specifier} with its peers pulls in ${extra.join(', ')}`);
    }
  }
  done(sizes.join('; '));
} catch (error) {
  fail(error);
}
