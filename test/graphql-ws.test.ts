// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// withTraceContext for graphql-ws's useServer, on the Express + Apollo Server subscription recipe, against
// real Apollo Client 4 (TraceContextLink + GraphQLWsLink) and the graphql-ws client, over loopback.
import { createRequire } from 'node:module';
import { gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { GraphQLWsIncomingInfo } from '../src/graphql-ws.js';
import { type ApolloTestServer, startApollo } from './apollo-server-harness.js';
import {
  allSeen,
  clientChecks,
  PROBE_RESOLVERS,
  PROBE_SOURCE,
  TICKS_RESOLVERS,
  TICKS_SOURCE,
} from './graphql-client-harness.js';
import { setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags } from './support/graphql-callers.js';
import { apolloClient, collectEvents, subscriptionEvents } from './support/graphql-clients.js';
import { expectResolversIn, ourServerSpans, remoteCaller } from './support/graphql-probe.js';
import { expectNoOpenSpans } from './support/otel.js';

// graphql 16 has no `exports`: Node (and graphql-ws, which vitest leaves to Node) loads its CJS build, while
// vitest's resolver gives the files it transforms (src/) the `module` build, a second graphql whose execute
// rejects the schema ("from another module or realm"). Plain Node and bundlers load one graphql for both;
// here src/ is given the copy Node loads, as it would be outside vitest.
vi.mock('graphql', async () => createRequire(import.meta.url)('graphql'));

const tracing = setupGraphqlTracing();
const { exporter } = tracing;
const { childOf, ...checks } = clientChecks(tracing);
const { asCallers, queryMismatches, subscriptionMismatches } = callerRuns(checks);

const PROBE = gql(PROBE_SOURCE);
const TICKS = gql(TICKS_SOURCE);

const { serverSpans, serverSpanOf } = ourServerSpans(exporter);

const wsClient = (server: ApolloTestServer, connectionParams?: Record<string, unknown>) =>
  createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0 });

const probe = (tag: string, extensions?: unknown) => ({
  query: PROBE_SOURCE,
  variables: { tag },
  ...(extensions === undefined ? {} : { extensions }),
});

// Every span an operation started has ended: none is left open by an error, a cancel or a closed socket.
afterEach(() => expectNoOpenSpans(tracing));

