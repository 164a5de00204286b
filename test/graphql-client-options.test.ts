// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// Issue #13's options on the GraphQL clients: Apollo Client 4 (TraceContextLink + HttpLink) and urql
// (traceContextExchange + fetchExchange), each against the real Yoga server with useTraceContext over loopback.
// Every test runs for both clients and checks the exported spans and what went on the wire.
import {
  ApolloClient,
  ApolloLink,
  gql as apolloGql,
  HttpLink,
  InMemoryCache,
  type OperationVariables,
} from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { type DiagLogger, DiagLogLevel, diag, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, cacheExchange, fetchExchange, subscriptionExchange, gql as urqlGql } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  type GraphQLClientOperationInfo,
  TraceContextLink,
  type TraceContextLinkOptions,
  traceContextBatchKey,
} from '../src/apollo.js';
import { type TraceContextExchangeOptions, traceContextExchange } from '../src/urql.js';
import { useTraceContext } from '../src/yoga.js';
import { clientChecks, PROBE_RESOLVERS, PROBE_SOURCE, TICKS_SOURCE, traceparentOf } from './graphql-client-harness.js';
import { setupGraphqlTracing, startServer, type TestServer } from './graphql-fixture.js';
import { expectNoOpenSpans } from './support/otel.js';

const tracing = setupGraphqlTracing();
const { exporter } = tracing;
const { spansOf, childOf, asCaller, mismatchesOf } = clientChecks(tracing);

const FAIL_SOURCE = /* GraphQL */ `
  query Fail { fail(tag: "x") }
`;
const INTROSPECTION_SOURCE = /* GraphQL */ `
  query IntrospectionQuery { __schema { queryType { name } } }
`;

let server: TestServer;
/** A port nothing listens on: a request there fails with a network error. */
let closedUrl: string;
const sent: { url: string; headers: Record<string, string>; body: any }[] = [];
/** fetch for HttpLink and fetchExchange, recording what goes on the wire. */
const recordingFetch: typeof fetch = async (input, init) => {
  const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
  sent.push({ url: String(input), headers: Object.fromEntries(new Headers(init?.headers).entries()), body });
  return fetch(input, init);
};

/** The `otel-rpc-context` warnings `diag` received. */
const warnings = vi.fn<(message: string, ...args: unknown[]) => void>();
const logger: DiagLogger = { error: () => {}, warn: warnings, info: () => {}, debug: () => {}, verbose: () => {} };
const ourWarnings = () => warnings.mock.calls.filter(([message]) => message.includes('otel-rpc-context'));

type Options = TraceContextLinkOptions & TraceContextExchangeOptions;
interface Run {
  data: any;
  error?: unknown;
}
interface QueryExtra {
  /** Per-operation client context: Apollo's `context`, urql's operation context. */
  context?: Record<string, unknown>;
  url?: string;
  signal?: AbortSignal;
}

/** What each client's tests need: run a query, tear one down before its result, and a subscription. */
interface Driver {
  name: string;
  /** Runs one query past every cache; resolves with its data or its error, never rejects. */
  query(options: Options, source: string, variables?: Record<string, unknown>, extra?: QueryExtra): Promise<Run>;
  /** Starts a query and tears it down (unsubscribes) before its result. */
  tearDownQuery(options: Options, tag: string): void;
  /** Subscribes over graphql-ws, unsubscribes after the first event; resolves once torn down. */
  unsubscribeSubscription(options: Options): Promise<void>;
}

const apollo: Driver = {
  name: 'Apollo Client 4',
  async query(options, source, variables, extra = {}) {
    const client = apolloClient(options, extra.url);
    const context = { ...extra.context, ...(extra.signal ? { fetchOptions: { signal: extra.signal } } : {}) };
    try {
      const result = await client.query({
        query: apolloGql(source),
        variables: variables as OperationVariables,
        context,
      });
      return { data: result.data };
    } catch (error) {
      return { data: undefined, error };
    }
  },
  tearDownQuery(options, tag) {
    const client = apolloClient(options);
    const observable = client.watchQuery({
      query: apolloGql(PROBE_SOURCE),
      variables: { tag },
      fetchPolicy: 'no-cache',
    });
    observable.subscribe(() => {}).unsubscribe();
  },
  async unsubscribeSubscription(options) {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    const client = new ApolloClient({
      link: ApolloLink.from([new TraceContextLink(options), new GraphQLWsLink(wsClient)]),
      cache: new InMemoryCache(),
    });
    await new Promise<void>((resolve) => {
      const subscription = client
        .subscribe({ query: apolloGql(TICKS_SOURCE), variables: { tag: 'sub', count: 1000 } })
        .subscribe(() => {
          subscription.unsubscribe();
          resolve();
        });
    });
    await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
    await wsClient.dispose();
  },
};

