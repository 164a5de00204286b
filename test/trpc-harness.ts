import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, trace } from '@opentelemetry/api';
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { CreateHTTPContextOptions } from '@trpc/server/adapters/standalone';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { type TraceContextMiddlewareOptions, traceContextEncoder, traceContextMiddleware } from '../src/trpc.js';
import { fetchAdapterHandler, listenOnLoopback } from './support/trpc-servers.js';

/** What a procedure saw: the span context and baggage active while it ran. */
export interface Seen {
  i: number;
  traceId: string;
  spanId: string;
  baggage?: string | undefined;
}

/** The span context and baggage (entry `k`) active now, reported as operation `i`'s. */
export function seen(i: number): Seen {
  const active = context.active();
  const span = trace.getSpanContext(active);
  return {
    i,
    traceId: span?.traceId ?? '',
    spanId: span?.spanId ?? '',
    baggage: propagation.getBaggage(active)?.getEntry('k')?.value,
  };
}

type Ctx = { req?: unknown; info?: unknown };

/**
 * The test router, every procedure behind `traceContextMiddleware(options)` (or none with `middleware: false`):
 * queries and a mutation that report what they {@link seen} after timers, a nested in-process call, a failing
 * and a slow query, and a resumable subscription.
 */
export function makeRouter(options: TraceContextMiddlewareOptions & { middleware?: boolean } = {}) {
  const t = initTRPC.context<Ctx>().create();
  const procedure = options.middleware === false ? t.procedure : t.procedure.use(traceContextMiddleware(options));
  const input = z.object({ i: z.number(), delay: z.number().optional() });
  const body = async ({ input }: { input: { i: number; delay?: number } }) => {
    await sleep(input.delay ?? 1);
    await Promise.resolve();
    return seen(input.i);
  };
  const innerRouter = t.router({ q: procedure.input(input).query(body) });
  const createCaller = t.createCallerFactory(innerRouter);
  const router = t.router({
    nested: procedure.input(input).query(async ({ ctx, input }) => {
      const outer = seen(input.i);
      const inner = await createCaller(ctx).q({ i: input.i });
      return { outer, inner };
    }),
    a: t.router({ q: procedure.input(input).query(body) }),
    b: t.router({ q: procedure.input(input).query(body) }),
    m: procedure.input(input).mutation(body),
    noInput: procedure.query(() => seen(-1)),
    fail: procedure.input(input).query(() => {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'nothing here' });
    }),
    slow: procedure.input(input).query(async ({ input, signal }) => {
      await sleep(input.delay ?? 2000, undefined, { signal }).catch(() => undefined);
      return seen(input.i);
    }),
    /** A subscription without input, ticking until unsubscribed. */
    ticks: procedure.subscription(async function* ({ signal }) {
      while (!signal?.aborted) {
        await sleep(5);
        yield seen(-1);
      }
    }),
    sub: procedure
      .input(z.object({ i: z.number(), count: z.number().optional(), lastEventId: z.string().nullish() }))
      .subscription(async function* ({ input, signal }) {
        let n = input.lastEventId ? Number(input.lastEventId) + 1 : 0;
        const count = input.count ?? 3;
        while (n < count && !signal?.aborted) {
          await sleep(2 + (input.i % 5));
          await new Promise((resolve) => setImmediate(resolve));
          yield tracked(String(n), { ...seen(input.i), n });
          n++;
        }
      }),
  });
  return router;
}
/** The type of {@link makeRouter}'s router, for typed clients. */
export type AppRouter = ReturnType<typeof makeRouter>;

/** The three loopback servers of {@link startServers}, and how to close them all. */
export interface Servers {
  standaloneUrl: string;
  fetchUrl: string;
  wsUrl: string;
  wss: WebSocketServer;
  connections: () => number;
  close: () => Promise<void>;
}

/** The standalone, fetch and WebSocket adapters, each on its own loopback port. */
export async function startServers(router: AppRouter, wsOptions: { encoder?: boolean } = {}): Promise<Servers> {
  const standalone = await listenOnLoopback(
    createHTTPServer({
      router,
      createContext: ({ req, info }: CreateHTTPContextOptions) => ({ req, info }),
    }),
  );
  const fetchServer = await listenOnLoopback(
    http.createServer(
      fetchAdapterHandler((req) =>
        fetchRequestHandler({ endpoint: '', req, router, createContext: ({ req, info }) => ({ req, info }) }),
      ),
    ),
  );

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  let connections = 0;
  wss.on('connection', () => connections++);
  applyWSSHandler({
    wss,
    router,
    createContext: ({ req, info }) => ({ req, info }),
    experimental_encoder: wsOptions.encoder === false ? undefined : traceContextEncoder(),
  });
  return {
    standaloneUrl: standalone.url,
    fetchUrl: fetchServer.url,
    wsUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    wss,
    connections: () => connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await Promise.all([standalone.close(), fetchServer.close()]);
    },
  };
}
