// Where TraceContextLink goes in an Apollo link chain, under the browser's StackContextManager (which forgets the
// active context across every `await`), against a real Yoga server over loopback: before a link that holds the
// operation back (SetContextLink, the usual auth link, awaits its setter), it reads the caller's context while the
// call is still synchronous. After one, it reads it too late: what docs/apollo-client.md's order avoids.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StackContextManager } from '@opentelemetry/sdk-trace-web';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceContextLink } from '../src/apollo.js';
import { useTraceContext } from '../src/yoga.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('link-order');
const received: IncomingHttpHeaders[] = [];

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { traceId: String }',
    // Read synchronously: the plugin runs execution inside the operation's context.
    resolvers: { Query: { traceId: () => trace.getSpanContext(context.active())?.traceId ?? 'none' } },
  }),
  plugins: [useTraceContext({ spans: false })],
  logging: false,
});
const server = createServer((req, res) => {
  received.push(req.headers);
  return yoga(req, res);
});
let uri = '';

beforeAll(async () => {
  context.disable();
  context.setGlobalContextManager(new StackContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The auth link of Apollo's docs: awaits its setter, then adds a header to the ones before it. */
const authLink = () =>
  new SetContextLink(async (previous) => ({ headers: { ...previous.headers, authorization: 'Bearer token' } }));

async function queryUnderCaller(links: ApolloLink[]) {
  exporter.reset();
  received.length = 0;
  const client = new ApolloClient({
    link: ApolloLink.from([...links, new HttpLink({ uri })]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
  const { caller, pending } = tracer.startActiveSpan('caller', (span) => {
    const query = client.query<{ traceId: string }>({ query: gql`query TraceId { traceId }` });
    span.end();
    return { caller: span, pending: query };
  });
  const result = await pending;
  const clientSpan = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT);
  return { caller, traceId: result.data?.traceId, clientSpan };
}

describe('TraceContextLink before the links that hold an operation back', () => {
  it('first in the chain, before an auth SetContextLink: the caller, on both sides, and the auth header', async () => {
    const { caller, traceId, clientSpan } = await queryUnderCaller([new TraceContextLink(), authLink()]);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(traceId).toBe(caller.spanContext().traceId);
    expect(received[0]?.authorization).toBe('Bearer token');
  });

  it('after it (what the docs warn against): the caller is gone by the time the link runs', async () => {
    const { caller, traceId, clientSpan } = await queryUnderCaller([authLink(), new TraceContextLink()]);
    expect(clientSpan?.parentSpanContext).toBeUndefined();
    expect(traceId).not.toBe(caller.spanContext().traceId);
  });
});