function apolloClient(options: Options, url = server.url) {
  return new ApolloClient({
    link: ApolloLink.from([new TraceContextLink(options), new HttpLink({ uri: url, fetch: recordingFetch })]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'no-cache' } },
  });
}

const urql: Driver = {
  name: 'urql',
  async query(options, source, variables, extra = {}) {
    const client = urqlClient(options, extra.url);
    const context = { ...extra.context, ...(extra.signal ? { fetchOptions: { signal: extra.signal } } : {}) };
    const result = await client.query(urqlGql(source), variables ?? {}, context).toPromise();
    return { data: result.data, error: result.error };
  },
  tearDownQuery(options, tag) {
    const client = urqlClient(options);
    client
      .query(urqlGql(PROBE_SOURCE), { tag })
      .subscribe(() => {})
      .unsubscribe();
  },
  async unsubscribeSubscription(options) {
    const wsClient = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket });
    const client = new Client({
      url: server.url,
      exchanges: [
        cacheExchange,
        traceContextExchange(options),
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query ?? '' };
            return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink as never) }) };
          },
        }),
      ],
    });
    await new Promise<void>((resolve) => {
      const { unsubscribe } = client.subscription(urqlGql(TICKS_SOURCE), { tag: 'sub', count: 1000 }).subscribe(() => {
        unsubscribe();
        resolve();
      });
    });
    await expect.poll(() => spansOf(SpanKind.SERVER).length, { timeout: 5000 }).toBe(1);
    await wsClient.dispose();
  },
};

function urqlClient(options: Options, url = server.url) {
  return new Client({
    url,
    exchanges: [cacheExchange, traceContextExchange(options), fetchExchange],
    fetch: recordingFetch,
    preferGetMethod: false,
    requestPolicy: 'network-only',
  });
}

const serverSpan = () => {
  const found = spansOf(SpanKind.SERVER);
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
};

beforeAll(async () => {
  server = await startServer([useTraceContext()], { batching: { limit: 50 } });
  const closed = await startServer([]);
  closedUrl = closed.url;
  await closed.close();
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
});
afterAll(async () => {
  diag.disable();
  await server.close();
});
// Every span an operation started has ended, whatever the options did.
afterEach(() =>
  expectNoOpenSpans(tracing, () => {
    sent.length = 0;
    warnings.mockClear();
  }),
);

