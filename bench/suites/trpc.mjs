// tRPC over loopback: standalone HTTP server and a client in the same process.
import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { observable } from '@trpc/server/observable';
import { EventSource } from 'eventsource';
import { trpcFloorHeaders, trpcFloorLink, trpcFloorMiddleware } from '../lib/floor.mjs';
import { importOwn, ownOptions, SHARED_VARIANTS } from '../lib/own.mjs';

export const variants = {
  ...SHARED_VARIANTS,
  empty: {
    label: 'empty link + empty middleware (what any link and middleware cost)',
    short: 'empty link + middleware',
    empty: true,
  },
  // The OpenTelemetry floor (bench/lib/floor.mjs): inject, extract and `context.with` alone, of our shape.
  floor: {
    label: 'OTel floor, `spans: false`: a link that injects + a middleware that extracts and runs `next` in it',
    short: 'OTel floor, `spans: false`',
    floor: { spans: false },
    role: 'floor',
  },
  'floor-spans': {
    label: 'OTel floor with spans: the same + one CLIENT and one SERVER span',
    short: 'OTel floor, spans',
    floor: { spans: true },
    role: 'floor',
  },
  'http-auto': { label: 'instrumentation-http + -undici', short: 'HTTP auto', instrument: ['http', 'undici'] },
};

export const SUBSCRIPTION_EVENTS = 1000;

/**
 * The bench's tRPC app for a variant: its router (`greet`, `ticks`) with the variant's middleware,
 * `links(terminating)` with the variant's link before `terminating`, and the `headers` option for the HTTP links.
 * @param {{ ours?: { spans: boolean }, empty?: boolean, floor?: { spans: boolean } }} spec
 */
export function trpcApp(spec, otel, integration) {
  const { ours, empty, floor } = spec;
  const t = initTRPC.context().create();
  // The empty variant: tRPC's own cost of one middleware and one link, with nothing in them.
  const procedure = ours
    ? t.procedure.use(integration.traceContextMiddleware(ownOptions(ours)))
    : empty
      ? t.procedure.use(({ next }) => next())
      : floor
        ? t.procedure.use(trpcFloorMiddleware(floor))
        : t.procedure;
  const router = t.router({
    greet: procedure
      .input((value) => value)
      .query(({ input }) => {
        otel.probe(input.caller);
        return { greeting: `hello ${input.caller}`, n: input.n };
      }),
    ticks: procedure
      .input((value) => value)
      .subscription(async function* ({ input }) {
        for (let i = 0; i < input.n; i++) {
          otel.probe(input.caller);
          yield { i };
        }
      }),
  });
  const emptyLink =
    () =>
    ({ next, op }) =>
      next(op);
  const withOurs = (terminating) =>
    ours
      ? [integration.traceContextLink(ownOptions(ours)), terminating]
      : empty
        ? [emptyLink, terminating]
        : floor
          ? [trpcFloorLink({ observable, spans: floor.spans }), terminating]
          : [terminating];
  const headers = ours ? { headers: integration.traceContextHeaders } : floor ? { headers: trpcFloorHeaders } : {};
  return { router, links: withOurs, headers };
}

/** @param {{ variant: string, otel: Awaited<ReturnType<typeof import('../lib/otel.mjs').setupOtel>> }} options */
export async function createSuite({ variant, otel }) {
  const { ours } = variants[variant];
  const integration = ours ? await importOwn('trpc') : undefined;
  if (integration && typeof integration.traceContextMiddleware !== 'function') {
    throw new Error('otel-rpc-context/trpc does not export traceContextMiddleware yet');
  }

  const { router, links: withOurs, headers } = trpcApp(variants[variant], otel, integration);
  const server = createHTTPServer({ router, createContext: ({ req, res, info }) => ({ req, res, info }) });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  const single = createTRPCClient({ links: withOurs(httpLink({ url, ...headers })) });
  const batch = createTRPCClient({ links: withOurs(httpBatchLink({ url, maxItems: 10, ...headers })) });
  const sub = createTRPCClient({
    links: withOurs(
      // The operation's carrier travels in the subscription's URL (README: tRPC subscriptions over SSE).
      httpSubscriptionLink({ url: ours ? integration.traceContextUrl(url) : url, EventSource }),
    ),
  });

  let n = 0;
  const one = (client) => otel.asCaller((caller) => client.greet.query({ caller, n: n++ }));
  const scenarios = {
    single: {
      label: 'tRPC `httpLink`, single calls',
      short: 'tRPC single call (`httpLink`)',
      opsPerCall: 1,
      concurrency: 4,
      call: () => one(single),
    },
    batch10: {
      label: 'tRPC `httpBatchLink`, batches of 10',
      short: 'tRPC batch of 10 (`httpBatchLink`)',
      opsPerCall: 10,
      concurrency: 2,
      call: () => Promise.all(Array.from({ length: 10 }, () => one(batch))),
    },
    subscription: {
      label: `tRPC \`httpSubscriptionLink\` (SSE), events of a ${SUBSCRIPTION_EVENTS}-event subscription`,
      short: 'tRPC subscription events (SSE)',
      opsPerCall: SUBSCRIPTION_EVENTS,
      concurrency: 1,
      call: () =>
        new Promise((resolve, reject) => {
          let seen = 0;
          const subscription = otel.asCaller((caller) =>
            sub.ticks.subscribe(
              { n: SUBSCRIPTION_EVENTS, caller },
              {
                onData() {
                  if (++seen === SUBSCRIPTION_EVENTS) {
                    subscription.unsubscribe();
                    resolve();
                  }
                },
                onError: reject,
                onComplete() {
                  if (seen < SUBSCRIPTION_EVENTS) reject(new Error(`subscription ended after ${seen} events`));
                },
              },
            ),
          );
        }),
    },
  };

  return {
    scenarios,
    /** Scenarios whose heap is measured over many operations (up to 100,000; see bench/run.mjs). */
    memory: Object.keys(scenarios),
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
