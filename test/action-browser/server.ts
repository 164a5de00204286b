// The servers the browser proofs talk to, on one loopback origin: tRPC (standalone handler with
// traceContextMiddleware) under /trpc, graphql-yoga (useTraceContext) under /graphql, and the built page.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initTRPC } from '@trpc/server';
import { type CreateHTTPContextOptions, createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createSchema, createYoga } from 'graphql-yoga';
import { z } from 'zod';
import { traceContextMiddleware } from '../../src/trpc.js';
import { useTraceContext } from '../../src/yoga.js';

const createContext = ({ req, info }: CreateHTTPContextOptions) => ({ req, info });
const t = initTRPC.context<typeof createContext>().create();
const procedure = t.procedure.use(traceContextMiddleware());

const posts = [{ id: 1, title: 'hello' }];
let ticks = 0;

export const appRouter = t.router({
  post: t.router({
    latest: procedure.query(async () => {
      await sleep(5);
      return posts[posts.length - 1]!;
    }),
    // Slow enough that two clicks and a poll overlap.
    create: procedure.input(z.object({ title: z.string() })).mutation(async ({ input }) => {
      await sleep(1_200);
      const post = { id: posts.length + 1, title: input.title };
      posts.push(post);
      return post;
    }),
    count: procedure.query(() => posts.length),
    tick: procedure.query(() => ++ticks),
  }),
});
export type AppRouter = typeof appRouter;

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Post {
        id: Int!
        title: String!
      }
      type Query {
        posts: [Post!]!
        stats: Int!
      }
      type Mutation {
        rename(id: Int!, title: String!): Post!
        touch(id: Int!): Post!
      }
    `,
    resolvers: {
      Query: {
        posts: () => posts,
        stats: () => posts.length,
      },
      Mutation: {
        touch: async (_: unknown, { id }: { id: number }) => {
          await sleep(400);
          return posts.find((p) => p.id === id) ?? posts[0]!;
        },
        rename: async (_: unknown, { id, title }: { id: number; title: string }) => {
          await sleep(800);
          const post = posts.find((p) => p.id === id) ?? posts[0]!;
          post.title = title;
          return post;
        },
      },
    },
  }),
  plugins: [useTraceContext()],
  logging: false,
});

export async function startServer(pageDir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const trpc = createHTTPHandler({ router: appRouter, createContext, basePath: '/trpc/' });
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return void trpc(req, res);
    if (url.startsWith('/graphql')) return void yoga(req, res);
    if (url === '/favicon.ico') return void res.writeHead(204).end();
    const file = url === '/' ? 'index.html' : url.slice(1).split('?')[0]!;
    if (file.includes('..')) return void res.writeHead(404).end();
    readFile(join(pageDir, file)).then(
      (body) =>
        res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