describe.each([apollo, urql])('$name', (driver) => {
  it('spans predicate: no CLIENT span for IntrospectionQuery, whose server span still joins the caller', async () => {
    const seen: GraphQLClientOperationInfo[] = [];
    const spans = (info: GraphQLClientOperationInfo) => {
      seen.push(info);
      return info.operationName !== 'IntrospectionQuery';
    };
    const { span: caller, result } = await asCaller('caller', () => driver.query({ spans }, INTROSPECTION_SOURCE));
    expect(result.data.__schema.queryType.name).toBe('Query');
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(0);
    // The caller's own context travels: the server span is its child, in its trace.
    expect(sent[0]!.body.extensions.traceContext).toEqual({ traceparent: traceparentOf(caller as never) });
    expect(serverSpan().parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(serverSpan().spanContext().traceId).toBe(caller.spanContext().traceId);
    exporter.reset();

    const probe = await asCaller('caller', () => driver.query({ spans }, PROBE_SOURCE, { tag: 'p' }));
    expect(childOf(SpanKind.CLIENT, probe.span.spanContext()).name).toBe('query Probe');
    expect(mismatchesOf(probe.span, probe.result.data, PROBE_RESOLVERS)).toEqual([]);
    expect(seen.map((info) => [info.operationType, info.operationName])).toEqual([
      ['query', 'IntrospectionQuery'],
      ['query', 'Probe'],
    ]);
    expect(seen[1]!.variables).toEqual({ tag: 'p' });
  });

  it('spanName names the CLIENT span from info; the server span keeps its own name', async () => {
    const spanName = (info: GraphQLClientOperationInfo) => `gql ${info.operationType} ${info.operationName}`;
    const { span: caller, result } = await asCaller('caller', () =>
      driver.query({ spanName }, PROBE_SOURCE, { tag: 'n' }),
    );
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.name).toBe('gql query Probe');
    expect(clientSpan.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    expect(childOf(SpanKind.SERVER, clientSpan.spanContext()).name).toBe('query Probe');
    expect(mismatchesOf(caller, result.data, PROBE_RESOLVERS)).toEqual([]);
  });

  it('requestHook adds attributes from info, including the client context, before the request goes out', async () => {
    let sentWhenCalled = -1;
    const requestHook = (span: Span, info: GraphQLClientOperationInfo) => {
      sentWhenCalled = sent.length;
      span.setAttribute('app.operation', `${info.operationType}:${info.operationName}`);
      span.setAttribute('app.tenant', String((info.context as { tenant?: string }).tenant));
    };
    const { span: caller } = await asCaller('caller', () =>
      driver.query({ requestHook }, PROBE_SOURCE, { tag: 'r' }, { context: { tenant: 'acme' } }),
    );
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.attributes['app.operation']).toBe('query:Probe');
    expect(clientSpan.attributes['app.tenant']).toBe('acme');
    expect(sentWhenCalled).toBe(0);
  });

  it('responseHook sees the last result, or the error the operation failed with', async () => {
    const outcomes: any[] = [];
    const responseHook = (span: Span, info: any) => {
      outcomes.push(info);
      span.setAttribute('app.tag', info.result?.data?.probe?.tag ?? 'none');
    };
    const { span: caller } = await asCaller('caller', () =>
      driver.query({ responseHook }, PROBE_SOURCE, { tag: 'ok' }),
    );
    expect(childOf(SpanKind.CLIENT, caller.spanContext()).attributes['app.tag']).toBe('ok');
    expect(outcomes[0]).toMatchObject({ operationName: 'Probe', operationType: 'query', variables: { tag: 'ok' } });
    expect(outcomes[0].error).toBeUndefined();

    // A GraphQL error result: the hook sees its first error.
    await asCaller('caller', () => driver.query({ responseHook }, FAIL_SOURCE));
    expect(outcomes[1].error.message).toBe('resolver failed on purpose');

    // A network error: the hook sees it, and no data (urql hands over its error result too).
    const { span: failing } = await asCaller('caller', () =>
      driver.query({ responseHook }, PROBE_SOURCE, { tag: 'net' }, { url: closedUrl }),
    );
    const network = childOf(SpanKind.CLIENT, failing.spanContext());
    expect(network.attributes['app.tag']).toBe('none');
    expect(network.status.code).toBe(SpanStatusCode.ERROR);
    expect(outcomes[2].error).toBeInstanceOf(Error);
    expect(outcomes[2].result?.data).toBeUndefined();
    expect(outcomes).toHaveLength(3);
  });

  it('options that throw (or return nonsense) never break the call, and each is reported once through diag', async () => {
    // A fresh function per option: each is reported once, on its own.
    const boom = () => () => {
      throw new Error('option failed');
    };
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const options: Options = {
      spanName: boom(),
      requestHook: boom(),
      responseHook: boom(),
      isError: boom(),
      propagate: boom(),
      captureInput: () => circular,
    };
    for (const tag of ['t1', 't2']) {
      const { span: caller, result } = await asCaller('caller', () => driver.query(options, PROBE_SOURCE, { tag }));
      expect(result.data.probe.tag).toBe(tag);
      const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
      expect(clientSpan.name).toBe('query Probe');
      expect(clientSpan.attributes).not.toHaveProperty(ATTR_GRAPHQL_OPERATION_VARIABLES);
    }
    // A throwing `propagate` sends nothing: the server span starts a trace of its own.
    expect(sent.every((request) => request.body.extensions?.traceContext === undefined)).toBe(true);
    expect(sent.every((request) => request.headers.traceparent === undefined)).toBe(true);
    // isError is only asked about errors: a failing operation with it throwing falls back to the default.
    const { span: caller, result } = await asCaller('caller', () => driver.query(options, FAIL_SOURCE));
    expect(String(result.error)).toContain('resolver failed on purpose');
    expect(childOf(SpanKind.CLIENT, caller.spanContext()).status.code).toBe(SpanStatusCode.ERROR);
    expect(
      ourWarnings()
        .map(([message]) => message.match(/the (\w+) option/)?.[1])
        .sort(),
    ).toEqual(['isError', 'propagate', 'requestHook', 'responseHook', 'spanName']);

    // A spanName returning a non-string, and a throwing spans predicate (no span, context still sent).
    warnings.mockClear();
    exporter.reset();
    sent.length = 0;
    const odd = await asCaller('caller', () =>
      driver.query({ spanName: () => 42 as unknown as string }, PROBE_SOURCE, { tag: 'odd' }),
    );
    expect(childOf(SpanKind.CLIENT, odd.span.spanContext()).name).toBe('query Probe');
    const noSpan = await asCaller('caller', () => driver.query({ spans: boom() }, PROBE_SOURCE, { tag: 'x' }));
    expect(noSpan.result.data.probe.tag).toBe('x');
    expect(spansOf(SpanKind.CLIENT)).toHaveLength(1);
    expect(sent[1]!.body.extensions.traceContext).toEqual({ traceparent: traceparentOf(noSpan.span as never) });
    expect(ourWarnings()).toHaveLength(1);
  });

  it('captureInput: off by default, true records the variables, a function redacts them', async () => {
    const plain = await asCaller('caller', () => driver.query({}, PROBE_SOURCE, { tag: 'secret' }));
    expect(childOf(SpanKind.CLIENT, plain.span.spanContext()).attributes).not.toHaveProperty(
      ATTR_GRAPHQL_OPERATION_VARIABLES,
    );
    const all = await asCaller('caller', () => driver.query({ captureInput: true }, PROBE_SOURCE, { tag: 'secret' }));
    expect(childOf(SpanKind.CLIENT, all.span.spanContext()).attributes[ATTR_GRAPHQL_OPERATION_VARIABLES]).toBe(
      '{"tag":"secret"}',
    );
    const seen: unknown[] = [];
    const captureInput = (variables: unknown, info: GraphQLClientOperationInfo) => {
      seen.push([variables, info.operationName]);
      return { ...(variables as object), tag: '[redacted]' };
    };
    const redacted = await asCaller('caller', () => driver.query({ captureInput }, PROBE_SOURCE, { tag: 'secret' }));
    expect(childOf(SpanKind.CLIENT, redacted.span.spanContext()).attributes[ATTR_GRAPHQL_OPERATION_VARIABLES]).toBe(
      '{"tag":"[redacted]"}',
    );
    expect(seen).toEqual([[{ tag: 'secret' }, 'Probe']]);
    // The variables themselves go out untouched.
    expect(sent.map((request) => request.body.variables.tag)).toEqual(['secret', 'secret', 'secret']);
  });

  it('isError: a GraphQL error result marks the CLIENT span ERROR by default; an override keeps it unset', async () => {
    const failed = await asCaller('caller', () => driver.query({}, FAIL_SOURCE));
    expect(String(failed.result.error)).toContain('resolver failed on purpose');
    const byDefault = childOf(SpanKind.CLIENT, failed.span.spanContext());
    expect(byDefault.status).toEqual({ code: SpanStatusCode.ERROR, message: 'resolver failed on purpose' });
    expect(byDefault.attributes['error.type']).toBe('GraphQLError');
    expect(byDefault.events.map((event) => event.name)).toEqual(['exception']);

    const asked: unknown[] = [];
    const isError = (error: unknown, info: GraphQLClientOperationInfo) => {
      asked.push([(error as Error).message, info.operationName]);
      return false;
    };
    const expected = await asCaller('caller', () => driver.query({ isError }, FAIL_SOURCE));
    expect(String(expected.result.error)).toContain('resolver failed on purpose');
    const overridden = childOf(SpanKind.CLIENT, expected.span.spanContext());
    expect(overridden.status.code).toBe(SpanStatusCode.UNSET);
    expect(overridden.attributes['error.type']).toBe('GraphQLError');
    expect(overridden.events[0]?.attributes?.['exception.message']).toBe('resolver failed on purpose');
    expect(asked).toEqual([['resolver failed on purpose', 'Fail']]);
    // The server span is the server's business: ERROR either way.
    expect(spansOf(SpanKind.SERVER).map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
    ]);
  });

  it('propagate: false sends no carrier at all, while the CLIENT span still starts', async () => {
    const { span: caller, result } = await asCaller('caller', () =>
      driver.query({ propagate: false, headers: true }, PROBE_SOURCE, { tag: 'private' }),
    );
    expect(result.data.probe.tag).toBe('private');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body.extensions?.traceContext).toBeUndefined();
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    const clientSpan = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(clientSpan.name).toBe('query Probe');
    // The server, told nothing, starts a trace of its own.
    expect(serverSpan().parentSpanContext).toBeUndefined();
    expect(serverSpan().spanContext().traceId).not.toBe(caller.spanContext().traceId);
  });

  it('propagate as a predicate decides per operation, from info and the client context', async () => {
    const propagate = (info: GraphQLClientOperationInfo) => !(info.context as { thirdParty?: boolean }).thirdParty;
    const options: Options = { propagate, headers: true };
    const third = await asCaller('third', () =>
      driver.query(options, PROBE_SOURCE, { tag: 'third' }, { context: { thirdParty: true } }),
    );
    const own = await asCaller('own', () => driver.query(options, PROBE_SOURCE, { tag: 'own' }));
    expect(sent[0]!.body.extensions?.traceContext).toBeUndefined();
    expect(sent[0]!.headers).not.toHaveProperty('traceparent');
    const ownClient = childOf(SpanKind.CLIENT, own.span.spanContext());
    expect(sent[1]!.body.extensions.traceContext).toEqual({ traceparent: traceparentOf(ownClient) });
    expect(sent[1]!.headers.traceparent).toBe(traceparentOf(ownClient));
    expect(mismatchesOf(own.span, own.result.data, PROBE_RESOLVERS)).toEqual([]);
    const thirdClient = childOf(SpanKind.CLIENT, third.span.spanContext());
    expect(spansOf(SpanKind.SERVER).filter((span) => span.parentSpanContext === undefined)).toHaveLength(1);
    expect(
      spansOf(SpanKind.SERVER).some((span) => span.parentSpanContext?.spanId === thirdClient.spanContext().spanId),
    ).toBe(false);
  });

  it('cancellation: a query torn down before its result leaves status unset with error.type cancelled', async () => {
    await asCaller('caller', async () => driver.tearDownQuery({}, 'cancelled'));
    await expect.poll(() => spansOf(SpanKind.CLIENT).length).toBe(1);
    const cancelled = spansOf(SpanKind.CLIENT)[0]!;
    expect(cancelled.name).toBe('query Probe');
    expect(cancelled.status.code).toBe(SpanStatusCode.UNSET);
    expect(cancelled.attributes['error.type']).toBe('cancelled');
    expect(cancelled.events).toEqual([]);
  });

  it('a subscription ended by unsubscribe is not a cancellation', async () => {
    await asCaller('caller', () => driver.unsubscribeSubscription({}));
    const subscription = spansOf(SpanKind.CLIENT)[0]!;
    expect(subscription.name).toBe('subscription Ticks');
    expect(subscription.status.code).toBe(SpanStatusCode.UNSET);
    expect(subscription.attributes).not.toHaveProperty('error.type');
  });
});

