import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { Db } from './db.ts';
import { createGraphQL } from './graphql.ts';
import { parseOtlpJson } from './otlp.ts';
import type { TraceStore } from './store.ts';
import { collectorHeaders, collectorTracesUrl } from './telemetry.ts';
import { createAppRouter, createContext } from './trpc.ts';

export const DIST_DIR = fileURLToPath(new URL('../dist/', import.meta.url));

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

const MAX_OTLP_BODY = 5 * 1024 * 1024;

export interface AppOptions {
  store: TraceStore;
  host?: string;
  port?: number;
  /** Where the built page is. @default examples/fullstack/dist */
  staticDir?: string;
}

export interface App {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** One Node server: the page, tRPC (batched HTTP + SSE), GraphQL (HTTP + graphql-ws), OTLP in, traces out. */
export async function startApp(options: AppOptions): Promise<App> {
  const { store } = options;
  const staticDir = resolve(options.staticDir ?? DIST_DIR);
  const db = new Db();
  const router = createAppRouter(db);
  const trpcHandler = createHTTPHandler({ router, createContext });
  const yoga = createGraphQL(db);
  const collector = collectorTracesUrl();
  const forwardHeaders = collectorHeaders();

  async function receiveOtlp(req: IncomingMessage, res: ServerResponse) {
    const type = req.headers['content-type'] ?? '';
    if (!type.includes('json')) {
      sendJson(res, 415, { error: 'send OTLP/HTTP as JSON' });
      return;
    }
    const body = await readBody(req, MAX_OTLP_BODY);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      sendJson(res, 400, { error: 'invalid JSON' });
      return;
    }
    store.add(parseOtlpJson(parsed));
    sendJson(res, 200, { partialSuccess: {} });
    if (collector) {
      // The browser's spans go on to the real collector as they came.
      fetch(collector, {
        method: 'POST',
        headers: { ...forwardHeaders, 'content-type': 'application/json' },
        body: new Uint8Array(body),
        signal: AbortSignal.timeout(10_000),
      }).catch((error: unknown) => console.warn(`could not forward browser spans to ${collector}: ${error}`));
    }
  }

  async function serveStatic(pathname: string, res: ServerResponse) {
    if (!existsSync(join(staticDir, 'index.html'))) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The page is not built yet: run `npm start` at the repository root (it runs `vite build`).\n');
      return;
    }
    const relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
    let file = resolve(staticDir, relative || 'index.html');
    if (!file.startsWith(staticDir + sep) && file !== staticDir) file = join(staticDir, 'index.html');
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      file = join(staticDir, 'index.html');
      body = await readFile(file);
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    const handle = async () => {
      if (pathname === '/trpc' || pathname.startsWith('/trpc/')) {
        req.url = req.url!.slice('/trpc'.length) || '/';
        trpcHandler(req, res);
        return;
      }
      if (pathname === yoga.graphqlEndpoint) {
        await yoga(req, res);
        return;
      }
      if (pathname === '/v1/traces' && req.method === 'POST') {
        await receiveOtlp(req, res);
        return;
      }
      if (pathname === '/api/traces' && req.method === 'GET') {
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 50) || 50, 200);
        sendJson(res, 200, store.list(limit));
        return;
      }
      const match = /^\/api\/traces\/([0-9a-f]{32})$/.exec(pathname);
      if (match && req.method === 'GET') {
        const trace = store.get(match[1]!);
        if (trace) sendJson(res, 200, trace);
        else sendJson(res, 404, { error: 'no such trace (yet)' });
        return;
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        await serveStatic(pathname, res);
        return;
      }
      sendJson(res, 404, { error: 'not found' });
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });

  // graphql-ws on the same path as HTTP GraphQL; Yoga's Envelop runs each subscription, so the plugin sees
  // the Subscribe message's `extensions` (and the connection_init payload) per operation.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  type EnvelopedArgs = ExecutionArgs & {
    rootValue: { execute: typeof yoga.getEnveloped; subscribe: typeof yoga.getEnveloped };
  };
  // biome-ignore lint/correctness/useHookAtTopLevel: graphql-ws's useServer, not a React hook
  const wsServer = useServer(
    {
      execute: (args) => (args as unknown as { rootValue: { execute: (a: unknown) => never } }).rootValue.execute(args),
      subscribe: (args) =>
        (args as unknown as { rootValue: { subscribe: (a: unknown) => never } }).rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        } as unknown as EnvelopedArgs;
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    server,
    async close() {
      await wsServer.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((done) => wss.close(() => done()));
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await yoga.dispose();
      db.close();
    },
  };
}
