// Real Apollo Server (4/5 API) over loopback, three ways a user mounts it: startStandaloneServer, Express
// (@as-integrations/express5) with graphql-ws on the same port as Apollo's subscription recipe does, and a
// Fetch-style handler (executeHTTPGraphQLRequest behind Request/Response). The schema and resolvers are the
// GraphQL fixture's, which report the trace each resolver ran in.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerOptions, type BaseContext, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { startStandaloneServer } from '@apollo/server/standalone';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { type TraceContextPluginOptions, traceContextPlugin } from '../src/apollo-server.js';
import { type WithTraceContextOptions, withTraceContext } from '../src/graphql-ws.js';
import { schema } from './graphql-fixture.js';

export type Integration = 'standalone' | 'express' | 'fetch';
export const INTEGRATIONS: Integration[] = ['standalone', 'express', 'fetch'];

export interface ApolloTestServer {
  url: string;
  /** graphql-ws on the same port (Express only). */
  wsUrl: string;
  apollo: ApolloServer<BaseContext>;
  /** HTTP requests that reached the server (not counted for startStandaloneServer, which owns its server). */
  requests: () => number;
  close: () => Promise<void>;
}

export interface StartOptions {
  integration?: Integration;
  /** Plugin options; `false` for no plugin at all. */
  plugin?: TraceContextPluginOptions | false;
  apollo?: Partial<ApolloServerOptions<BaseContext>>;
  /** graphql-ws wrapper options (Express only); `false` for graphql-ws without the wrapper. */
  ws?: WithTraceContextOptions | false;
  /** graphql-ws server options besides the schema. */
  wsServerOptions?: Record<string, unknown>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A Fetch-style integration: what an edge/worker adapter does with executeHTTPGraphQLRequest. */
export function fetchHandler(apollo: ApolloServer<BaseContext>) {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const headers = new HeaderMap();
    request.headers.forEach((value, key) => {
      headers.set(key, value);
    });
    const text = request.method === 'POST' ? await request.text() : '';
    let body: unknown = text;
    if (headers.get('content-type')?.startsWith('application/json')) {
      try {
        body = JSON.parse(text);
      } catch {
        return new Response('bad json', { status: 400 });
      }
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method, headers, search: url.search, body },
      context: async () => ({}),
    });
    const responseHeaders = new Headers();
    for (const [key, value] of result.headers) responseHeaders.set(key, value);
    if (result.body.kind === 'complete') {
      return new Response(result.body.string, { status: result.status ?? 200, headers: responseHeaders });
    }
    const chunks: string[] = [];
    for await (const chunk of result.body.asyncIterator) chunks.push(chunk);
    return new Response(chunks.join(''), { status: result.status ?? 200, headers: responseHeaders });
  };
}

export async function startApollo(options: StartOptions = {}): Promise<ApolloTestServer> {
  const integration = options.integration ?? 'standalone';
  const plugins = [...(options.plugin === false ? [] : [traceContextPlugin(options.plugin ?? {})])];
  const http = createServer();
  let requests = 0;
  http.on('request', () => requests++);
  const apollo = new ApolloServer<BaseContext>({
    schema,
    includeStacktraceInErrorResponses: false,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    ...options.apollo,
    plugins: [
      ...plugins,
      ...(options.apollo?.plugins ?? []),
      // startStandaloneServer drains its own server.
      ...(integration === 'standalone' ? [] : [ApolloServerPluginDrainHttpServer({ httpServer: http })]),
    ],
  } as ApolloServerOptions<BaseContext>);

  if (integration === 'standalone') {
    const { url } = await startStandaloneServer(apollo, { listen: { port: 0, host: '127.0.0.1' } });
    return {
      url,
      wsUrl: '',
      apollo,
      requests: () => requests,
      close: () => apollo.stop(),
    };
  }

  let dispose: (() => Promise<void>) | undefined;
  let wsServer: WebSocketServer | undefined;
  if (integration === 'express') {
    await apollo.start();
    const app = express();
    app.use('/graphql', express.json({ limit: '5mb' }), expressMiddleware(apollo));
    http.on('request', app);
    wsServer = new WebSocketServer({ server: http, path: '/graphql' });
    const serverOptions = { schema, ...options.wsServerOptions };
    const disposable = useServer(
      options.ws === false ? serverOptions : withTraceContext(serverOptions, options.ws ?? {}),
      wsServer,
    );
    dispose = async () => {
      await disposable.dispose();
    };
  } else {
    await apollo.start();
    const handle = fetchHandler(apollo);
    http.on('request', async (req, res) => {
      const body = await readBody(req);
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(key, value);
        else if (Array.isArray(value)) for (const item of value) headers.append(key, item);
      }
      const response = await handle(
        new Request(`http://${req.headers.host}${req.url}`, {
          method: req.method,
          headers,
          body: req.method === 'POST' ? body : undefined,
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(await response.text());
    });
  }
  const host = await listen(http);
  return {
    url: `http://${host}/graphql`,
    wsUrl: `ws://${host}/graphql`,
    apollo,
    requests: () => requests,
    close: async () => {
      await dispose?.();
      if (wsServer) await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      http.closeAllConnections();
      await apollo.stop();
    },
  };
}
