// Loads an entry point of otel-rpc-context: from the private build bench/run.mjs makes of src/ (so a
// concurrent `npm run build` cannot pull dist/ away mid-run), or through the package's own exports.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folder our compiled files load from: the private build, else the package's dist/esm. */
export function ownDir() {
  const dist = process.env.OTEL_RPC_CONTEXT_BENCH_DIST;
  if (dist) return dist;
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'esm');
}

/** @param {'index' | 'trpc' | 'yoga' | 'apollo'} entry */
export function importOwn(entry) {
  const dist = process.env.OTEL_RPC_CONTEXT_BENCH_DIST;
  if (dist) return import(pathToFileURL(path.join(dist, `${entry}.js`)).href);
  return import(entry === 'index' ? 'otel-rpc-context' : `otel-rpc-context/${entry}`);
}

/**
 * The options our variants pass to each integration: their `spans`, and with
 * OTEL_RPC_CONTEXT_BENCH_METRICS=off also `metrics: false` (no histogram lookup or record at all), e.g. to
 * profile what the default `metrics: true` costs when no MeterProvider is registered.
 * @param {{ spans: boolean }} ours
 */
export function ownOptions(ours) {
  return process.env.OTEL_RPC_CONTEXT_BENCH_METRICS === 'off'
    ? { spans: ours.spans, metrics: false }
    : { spans: ours.spans };
}

/**
 * The variants every suite runs, first and in this order: the baseline, its A/A control, and ours without
 * spans, with spans, and with spans and a MeterProvider. Each suite adds its anchors after them.
 */
export const SHARED_VARIANTS = {
  baseline: { label: 'baseline (no propagation)' },
  'baseline-aa': { label: 'baseline again, own process (A/A noise check)', control: true },
  'ours-nospans': { label: 'ours, `spans: false`', ours: { spans: false } },
  'ours-spans': { label: 'ours, with spans', ours: { spans: true } },
  // The same with a real MeterProvider registered globally (bench/lib/otel.mjs): our duration histograms
  // record and the SDK aggregates; in every other variant no MeterProvider is registered (metrics a no-op).
  'ours-metrics': {
    label: 'ours, with spans and a MeterProvider (metrics on)',
    short: 'ours, spans + metrics',
    ours: { spans: true },
    metrics: true,
    role: 'metrics',
  },
};
