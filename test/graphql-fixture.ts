// A real Yoga server over loopback (HTTP, batching, SSE, graphql-ws with Yoga's recipe) whose resolvers
// report the trace they run in, so tests compare what the server saw with what each caller had.
import { EventEmitter, on } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga, type Plugin, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { setupTracingWithOpenSpans } from './support/otel.js';

export const typeDefs = /* GraphQL */ `
  type Seen {
    traceId: String
    spanId: String
  }
  type Item {
    id: Int!
    seen: Seen!
  }
  type Probe {
    tag: String!
    seen: Seen!
    later: Seen!
    items(n: Int!): [Item!]!
  }
  type Tick {
    tag: String!
    i: Int!
    subscribedIn: Seen!
    atYield: Seen!
    seen: Seen!
  }
  type Query {
    probe(tag: String!): Probe!
    baggage(key: String!): String
    fail(tag: String!): String
  }
  type Mutation {
    touch(tag: String!): Probe!
  }
  type Subscription {
    ticks(tag: String!, count: Int!): Tick!
    failing: Tick!
  }
`;

/** The active span as the resolver sees it, at the moment it runs. */
export function seen() {
  const span = trace.getSpanContext(context.active());
  return { traceId: span?.traceId ?? null, spanId: span?.spanId ?? null };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = () => sleep(Math.floor(Math.random() * 5));

// Ticks come from a timer that runs in the root context: whatever a subscription's resolvers see, they
// can only have got from the plugin, not from the timer.
export const bus = new EventEmitter();
bus.setMaxListeners(0);
let ticker: NodeJS.Timeout | undefined;
function startTicker() {
  if (ticker) return;
  ticker = context.with(ROOT_CONTEXT, () => setInterval(() => bus.emit('tick'), 3));
  ticker.unref();
}

export const resolvers = {
  Query: {
    probe: async (_: unknown, { tag }: { tag: string }) => {
      await jitter();
      return { tag };
    },
    baggage: (_: unknown, { key }: { key: string }) => propagation.getActiveBaggage()?.getEntry(key)?.value ?? null,
    fail: async () => {
      await jitter();
      throw new Error('resolver failed on purpose');
    },
  },
  Mutation: {
    touch: (_: unknown, { tag }: { tag: string }) => ({ tag }),
  },
  Probe: {
    seen: () => seen(),
    later: async () => {
      await jitter();
      return seen();
    },
    items: (_: unknown, { n }: { n: number }) => Array.from({ length: n }, (_, id) => ({ id })),
  },
  Item: {
    seen: async () => {
      await jitter();
      return seen();
    },
  },
  Tick: {
    seen: async () => {
      await jitter();
      return seen();
    },
  },
  Subscription: {
    ticks: {
      subscribe: async function* (_: unknown, { tag, count }: { tag: string; count: number }) {
        startTicker();
        const subscribedIn = seen();
        let i = 0;
        for await (const _tick of on(bus, 'tick')) {
          yield { ticks: { tag, i, subscribedIn, atYield: seen() } };
          if (++i >= count) return;
        }
      },
    },
    failing: {
      // biome-ignore lint/correctness/useYield: fails before the first event on purpose
      subscribe: async function* () {
        await jitter();
        throw new Error('subscription failed on purpose');
      },
    },
  },
};

export const schema = createSchema({ typeDefs, resolvers });

export interface TestServer {
  url: string;
  wsUrl: string;
  server: Server;
  yoga: YogaServerInstance<object, object>;
  /** HTTP requests that reached the GraphQL endpoint (WebSocket upgrades excluded). */
  requests: () => number;
  close: () => Promise<void>;
}

/** Starts Yoga on 127.0.0.1 with graphql-ws mounted on the same port, the way Yoga's docs do it. */
export async function startServer(
  plugins: Plugin[],
  options: Partial<YogaServerOptions<object, object>> = {},
): Promise<TestServer> {
  const yoga = createYoga({ schema, plugins, logging: false, maskedErrors: false, ...options });
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    return yoga(req, res);
  });
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      // Yoga's recipe, verbatim apart from the types: the enveloped execute/subscribe ride in rootValue.
      // biome-ignore lint/suspicious/noExplicitAny: as in Yoga's documented recipe
      execute: (args: any) => args.rootValue.execute(args),
      // biome-ignore lint/suspicious/noExplicitAny: as in Yoga's documented recipe
      subscribe: (args: any) => args.rootValue.subscribe(args),
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
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wsServer,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    server,
    yoga,
    requests: () => requests,
    close: async () => {
      await disposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Real tracing (BasicTracerProvider, in-memory exporter, AsyncLocalStorage, W3C propagators), plus a count
 * of spans started and not yet ended, so tests can show that no operation leaves a span open.
 */
export const setupGraphqlTracing = () => setupTracingWithOpenSpans();

export { traceparentOf } from './support/graphql-probe.js';
