/**
 * `npm run demo`: the example without a browser. Starts the server, then drives every action from Node with
 * the same clients and links as the page (its spans go to the server over OTLP/HTTP JSON, as the browser's
 * do), prints each action's shared trace as a tree, checks it, and exits 0 when every trace is whole.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { EventSource } from 'eventsource';
import { ACTIONS, runAction } from '../shared/actions.ts';
import { checkActionTrace } from '../shared/check.ts';
import { createClients } from '../shared/clients.ts';
import { formatTraceTree, type StoredTrace } from '../shared/spans.ts';

const serverEntry = fileURLToPath(new URL('../server/main.ts', import.meta.url));

async function startServer(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [serverEntry], {
    env: { ...process.env, PORT: process.env.PORT ?? '0', TRACE_TREES: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      const match = /example: (http:\/\/\S+?)\/?\s/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return { child, origin };
}

async function fetchTrace(origin: string, traceId: string): Promise<StoredTrace | undefined> {
  const res = await fetch(`${origin}/api/traces/${traceId}`);
  return res.ok ? ((await res.json()) as StoredTrace) : undefined;
}

const { child, origin } = await startServer();
let failures = 0;
try {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'fullstack-demo-client' }),
    spanProcessors: [
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
  child.kill('SIGTERM');
  await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 3000))]);
}
console.log(
  failures === 0
    ? `demo: ${ACTIONS.length} actions, ${ACTIONS.length} complete traces (click → client → server → resolvers → database)`
    : `demo: ${failures} of ${ACTIONS.length} traces incomplete`,
);
process.exit(failures === 0 ? 0 : 1);