describe('Apollo Server subscription recipe: useServer(withTraceContext({ schema }))', () => {
  let server: ApolloTestServer;
  beforeAll(async () => {
    server = await startApollo({ integration: 'express' });
  });
  afterAll(() => server.close());

  it('Apollo Client over GraphQLWsLink: 50 concurrent queries and 50 subscriptions on one socket, zero mismatches', async () => {
    const ws = wsClient(server);
    try {
      const client = apolloClient(new GraphQLWsLink(ws));
      const [queries, subscriptions] = await Promise.all([
        asCallers('query', tags('wq'), (tag) => client.query({ query: PROBE, variables: { tag } })),
        asCallers('subscription', tags('ws'), (tag) => subscriptionEvents(client, TICKS, { tag, count: 3 })),
      ]);
      await ws.dispose();
      expect([...queryMismatches(queries), ...subscriptionMismatches(subscriptions)]).toEqual([]);
      expect(serverSpans()).toHaveLength(100);
      const subscriptionServer = childOf(
        SpanKind.SERVER,
        childOf(SpanKind.CLIENT, subscriptions[0]!.span.spanContext()).spanContext(),
      );
      expect(subscriptionServer.name).toBe('subscription Ticks');
      expect(subscriptionServer.attributes).toEqual({
        'graphql.operation.type': 'subscription',
        'graphql.operation.name': 'Ticks',
      });
    } finally {
      await ws.dispose();
    }
  });

  it('falls back to the connection_init payload, then keeps an operation with its own slot apart', async () => {
    const connection = remoteCaller();
    const own = remoteCaller();
    const ws = wsClient(server, { traceContext: connection.carrier, token: 'secret' });
    try {
      const [fromConnection, fromOperation, empty] = await Promise.all([
        collectEvents(ws, probe('conn')),
        collectEvents(ws, probe('op', { traceContext: own.carrier })),
        collectEvents(ws, probe('empty', { traceContext: {} })),
      ]);
      await ws.dispose();
      expectResolversIn(
        fromConnection[0].data,
        connection.traceId,
        serverSpanOf(connection.traceId).spanContext().spanId,
        PROBE_RESOLVERS,
      );
      expectResolversIn(
        fromOperation[0].data,
        own.traceId,
        serverSpanOf(own.traceId).spanContext().spanId,
        PROBE_RESOLVERS,
      );
      // An operation that sends an empty slot says "no context": it never borrows the connection's.
      const emptySeen = allSeen(empty[0].data);
      expect(emptySeen[0]!.traceId).not.toBe(connection.traceId);
      expect(serverSpans()).toHaveLength(3);
    } finally {
      await ws.dispose();
    }
  });

  it('reads connectionParams itself as a carrier, and the upgrade request headers before it', async () => {
    const params = remoteCaller();
    const ws = wsClient(server, params.carrier);
    try {
      const [result] = await collectEvents(ws, probe('params'));
      await ws.dispose();
      expectResolversIn(
        result.data,
        params.traceId,
        serverSpanOf(params.traceId).spanContext().spanId,
        PROBE_RESOLVERS,
      );
      exporter.reset();

      const header = remoteCaller();
      const headerWs = createWsClient({
        url: server.wsUrl,
        retryAttempts: 0,
        connectionParams: remoteCaller().carrier,
        webSocketImpl: class extends WebSocket {
          constructor(url: string, protocols: string[]) {
            super(url, protocols, { headers: { traceparent: header.carrier.traceparent } });
          }
        },
      });
      try {
        const [fromHeader] = await collectEvents(headerWs, probe('header'));
        expectResolversIn(
          fromHeader.data,
          header.traceId,
          serverSpanOf(header.traceId).spanContext().spanId,
          PROBE_RESOLVERS,
        );
      } finally {
        await headerWs.dispose();
      }
    } finally {
      await ws.dispose();
    }
  });

  const bad: [string, unknown][] = [
    ['a string', 'traceparent'],
    ['an array', [remoteCaller().carrier.traceparent]],
    ['a number', 42],
    ['a malformed traceparent', { traceparent: '00-zzzz-yyyy-01' }],
    ['an oversized traceparent', { traceparent: `00-${'a'.repeat(20_000)}` }],
    ['ten thousand keys', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v']))],
  ];

  it.each(bad)(
    'executes an operation whose carrier is %s in a new trace; the next one shares nothing',
    async (_label, carrier) => {
      const connection = remoteCaller();
      const ws = wsClient(server, { traceContext: connection.carrier });
      try {
        const [result] = await collectEvents(ws, probe('bad', { traceContext: carrier }));
        const [next] = await collectEvents(ws, probe('next'));
        expect(result.errors).toBeUndefined();
        const seen = allSeen(result.data);
        // A slot sent on a shared connection is authoritative: not the connection's context, a fresh trace.
        expect(seen[0]!.traceId).not.toBe(connection.traceId);
        const span = serverSpans().find((candidate) => candidate.spanContext().traceId === seen[0]!.traceId)!;
        expect(span.parentSpanContext).toBeUndefined();
        expectResolversIn(result.data, span.spanContext().traceId, span.spanContext().spanId, PROBE_RESOLVERS);
        // The next operation (no slot) falls back to the connection's context, untouched by the bad one.
        expectResolversIn(
          next.data,
          connection.traceId,
          serverSpanOf(connection.traceId).spanContext().spanId,
          PROBE_RESOLVERS,
        );
      } finally {
        await ws.dispose();
      }
    },
  );

  it('__proto__ keys in a raw Subscribe message reach nothing', async () => {
    const good = remoteCaller();
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const messages: any[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data));
        messages.push(message);
        if (message.type === 'connection_ack') {
          socket.send(
            `{"id":"1","type":"subscribe","payload":{"query":${JSON.stringify(PROBE_SOURCE)},"variables":{"tag":"p"},"extensions":{"traceContext":{"__proto__":{"traceparent":"${good.carrier.traceparent}"}}}}}`,
          );
        }
        if (message.type === 'complete') resolve();
      });
    });
    socket.close();
    const result = messages.find((message) => message.type === 'next').payload;
    const span = serverSpans()[0]!;
    expect(span.spanContext().traceId).not.toBe(good.traceId);
    expectResolversIn(result.data, span.spanContext().traceId, span.spanContext().spanId, PROBE_RESOLVERS);
    expect(Object.prototype).not.toHaveProperty('traceparent');
  });

  it('records a failing subscription, a validation error and a resolver error', async () => {
    const ws = wsClient(server);
    try {
      const failing = remoteCaller();
      const invalid = remoteCaller();
      const resolverError = remoteCaller();
      await expect(
        collectEvents(ws, {
          query: 'subscription Failing { failing { i } }',
          extensions: { traceContext: failing.carrier },
        }),
      ).rejects.toEqual([expect.objectContaining({ message: 'subscription failed on purpose' })]);
      await expect(
        collectEvents(ws, { query: '{ nope }', extensions: { traceContext: invalid.carrier } }),
      ).rejects.toEqual([expect.objectContaining({ message: expect.stringContaining('nope') })]);
      const [withError] = await collectEvents(ws, {
        query: 'query Fail { fail(tag: "x") }',
        extensions: { traceContext: resolverError.carrier },
      });
      await ws.dispose();
      expect(withError.errors[0].message).toBe('resolver failed on purpose');
      expect(serverSpanOf(failing.traceId).status.code).toBe(SpanStatusCode.ERROR);
      expect(serverSpanOf(failing.traceId).name).toBe('subscription Failing');
      expect(serverSpanOf(invalid.traceId).status.code).toBe(SpanStatusCode.ERROR);
      expect(serverSpanOf(resolverError.traceId).status).toEqual({
        code: SpanStatusCode.ERROR,
        message: 'resolver failed on purpose',
      });
    } finally {
      await ws.dispose();
    }
  });

  it('ends the span of a parse error (graphql-ws closes the socket) and of a subscription the client completes early', async () => {
    const parse = remoteCaller();
    const ws = wsClient(server);
    const ws2 = wsClient(server);
    try {
      await expect(
        collectEvents(ws, { query: '{ probe(', extensions: { traceContext: parse.carrier } }),
      ).rejects.toBeDefined();
      await ws.dispose();
      await expect.poll(() => serverSpans().length).toBe(1);
      expect(serverSpanOf(parse.traceId).status.code).toBe(SpanStatusCode.ERROR);

      const early = remoteCaller();
      await new Promise<void>((resolve, reject) => {
        const unsubscribe = ws2.subscribe(
          {
            query: TICKS_SOURCE,
            variables: { tag: 'early', count: 1000 },
            extensions: { traceContext: early.carrier },
          },
          {
            next: () => {
              unsubscribe();
              resolve();
            },
            error: reject,
            complete: () => {},
          },
        );
      });
      await expect
        .poll(() => serverSpans().filter((span) => span.spanContext().traceId === early.traceId).length)
        .toBe(1);
      await ws2.dispose();
      expect(serverSpanOf(early.traceId).status.code).toBe(SpanStatusCode.UNSET);
    } finally {
      await ws.dispose();
      await ws2.dispose();
    }
  });
});

