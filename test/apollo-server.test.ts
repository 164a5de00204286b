// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// The Apollo Server plugin against real Apollo Client 4 (TraceContextLink + HttpLink / BatchHttpLink) and
// hand-made wire messages, over loopback, through startStandaloneServer, Express and a Fetch-style handler.
import { gql, HttpLink } from '@apollo/client';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApolloServerIncomingInfo, TraceContextPluginOptions } from '../src/apollo-server.js';
import { type ApolloTestServer, INTEGRATIONS, startApollo } from './apollo-server-harness.js';
import { allSeen, clientChecks, PROBE_SOURCE } from './graphql-client-harness.js';
import { setupGraphqlTracing } from './graphql-fixture.js';
import { callerRuns, tags } from './support/graphql-callers.js';
import { apolloBatchClient, apolloClient } from './support/graphql-clients.js';
import {
  expectRanAsNewTrace,
  expectResolversIn,
  hostileCarrierBodies,
  ourServerSpans,
  postJsonOrText,
  probeBody,
  remoteCaller,
} from './support/graphql-probe.js';
import { expectNoOpenSpans } from './support/otel.js';

const tracing = setupGraphqlTracing();
const { exporter, tracer } = tracing;
const checks = clientChecks(tracing);
const { asCaller } = checks;
const { asCallers, queryMismatches } = callerRuns(checks);

const PROBE = gql(PROBE_SOURCE);
const { serverSpans, serverSpanOf } = ourServerSpans(exporter);
const post = postJsonOrText;

// Every span an operation started has ended: none is left open by an error, a bad carrier or a batch.
afterEach(() => expectNoOpenSpans(tracing));

