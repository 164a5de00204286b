// Bun and Deno: the core API, and tRPC's fetch adapter and Yoga served by the runtime's own HTTP server
// (Bun.serve, Deno.serve) on loopback, called by the client link in the same runtime.
// argv: core | trpc | yoga
import process from 'node:process';
import { context, propagation } from '@opentelemetry/api';
import { graphqlFetchCheck, trpcClientCheck, trpcFetchHandler, yogaServer } from './apps.mjs';
import {
  activeTraceId,
  check,
  contextFor,
  done,
  fail,
  registerPropagation,
  requireImplemented,
  traceIdFor,
} from './lib.mjs';

const runtime = globalThis.Bun
  ? `Bun ${globalThis.Bun.version}`
  : globalThis.Deno
    ? `Deno ${globalThis.Deno.version.deno}`
    : `Node ${process.versions.node}`;

function serve(handler) {
  if (globalThis.Bun) {
    const server = globalThis.Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler });
    return { url: `http://127.0.0.1:${server.port}`, close: () => server.stop(true) };
  }
  if (globalThis.Deno) {
    const server = globalThis.Deno.serve({ port: 0, hostname: '127.0.0.1', onListen() {} }, handler);
    return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
  }
  throw new Error('runtime-app.mjs runs on Bun or Deno');
}

const mode = process.argv[2];
let server;
try {
  registerPropagation();
  let detail;
  if (mode === 'core') {
    const { attachContext, getContext } = await import('otel-rpc-context');
    const parent = propagation.setBaggage(contextFor('e'), propagation.createBaggage({ k: { value: 'v' } }));
    const carrier = context.with(parent, () => getContext());
    check(carrier.traceparent?.startsWith(`00-${traceIdFor('e')}-`), `traceparent: ${JSON.stringify(carrier)}`);
    const seen = await attachContext(carrier, async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return { traceId: activeTraceId(), k: propagation.getBaggage(context.active())?.getEntry('k')?.value };
    });
    check(seen.traceId === traceIdFor('e') && seen.k === 'v', `attached across await: ${JSON.stringify(seen)}`);
    check(activeTraceId() === null, 'previous context restored');
    detail = 'getContext/attachContext with W3C trace context + baggage, across await';
  } else if (mode === 'trpc') {
    await requireImplemented('otel-rpc-context/trpc');
    const handler = await trpcFetchHandler();
    server = serve(handler);
    detail = `tRPC fetch adapter: ${await trpcClientCheck(`${server.url}/trpc`)}`;
  } else {
    await requireImplemented('otel-rpc-context/yoga');
    const yoga = await yogaServer();
    server = serve(yoga.fetch);
    detail = `Yoga: ${await graphqlFetchCheck(`${server.url}/graphql`)}`;
  }
  await server?.close();
  done(`${detail} (${runtime})`);
} catch (error) {
  fail(error);
}
