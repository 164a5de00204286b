// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// traceContextGateway: Apollo Server in gateway mode, whose executor runs each whole execution in the operation's
// context, beside traceContextPlugin. Real Apollo Server (standalone, Express, Fetch-style) and real Apollo
// Client 4 over loopback; the fixture's resolvers report the trace each one ran in.
import { gql, HttpLink } from '@apollo/client';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { traceContextGateway } from '../src/apollo-server.js';
import { type ApolloTestServer, INTEGRATIONS, startApollo } from './apollo-server-harness.js';
import { allSeen, clientChecks, PROBE_RESOLVERS, PROBE_SOURCE } from './graphql-client-harness.js';
import { schema, setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags } from './support/graphql-callers.js';
import { apolloBatchClient, apolloClient } from './support/graphql-clients.js';
import { expectNoOpenSpans } from './support/otel.js';

const tracing = setupGraphqlTracing();
const { tracer } = tracing;
const checks = clientChecks(tracing);
const { spansOf, childOf, asCaller } = checks;
const { asCallers, queryMismatches } = callerRuns(checks);
const PROBE = gql(PROBE_SOURCE);
const FAIL = gql`
  query Fail {
    fail(tag: "x")
  }
`;

afterEach(() => expectNoOpenSpans(tracing));

describe.each(INTEGRATIONS)('traceContextGateway via %s', (integration) => {
  let server: ApolloTestServer;
  beforeAll(async () => {
    server = await startApollo({
      integration,
      apollo: { schema: undefined, gateway: traceContextGateway(schema), allowBatchedHttpRequests: true } as never,
    });
  });
  afterAll(() => server.close());

  it('HTTP single: 50 concurrent queries, every resolver in its own caller trace', async () => {
    const client = apolloClient(new HttpLink({ uri: server.url }));
    const runs = await asCallers('caller', tags('g'), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(queryMismatches(runs)).toEqual([]);
    expect(spansOf(SpanKind.SERVER)).toHaveLength(50);
    expect(spansOf(SpanKind.SERVER).every((span) => span.name === 'query Probe')).toBe(true);
    // The plugin saw the gateway's schema and did not wrap it: the context is entered once per operation.
  });

  it('enters the context once per operation, not once per resolver', async () => {
    const withCalls = vi.spyOn(context, 'with');
    try {
      const query = 'query Many { probe(tag: "many") { items(n: 200) { id seen { traceId spanId } } } }';
      const result = await server.apollo.executeOperation({ query });
      expect((result.body as any).singleResult.data.probe.items).toHaveLength(200);
      // 400 resolver calls; the plugin's own phases and the executor enter it a handful of times.
      expect(withCalls.mock.calls.length).toBeLessThan(20);
    } finally {
      withCalls.mockRestore();
    }
  });

  it('HTTP batch: each operation of a batched request in its own caller trace', async () => {
    const client = apolloBatchClient(server.url);
    const runs = await asCallers('caller', tags('b', 20), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(queryMismatches(runs)).toEqual([]);
  });

  it('records a resolver error on the SERVER span', async () => {
    const client = apolloClient(new HttpLink({ uri: server.url }));
    const { span: caller } = await asCaller('caller', () =>
      client.query({ query: FAIL, errorPolicy: 'all' }).catch((error: unknown) => error),
    );
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    const serverSpan = childOf(SpanKind.SERVER, clientSpan.spanContext());
    expect(serverSpan.name).toBe('query Fail');
    expect(serverSpan.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('executeOperation in-process: a child of the active span', async () => {
    const { span: caller, result } = await asCaller('caller', () =>
      server.apollo.executeOperation({ query: PROBE_SOURCE, variables: { tag: 'local' } }),
    );
    const body = result.body as any;
    expect(body.kind).toBe('single');
    const serverSpan = childOf(SpanKind.SERVER, caller.spanContext());
    expect(serverSpan.name).toBe('query Probe');
    const seen = allSeen(body.singleResult.data);
    expect(seen).toHaveLength(PROBE_RESOLVERS);
    for (const entry of seen) {
      expect(entry).toEqual({ traceId: caller.spanContext().traceId, spanId: serverSpan.spanContext().spanId });
    }
  });
});

it('a gateway with no plugin executes plainly, in the ambient context', async () => {
  const server = await startApollo({
    plugin: false,
    apollo: { schema: undefined, gateway: traceContextGateway(schema) } as never,
  });
  try {
    const result = await tracer.startActiveSpan('ambient', async (span) => {
      try {
        return await server.apollo.executeOperation({ query: PROBE_SOURCE, variables: { tag: 'plain' } });
      } finally {
        span.end();
      }
    });
    expect((result.body as any).singleResult.data.probe.tag).toBe('plain');
    expect(spansOf(SpanKind.SERVER)).toHaveLength(0);
  } finally {
    await server.close();
  }
});