describe('withTraceContext options and hooks', () => {
  it('runs your context, onOperation, onNext and onComplete hooks in the operation, and leaves the options untouched', async () => {
    const seenBy: Record<string, string[]> = { context: [], onOperation: [], onNext: [], onComplete: [] };
    const record = (hook: string) => () => {
      seenBy[hook]!.push(trace.getSpanContext(context.active())?.traceId ?? 'none');
    };
    const wsServerOptions = {
      context: () => {
        record('context')();
        return { user: 'u' };
      },
      onOperation: record('onOperation'),
      onNext: record('onNext'),
      onComplete: record('onComplete'),
    };
    const server = await startApollo({ integration: 'express', wsServerOptions });
    try {
      const remote = remoteCaller();
      const ws = wsClient(server);
      await collectEvents(ws, {
        query: TICKS_SOURCE,
        variables: { tag: 'hooks', count: 2 },
        extensions: { traceContext: remote.carrier },
      });
      await ws.dispose();
      expect(seenBy).toEqual({
        context: [remote.traceId],
        onOperation: [remote.traceId],
        onNext: [remote.traceId, remote.traceId],
        onComplete: [remote.traceId],
      });
      expect(Object.keys(wsServerOptions)).toEqual(['context', 'onOperation', 'onNext', 'onComplete']);
    } finally {
      await server.close();
    }
  });

  it("'link' and a decider: a new trace linked to the caller; the decider sees the payload and the source", async () => {
    const infos: GraphQLWsIncomingInfo[] = [];
    const server = await startApollo({
      integration: 'express',
      ws: {
        incoming: (info) => {
          infos.push(info);
          return info.source === 'connectionParams' ? 'continue' : 'link';
        },
      },
    });
    try {
      const connection = remoteCaller();
      const own = remoteCaller();
      const ws = wsClient(server, { traceContext: connection.carrier });
      const [[linked], [continued]] = await Promise.all([
        collectEvents(ws, probe('linked', { traceContext: own.carrier })),
        collectEvents(ws, probe('continued')),
      ]);
      await ws.dispose();
      expect(infos.map((info) => info.source).sort()).toEqual(['connectionParams', 'extensions']);
      expect(infos.find((info) => info.source === 'extensions')!.payload.variables).toEqual({ tag: 'linked' });
      const linkedSpan = serverSpans().find((span) => span.links[0]?.context.spanId === own.spanId)!;
      expect(linkedSpan.spanContext().traceId).not.toBe(own.traceId);
      expectResolversIn(
        linked.data,
        linkedSpan.spanContext().traceId,
        linkedSpan.spanContext().spanId,
        PROBE_RESOLVERS,
      );
      expectResolversIn(
        continued.data,
        connection.traceId,
        serverSpanOf(connection.traceId).spanContext().spanId,
        PROBE_RESOLVERS,
      );
    } finally {
      await server.close();
    }
  });

  it('spans: false runs resolvers and every event directly in the caller context', async () => {
    const server = await startApollo({ integration: 'express', ws: { spans: false } });
    try {
      const remote = remoteCaller();
      const ws = wsClient(server);
      const events = await collectEvents(ws, {
        query: TICKS_SOURCE,
        variables: { tag: 'nospan', count: 3 },
        extensions: { traceContext: remote.carrier },
      });
      await ws.dispose();
      expect(serverSpans()).toHaveLength(0);
      expectResolversIn(
        events.map((event) => event.data),
        remote.traceId,
        remote.spanId,
        TICKS_RESOLVERS,
      );
    } finally {
      await server.close();
    }
  });

  it('without the wrapper, subscription events lose the caller (the failure the wrapper fixes)', async () => {
    const server = await startApollo({ integration: 'express', ws: false });
    try {
      const remote = remoteCaller();
      const ws = wsClient(server);
      const events = await collectEvents(ws, {
        query: TICKS_SOURCE,
        variables: { tag: 'plain', count: 2 },
        extensions: { traceContext: remote.carrier },
      });
      await ws.dispose();
      for (const entry of allSeen(events.map((event) => event.data))) expect(entry.traceId).not.toBe(remote.traceId);
    } finally {
      await server.close();
    }
  });
});
