// Loads an entry point of otel-rpc-context: from the private build bench/run.mjs makes of src/ (so a
// concurrent `npm run build` cannot pull dist/ away mid-run), or through the package's own exports.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** @param {'index' | 'trpc' | 'yoga' | 'apollo'} entry */
export function importOwn(entry) {
  const dist = process.env.OTEL_RPC_CONTEXT_BENCH_DIST;
  if (dist) return import(pathToFileURL(path.join(dist, `${entry}.js`)).href);
  return import(entry === 'index' ? 'otel-rpc-context' : `otel-rpc-context/${entry}`);
}
