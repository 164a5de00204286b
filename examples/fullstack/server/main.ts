/**
 * The example's one server: `npm start` at the repository root builds the page and runs this.
 * It listens on 127.0.0.1 only. PORT (default 3000, the next free one if taken), OTEL_EXPORTER_OTLP_ENDPOINT
 * (optional: also export every trace to that collector), TRACE_TREES=0 (don't print traces).
 */
import { type App, startApp } from './app.ts';
import { printTrace, TraceStore } from './store.ts';
import { startTelemetry } from './telemetry.ts';

const printTrees = process.env.TRACE_TREES !== '0';
const store = new TraceStore({ onFinished: printTrees ? (trace) => printTrace(trace) : undefined });
const { sdk, collector } = startTelemetry(store);

const host = '127.0.0.1';
const requested = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);

let app: App | undefined;
for (let attempt = 0; attempt < 20 && !app; attempt++) {
  try {
    app = await startApp({ store, host, port: requested === 0 ? 0 : requested + attempt });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || process.env.PORT !== undefined) throw error;
  }
}
if (!app) throw new Error(`no free port from ${requested}`);

console.log(`\n  otel-rpc-context full-stack example: ${app.url}\n`);
console.log(
  collector
    ? `  also exporting every trace to ${collector}`
    : '  traces stay in memory (set OTEL_EXPORTER_OTLP_ENDPOINT to export them too)',
);
if (printTrees) console.log('  each finished trace prints below as a tree; Ctrl-C stops\n');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await app?.close();
  await sdk.shutdown().catch(() => {});
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
