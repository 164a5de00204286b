/**
 * `npm run demo`: the example without a browser. Starts the server, then drives every action from Node with
 * the same clients and links as the page (its spans go to the server over OTLP/HTTP JSON, as the browser's
 * do), prints each action's shared trace as a tree, checks it, and exits 0 when every trace is whole.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { EventSource } from 'eventsource';
import { ACTIONS, runAction } from '../shared/actions.ts';
import { checkActionTrace } from '../shared/check.ts';
import { createClients } from '../shared/clients.ts';
import { PreciseStartSpanProcessor } from '../shared/precise-start.ts';
import { formatTraceTree, type StoredTrace } from '../shared/spans.ts';
import { startServerProcess } from './server-process.ts';

async function fetchTrace(origin: string, traceId: string): Promise<StoredTrace | undefined> {
  const res = await fetch(`${origin}/api/traces/${traceId}`);
  return res.ok ? ((await res.json()) as StoredTrace) : undefined;
}

const server = await startServerProcess(process.env.PORT ? { PORT: process.env.PORT } : {});
const { origin } = server;
let failures = 0;
try {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'fullstack-demo-client' }),
    spanProcessors: [
      new PreciseStartSpanProcessor(), // sub-millisecond start times, as in the page and the server
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${origin}/v1/traces` }), { scheduledDelayMillis: 100 }),
    ],
  });
  // AsyncLocalStorage context manager and the W3C trace context + baggage propagators.
  provider.register();
  const tracer = trace.getTracer('fullstack-demo');
  const clients = createClients({ origin, EventSource: EventSource as unknown as typeof globalThis.EventSource });

  console.log(`otel-rpc-context demo: server at ${origin}/, ${ACTIONS.length} actions\n`);
  for (const action of ACTIONS) {
    const run = await runAction(tracer, action, clients);
    await provider.forceFlush();
    // The server's spans and ours arrive separately: wait (bounded) until the trace is whole.
    let stored: StoredTrace | undefined;
    let problems: string[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      stored = await fetchTrace(origin, run.traceId);
      problems = checkActionTrace(action, stored);
      if (problems.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ok = run.ok && problems.length === 0;
    if (!ok) failures++;
    const sides = new Set(stored?.spans.map((s) => s.side));
    console.log(
      `${ok ? '✔' : '✘'} ${action.group} ${action.label}: ${run.summary} · ${stored?.spans.length ?? 0} spans (${[...sides].join(' + ')}) in one trace`,
    );
    console.log(formatTraceTree(stored?.spans ?? []));
    if (!ok) console.log(`  problems: ${problems.join('; ')}`);
    console.log('');
  }
  clients.close();
  await provider.shutdown();
} finally {
  await server.stop();
}
console.log(
  failures === 0
    ? `demo: ${ACTIONS.length} actions, ${ACTIONS.length} complete traces (click → client → server → resolvers → database)`
    : `demo: ${failures} of ${ACTIONS.length} traces incomplete`,
);
process.exit(failures === 0 ? 0 : 1);
