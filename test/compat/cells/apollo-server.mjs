// Apollo Server (the variant's major) with traceContextPlugin, and graphql-ws with withTraceContext, on
// loopback, from the packed package: single and batched HTTP operations and a graphql-ws query and
// subscription, each sent by its own fabricated caller; every resolver and event must run in its caller's
// trace, under a SERVER span of this package whose parent is the caller's span.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createClient } from 'graphql-ws';
import { traceContextPlugin } from 'otel-rpc-context/apollo-server';
import { withTraceContext } from 'otel-rpc-context/graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { activeTraceId, check, done, fail, registerPropagation, traceIdFor } from './lib.mjs';

const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** The active trace id, read after an await: what an async resolver sees. */
const seenLater = async () => {
  await sleep(Math.random() * 5);
  return activeTraceId();
};
let stop = async () => {};

try {
  registerPropagation();
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  const { makeExecutableSchema } = await import('@graphql-tools/schema');
  const schema = makeExecutableSchema({
    typeDefs: `
      type Item { id: Int!, seen: String }
      type Query { seen: String, items: [Item!]! }
      type Subscription { ticks: Item! }
    `,
    resolvers: {
      Query: {
        seen: seenLater,
        items: () => [{ id: 1 }, { id: 2 }],
      },
      Item: { seen: seenLater },
      Subscription: {
        ticks: {
          subscribe: async function* () {
            for (let id = 0; id < 3; id++) {
              await sleep(2);
              yield { ticks: { id } };
            }
          },
        },
      },
    },
  });
  const apollo = new ApolloServer({ schema, allowBatchedHttpRequests: true, plugins: [traceContextPlugin()] });
  const { url } = await startStandaloneServer(apollo, { listen: { port: 0, host: '127.0.0.1' } });
  const http = createServer();
  const wsServer = new WebSocketServer({ server: http, path: '/graphql' });
  // graphql-ws 6 moved the ws adapter (and changed every hook's arguments); the wrapper takes both.
  const { useServer } = await import('graphql-ws/use/ws').catch(() => import('graphql-ws/lib/use/ws'));
  const disposable = useServer(withTraceContext({ schema }), wsServer);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  stop = async () => {
    await disposable.dispose();
    http.closeAllConnections?.();
    await new Promise((resolve) => http.close(resolve));
    await apollo.stop();
  };

  const carrier = (tag) => ({ traceparent: `00-${traceIdFor(tag)}-00f067aa0ba902b7-01` });
  const QUERY = '{ seen items { seen } }';
  const expectAll = (data, tag, what) => {
    const seen = JSON.stringify(data).match(/"seen":"?[^",}]*/g) ?? [];
    check(seen.length > 0, `${what}: resolvers reported`);
    for (const entry of seen) check(entry.endsWith(traceIdFor(tag)), `${what}: ${entry} is not ${tag}'s trace`);
  };
  const post = async (body) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return response.json();
  };

  // HTTP single, concurrently, and one batch of six.
  const tags = ['1', '2', '3', '4', '5', '6'];
  const singles = await Promise.all(
    tags.map((tag) => post({ query: QUERY, extensions: { traceContext: carrier(tag) } })),
  );
  for (const [i, result] of singles.entries()) expectAll(result.data, tags[i], `single ${tags[i]}`);
  const batch = await post(tags.map((tag) => ({ query: QUERY, extensions: { traceContext: carrier(tag) } })));
  check(Array.isArray(batch) && batch.length === 6, 'a batch answers each operation');
  for (const [i, result] of batch.entries()) expectAll(result.data, tags[i], `batched ${tags[i]}`);

  // graphql-ws: a query and a subscription per caller on one socket.
  const client = createClient({ url: `ws://127.0.0.1:${http.address().port}/graphql`, webSocketImpl: WebSocket });
  const collect = (payload) =>
    new Promise((resolve, reject) => {
      const results = [];
      client.subscribe(payload, { next: (r) => results.push(r), error: reject, complete: () => resolve(results) });
    });
  const wsTags = ['a', 'b', 'c'];
  const wsResults = await Promise.all(
    wsTags.flatMap((tag) => [
      collect({ query: QUERY, extensions: { traceContext: carrier(tag) } }),
      collect({ query: 'subscription { ticks { id seen } }', extensions: { traceContext: carrier(tag) } }),
    ]),
  );
  await client.dispose();
  for (const [i, results] of wsResults.entries()) {
    expectAll(
      results.map((r) => r.data),
      wsTags[i >> 1],
      `graphql-ws ${i}`,
    );
  }
  check(wsResults[1].length === 3, 'a subscription delivers its three events');

  const servers = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  check(servers.length === 6 + 6 + 6, `a SERVER span per operation (got ${servers.length})`);
  for (const span of servers) {
    const parent = span.parentSpanContext?.spanId ?? span.parentSpanId;
    check(parent === '00f067aa0ba902b7', `SERVER span ${span.name} is parented by its caller`);
  }
  await stop();
  done(
    `@apollo/server ${version('@apollo/server')}, graphql-ws ${version('graphql-ws')}, graphql ${version('graphql')}: 6 single + 6 batched HTTP operations and 3 graphql-ws queries + 3 subscriptions, every resolver and event in its caller's trace, ${servers.length} SERVER spans under their callers`,
  );
} catch (error) {
  await stop().catch(() => {});
  fail(error);
}
