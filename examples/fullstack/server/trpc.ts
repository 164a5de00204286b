import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { initTRPC } from '@trpc/server';
import type { CreateHTTPContextOptions } from '@trpc/server/adapters/standalone';
import { traceContextMiddleware } from 'otel-rpc-context/trpc';
import { z } from 'zod';
import type { Db } from './db.ts';

const tracer = trace.getTracer('example-app');

/** The request goes through to the context: the middleware reads each call's carrier from it. */
export const createContext = ({ req, info }: CreateHTTPContextOptions) => ({ req, info });

const t = initTRPC.context<typeof createContext>().create();

/** Every procedure runs in its caller's context, inside a SERVER span named by its path. */
const procedure = t.procedure.use(traceContextMiddleware({ subscriptionSpan: 'lifetime' }));

export function createAppRouter(db: Db) {
  return t.router({
    todo: t.router({
      list: procedure.query(() => db.listTodos()),
      stats: procedure.query(() => db.stats()),
      add: procedure
        .input(z.object({ title: z.string().min(1).max(200), authorId: z.number().int().positive().default(1) }))
        .mutation(({ input }) => {
          const todo = db.addTodo(input.title, input.authorId);
          // Work after the write, in the same trace: a span of our own around a follow-up query.
          const summary = tracer.startActiveSpan('recount todos', (span) => {
            try {
              return db.stats();
            } finally {
              span.end();
            }
          });
          return { todo, stats: summary };
        }),
      /** Server-sent events (`httpSubscriptionLink`): one stats snapshot per tick, each a database query. */
      watch: procedure
        .input(
          z.object({
            ticks: z.number().int().min(1).max(10).default(3),
            intervalMs: z.number().int().min(0).max(2000).default(100),
          }),
        )
        .subscription(async function* ({ input, signal }) {
          for (let tick = 1; tick <= input.ticks; tick++) {
            if (tick > 1) await sleep(input.intervalMs, undefined, { signal });
            yield { tick, stats: db.stats() };
          }
        }),
    }),
    user: t.router({
      list: procedure.query(() => db.listUsers()),
    }),
  });
}

export type AppRouter = ReturnType<typeof createAppRouter>;