describe.each(INTEGRATIONS)('Apollo Server via %s', (integration) => {
  let server: ApolloTestServer;
  beforeAll(async () => {
    server = await startApollo({ integration, apollo: { allowBatchedHttpRequests: true } });
  });
  afterAll(() => server.close());

  it('HTTP single: 50 concurrent Apollo Client queries, each resolver in its own caller trace', async () => {
    const client = apolloClient(new HttpLink({ uri: server.url }));
    const runs = await asCallers('caller', tags('q'), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(queryMismatches(runs)).toEqual([]);
    const spans = serverSpans();
    expect(spans).toHaveLength(50);
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(50);
    for (const span of spans) {
      expect(span.name).toBe('query Probe');
      expect(span.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  it('HTTP batch: 50 concurrent operations in a few batched requests, each in its own caller trace', async () => {
    const before = server.requests();
    const client = apolloBatchClient(server.url);
    const runs = await asCallers('caller', tags('b'), (tag) => client.query({ query: PROBE, variables: { tag } }));
    expect(queryMismatches(runs)).toEqual([]);
    expect(serverSpans()).toHaveLength(50);
    if (integration !== 'standalone') expect(server.requests() - before).toBeLessThanOrEqual(10);
  });
});

describe('where the context comes from', () => {
  let server: ApolloTestServer;
  beforeAll(async () => {
    server = await startApollo({ integration: 'express', apollo: { allowBatchedHttpRequests: true } });
  });
  afterAll(() => server.close());

  it('falls back to W3C request headers (Apollo HeaderMap), and prefers the extensions carrier', async () => {
    const fromHeader = remoteCaller();
    const first = await post(server.url, probeBody('h'), { traceparent: fromHeader.carrier.traceparent });
    const headerSpan = serverSpanOf(fromHeader.traceId);
    expect(headerSpan.parentSpanContext?.spanId).toBe(fromHeader.spanId);
    expectResolversIn(first.json.data, fromHeader.traceId, headerSpan.spanContext().spanId);

    const fromExtensions = remoteCaller();
    const other = remoteCaller();
    const second = await post(server.url, probeBody('e', { traceContext: fromExtensions.carrier }), {
      traceparent: other.carrier.traceparent,
    });
    expectResolversIn(
      second.json.data,
      fromExtensions.traceId,
      serverSpanOf(fromExtensions.traceId).spanContext().spanId,
    );
    expect(serverSpans().filter((span) => span.spanContext().traceId === other.traceId)).toHaveLength(0);
  });

  it('a batched operation with an empty carrier never borrows the request headers', async () => {
    const headerOwner = remoteCaller();
    const own = remoteCaller();
    const { json } = await post(
      server.url,
      [probeBody('own', { traceContext: own.carrier }), probeBody('empty', { traceContext: {} })],
      { traceparent: headerOwner.carrier.traceparent },
    );
    expectResolversIn(json[0].data, own.traceId, serverSpanOf(own.traceId).spanContext().spanId);
    const empty = allSeen(json[1].data);
    expect(empty[0]!.traceId).not.toBe(headerOwner.traceId);
    expect(empty[0]!.traceId).not.toBe(own.traceId);
    expect(serverSpans()).toHaveLength(2);
  });

  it('executeOperation inside an active span is its child, whatever the extensions or headers say', async () => {
    const foreign = remoteCaller();
    const { span: parent, result } = await asCaller('render', () =>
      server.apollo.executeOperation({
        query: PROBE_SOURCE,
        variables: { tag: 'inproc' },
        extensions: { traceContext: foreign.carrier },
      }),
    );
    const body = result.body as any;
    expect(body.kind).toBe('single');
    const span = serverSpans()[0]!;
    expect(serverSpans()).toHaveLength(1);
    expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
    expectResolversIn(body.singleResult.data, parent.spanContext().traceId, span.spanContext().spanId);
  });

  it('runs in the active server span when nothing is sent', async () => {
    const { json } = await context.with(ROOT_CONTEXT, () => post(server.url, probeBody('nothing')));
    const span = serverSpans()[0]!;
    expect(span.parentSpanContext).toBeUndefined();
    expectResolversIn(json.data, span.spanContext().traceId, span.spanContext().spanId);
  });
});

describe('hostile and malformed carriers', () => {
  let server: ApolloTestServer;
  beforeAll(async () => {
    server = await startApollo({ integration: 'express', apollo: { allowBatchedHttpRequests: true } });
  });
  afterAll(() => server.close());

  const good = remoteCaller();
  const bad = hostileCarrierBodies(good);

  it.each(bad)(
    'executes an operation whose carrier is %s, as a new trace, and nothing leaks into the next',
    async (_label, body) => {
      const span = expectRanAsNewTrace(await post(server.url, body), good, serverSpans);
      // The next operation, with nothing sent, shares nothing with the bad one.
      const next = await post(server.url, probeBody('next'));
      const nextSpan = serverSpans().find((candidate) => candidate !== span && candidate.name === 'query Probe')!;
      expect(nextSpan.spanContext().traceId).not.toBe(span.spanContext().traceId);
      expect(nextSpan.parentSpanContext).toBeUndefined();
      expectResolversIn(next.json.data, nextSpan.spanContext().traceId, nextSpan.spanContext().spanId);
    },
  );

  it('keeps a bad carrier in one batched operation from touching its neighbours', async () => {
    const neighbours = [remoteCaller(), remoteCaller()];
    const { json } = await post(server.url, [
      probeBody('ok1', { traceContext: neighbours[0]!.carrier }),
      JSON.parse(bad[0]![1]),
      probeBody('ok2', { traceContext: neighbours[1]!.carrier }),
    ]);
    expect(json).toHaveLength(3);
    expectResolversIn(json[0].data, neighbours[0]!.traceId, serverSpanOf(neighbours[0]!.traceId).spanContext().spanId);
    expectResolversIn(json[2].data, neighbours[1]!.traceId, serverSpanOf(neighbours[1]!.traceId).spanContext().spanId);
    const middle = allSeen(json[1].data)[0]!;
    expect([neighbours[0]!.traceId, neighbours[1]!.traceId, good.traceId]).not.toContain(middle.traceId);
    expect(serverSpans()).toHaveLength(3);
  });

  it('a malformed traceparent header is ignored', async () => {
    const { status, json } = await post(server.url, probeBody('bad-header'), { traceparent: '00-not-a-trace-01' });
    expect(status).toBe(200);
    const span = serverSpans()[0]!;
    expect(span.parentSpanContext).toBeUndefined();
    expectResolversIn(json.data, span.spanContext().traceId, span.spanContext().spanId);
  });
});

describe('trust policy and options', () => {
  const QUERY = 'query Probe($tag: String!) { baggage(key: "tenant") probe(tag: $tag) { seen { traceId spanId } } }';

  async function run(plugin: TraceContextPluginOptions | false, headers: Record<string, string> = {}) {
    const server = await startApollo({ integration: 'fetch', plugin });
    try {
      const remote = remoteCaller();
      const carrier = { ...remote.carrier, baggage: 'tenant=acme' };
      const { json } = await post(
        server.url,
        { query: QUERY, variables: { tag: 't' }, extensions: { traceContext: carrier } },
        headers,
      );
      return { remote, data: json.data, spans: serverSpans() };
    } finally {
      await server.close();
    }
  }

  it("'continue' (the default) parents the span on the caller and passes baggage on", async () => {
    const { remote, data, spans } = await run({});
    expect(spans[0]!.parentSpanContext?.spanId).toBe(remote.spanId);
    expect(data.baggage).toBe('acme');
    expect(data.probe.seen).toEqual({ traceId: remote.traceId, spanId: spans[0]!.spanContext().spanId });
  });

  it("'link' starts a new trace that links to the caller and drops its baggage", async () => {
    const { remote, data, spans } = await run({ incoming: 'link' });
    const span = spans[0]!;
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(remote.traceId);
    expect(span.links.map((link) => link.context.spanId)).toEqual([remote.spanId]);
    expect(data.baggage).toBeNull();
    expect(data.probe.seen).toEqual({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
  });

  it("'ignore' runs in the server's own context", async () => {
    const { remote, data, spans } = await run({ incoming: 'ignore' });
    expect(spans[0]!.spanContext().traceId).not.toBe(remote.traceId);
    expect(spans[0]!.links).toEqual([]);
    expect(data.baggage).toBeNull();
  });

  it('a decider function sees the source and the request; a throwing one falls back to link', async () => {
    const seenInfo: ApolloServerIncomingInfo[] = [];
    const { remote, spans } = await run(
      {
        incoming: (info) => {
          seenInfo.push(info);
          return info.request.http?.headers.get('x-trusted') === 'yes' ? 'continue' : 'link';
        },
      },
      { 'x-trusted': 'yes' },
    );
    expect(seenInfo).toHaveLength(1);
    expect(seenInfo[0]!.source).toBe('extensions');
    expect(seenInfo[0]!.request.extensions?.traceContext).toEqual({ ...remote.carrier, baggage: 'tenant=acme' });
    expect(spans[0]!.parentSpanContext?.spanId).toBe(remote.spanId);
    exporter.reset();
    const thrown = await run({
      incoming: () => {
        throw new Error('decider failed');
      },
    });
    expect(thrown.spans[0]!.parentSpanContext).toBeUndefined();
    expect(thrown.spans[0]!.links.map((link) => link.context.spanId)).toEqual([thrown.remote.spanId]);
  });

  it('spans: false runs the resolvers directly in the caller context', async () => {
    const { remote, data, spans } = await run({ spans: false });
    expect(spans).toHaveLength(0);
    expect(data.probe.seen).toEqual({ traceId: remote.traceId, spanId: remote.spanId });
    expect(data.baggage).toBe('acme');
  });

  it('document: true records the source text; headers: false ignores the headers', async () => {
    const server = await startApollo({ integration: 'standalone', plugin: { document: true, headers: false } });
    try {
      const remote = remoteCaller();
      const { json } = await post(server.url, probeBody('d'), { traceparent: remote.carrier.traceparent });
      const span = serverSpans()[0]!;
      expect(span.attributes['graphql.document']).toBe(PROBE_SOURCE);
      expect(span.spanContext().traceId).not.toBe(remote.traceId);
      expectResolversIn(json.data, span.spanContext().traceId, span.spanContext().spanId);
    } finally {
      await server.close();
    }
  });

  it('without the plugin, resolvers lose the caller (the failure the plugin fixes)', async () => {
    const server = await startApollo({ integration: 'standalone', plugin: false });
    try {
      const remote = remoteCaller();
      const { json } = await post(server.url, probeBody('none', { traceContext: remote.carrier }));
      for (const entry of allSeen(json.data)) expect(entry.traceId).not.toBe(remote.traceId);
    } finally {
      await server.close();
    }
  });
});

describe('errors and names', () => {
  let server: ApolloTestServer;
  const failingPlugin: ApolloServerPlugin<BaseContext> = {
    async requestDidStart() {
      return {
        async didResolveOperation(requestContext) {
          if (requestContext.operationName === 'Rejected') throw new Error('rejected by a plugin');
        },
      };
    },
  };
  beforeAll(async () => {
    server = await startApollo({ integration: 'express', apollo: { plugins: [failingPlugin] } });
  });
  afterAll(() => server.close());

  it('records resolver errors in the result on the server span', async () => {
    const remote = remoteCaller();
    const { json } = await post(server.url, {
      query: 'query Fail { fail(tag: "x") }',
      extensions: { traceContext: remote.carrier },
    });
    expect(json.errors[0].message).toBe('resolver failed on purpose');
    const span = serverSpanOf(remote.traceId);
    expect(span.name).toBe('query Fail');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'resolver failed on purpose' });
    expect(span.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('records parse and validation errors, and an error a plugin throws', async () => {
    const parse = remoteCaller();
    const validation = remoteCaller();
    const thrown = remoteCaller();
    await post(server.url, { query: '{ probe(', extensions: { traceContext: parse.carrier } });
    await post(server.url, { query: '{ nope }', extensions: { traceContext: validation.carrier } });
    await post(server.url, {
      query: 'query Rejected { baggage(key: "k") }',
      extensions: { traceContext: thrown.carrier },
    });
    const parseSpan = serverSpanOf(parse.traceId);
    expect(parseSpan.name).toBe('GraphQL Operation');
    expect(parseSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(parseSpan.attributes['error.type']).toBe('GRAPHQL_PARSE_FAILED');
    const validationSpan = serverSpanOf(validation.traceId);
    expect(validationSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(validationSpan.attributes['error.type']).toBe('GRAPHQL_VALIDATION_FAILED');
    const thrownSpan = serverSpanOf(thrown.traceId);
    expect(thrownSpan.name).toBe('query Rejected');
    expect(thrownSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'rejected by a plugin' });
  });

  it('names mutations and anonymous operations by type', async () => {
    const mutation = remoteCaller();
    const anonymous = remoteCaller();
    await post(server.url, {
      query: 'mutation Touch { touch(tag: "m") { tag } }',
      extensions: { traceContext: mutation.carrier },
    });
    await post(server.url, { query: '{ baggage(key: "k") }', extensions: { traceContext: anonymous.carrier } });
    expect(serverSpanOf(mutation.traceId).name).toBe('mutation Touch');
    expect(serverSpanOf(anonymous.traceId).name).toBe('query');
    expect(serverSpanOf(anonymous.traceId).attributes).toEqual({ 'graphql.operation.type': 'query' });
  });
});

describe('beside other plugins and instrumentation', () => {
  it("keeps working when Apollo wraps the resolvers for another plugin's willResolveField", async () => {
    const fields: string[] = [];
    const server = await startApollo({
      integration: 'standalone',
      apollo: {
        plugins: [
          {
            async requestDidStart() {
              return {
                async executionDidStart() {
                  return {
                    willResolveField({ info }) {
                      // Apollo calls this inside its own wrapper, before ours: the operation is not active yet.
                      fields.push(info.fieldName);
                    },
                  };
                },
              };
            },
          },
        ],
      },
    });
    try {
      const remote = remoteCaller();
      const { json } = await post(server.url, probeBody('wrapped', { traceContext: remote.carrier }));
      expectResolversIn(json.data, remote.traceId, serverSpanOf(remote.traceId).spanContext().spanId);
      expect(fields).toContain('later');
    } finally {
      await server.close();
    }
  });

  it('two servers on one schema each run their own operations in their callers', async () => {
    const [a, b] = await Promise.all([startApollo({ integration: 'fetch' }), startApollo({ integration: 'fetch' })]);
    try {
      const ra = remoteCaller();
      const rb = remoteCaller();
      const [ja, jb] = await Promise.all([
        post(a.url, probeBody('a', { traceContext: ra.carrier })),
        post(b.url, probeBody('b', { traceContext: rb.carrier })),
      ]);
      expectResolversIn(ja.json.data, ra.traceId, serverSpanOf(ra.traceId).spanContext().spanId);
      expectResolversIn(jb.json.data, rb.traceId, serverSpanOf(rb.traceId).spanContext().spanId);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('baggage of the caller reaches the resolvers with the extensions carrier', async () => {
    const server = await startApollo({ integration: 'express' });
    try {
      const result = await tracer.startActiveSpan('caller', async (span) => {
        const ctx = propagation.setBaggage(
          trace.setSpan(context.active(), span),
          propagation.createBaggage({ tenant: { value: 'b1' } }),
        );
        const client = apolloClient(new HttpLink({ uri: server.url }));
        try {
          return await context.with(ctx, () => client.query({ query: gql('{ baggage(key: "tenant") }') }));
        } finally {
          span.end();
        }
      });
      expect((result.data as any).baggage).toBe('b1');
    } finally {
      await server.close();
    }
  });
});