// urql replaces `fetchOptions.signal` with its own controller: an urql operation is cancelled by tearing it down.
describe('Apollo Client 4, abort', () => {
  it('a query aborted through its own signal (context.fetchOptions.signal) leaves status unset with error.type AbortError', async () => {
    const controller = new AbortController();
    const pending = asCaller('caller', () =>
      apollo.query({}, PROBE_SOURCE, { tag: 'aborted' }, { signal: controller.signal }),
    );
    controller.abort();
    const { span: caller } = await pending;
    const aborted = childOf(SpanKind.CLIENT, caller.spanContext());
    expect(aborted.status.code).toBe(SpanStatusCode.UNSET);
    expect(aborted.attributes['error.type']).toBe('AbortError');
  });
});

describe('Apollo BatchHttpLink with traceContextBatchKey', () => {
  it('never batches an operation that sends no carrier with one whose headers carry its context', async () => {
    const client = new ApolloClient({
      link: ApolloLink.from([
        new TraceContextLink({ propagate: (info) => (info.variables as { tag: string }).tag !== 'private' }),
        new BatchHttpLink({ uri: server.url, fetch: recordingFetch, batchKey: traceContextBatchKey(server.url) }),
      ]),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: 'no-cache' } },
    });
    const query = apolloGql(PROBE_SOURCE);
    const runs = await Promise.all(
      ['a', 'private', 'b'].map((tag) => asCaller(tag, () => client.query({ query, variables: { tag } }))),
    );
    expect(sent).toHaveLength(2);
    const shared = sent.find((request) => Array.isArray(request.body) && request.body.length === 2)!;
    const alone = sent.find((request) => request !== shared)!;
    expect(shared.headers.traceparent).toMatch(/^00-/);
    expect(alone.headers).not.toHaveProperty('traceparent');
    expect(alone.body[0].variables.tag).toBe('private');
    expect(alone.body[0].extensions?.traceContext).toBeUndefined();
    expect(mismatchesOf(runs[0]!.span, runs[0]!.result.data, PROBE_RESOLVERS)).toEqual([]);
    expect(mismatchesOf(runs[2]!.span, runs[2]!.result.data, PROBE_RESOLVERS)).toEqual([]);
  });
});
