// The GraphQL clients without a network: TraceContextLink driven by Apollo Client 4's own `ApolloLink.execute`
// with a stub terminating link, and traceContextExchange driven through wonka with a fake `forward`. Each test
// checks the carrier an operation gets and the exported CLIENT span exactly; afterEach checks no span is left open.
import { ApolloClient, ApolloLink, gql, InMemoryCache } from '@apollo/client';
import { context, diag, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, createRequest, type Exchange, type Operation, type OperationResult } from '@urql/core';
import { Observable } from 'rxjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromValue, makeSubject, pipe, type Source, subscribe, toArray } from 'wonka';
import { TraceContextLink, type TraceContextLinkOptions } from '../src/apollo.js';
import { type TraceContextExchangeOptions, traceContextExchange } from '../src/urql.js';
import { expectNoOpenSpans, setupTracingWithOpenSpans } from './support/otel.js';

const tracing = setupTracingWithOpenSpans();
const { exporter, tracer } = tracing;
afterEach(() => expectNoOpenSpans(tracing));

const PROBE = gql`
  query Probe($tag: String!) {
    probe(tag: $tag)
  }
`;
const TOUCH = gql`
  mutation Touch {
    touch
  }
`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
const SERVER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SERVER_SPAN_ID = 'b7ad6b7169203331';
const TRACERESPONSE = `00-${SERVER_TRACE_ID}-${SERVER_SPAN_ID}-01`;

/** Runs `fn` under a fresh caller span, which ends afterwards. */
function asCaller<T>(fn: (caller: Span) => T): T {
  const caller = tracer.startSpan('caller');
  try {
    return context.with(trace.setSpan(context.active(), caller), () => fn(caller));
  } finally {
    caller.end();
  }
}

/** The one CLIENT span exported, checked to be a child of `caller` and named by the carrier's traceparent. */
function clientSpan(caller?: Span, carrier?: Record<string, string>): ReadableSpan {
  const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
  expect(spans).toHaveLength(1);
  const span = spans[0]!;
  if (caller) expect(span.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
  if (carrier) {
    const { traceId, spanId } = span.spanContext();
    expect(carrier.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  }
  return span;
}

// ---------------------------------------------------------------------------------------------------------------
// Apollo Client 4

interface Seen {
  extensions: Record<string, unknown>;
  context: Record<string, unknown>;
}

/** A terminating link that records each operation and answers with `respond`. */
function stubLink(respond: (observer: { next(v: unknown): void; error(e: unknown): void; complete(): void }) => void) {
  const seen: Seen[] = [];
  const link = new ApolloLink(
    (operation) =>
      new Observable((observer) => {
        seen.push({ extensions: operation.extensions, context: operation.getContext() });
        respond(observer as never);
      }),
  );
  return { link, seen };
}
const answer =
  (result: unknown) =>
  (observer: { next(v: unknown): void; complete(): void }): void => {
    observer.next(result);
    observer.complete();
  };

const apolloClient = new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.empty() });

/** Runs one operation through `TraceContextLink(options)` and the stub, resolving with what it emitted. */
function runApollo(
  options: TraceContextLinkOptions,
  terminating: ApolloLink,
  query = PROBE,
  fetchOptions?: Record<string, unknown>,
): Promise<{ values: unknown[]; error?: unknown }> {
  const link = ApolloLink.from([new TraceContextLink(options), terminating]);
  const observable = ApolloLink.execute(
    link,
    { query, variables: { tag: 'x' }, context: fetchOptions ? { fetchOptions } : {} },
    { client: apolloClient },
  );
  return new Promise((resolve) => {
    const values: unknown[] = [];
    observable.subscribe({
      next: (value) => values.push(value),
      error: (error) => resolve({ values, error }),
      complete: () => resolve({ values }),
    });
  });
}

describe('TraceContextLink (Apollo Client 4, stub terminating link)', () => {
  it('sends the CLIENT span in extensions.traceContext, and the span is `query Probe` under the caller', async () => {
    const { link, seen } = stubLink(answer({ data: { probe: 'ok' } }));
    const { caller, run } = asCaller((caller) => ({ caller, run: runApollo({ headers: false }, link) }));
    expect((await run).values).toEqual([{ data: { probe: 'ok' } }]);
    const carrier = seen[0]!.extensions.traceContext as Record<string, string>;
    expect(Object.keys(carrier)).toEqual(['traceparent']);
    expect(seen[0]!.context.headers).toBeUndefined();
    const span = clientSpan(caller, carrier);
    expect(span.name).toBe('query Probe');
    expect(span.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.links).toEqual([]);
  });

  it('sends an explicit empty carrier when the caller has no context and spans are off', async () => {
    const { link, seen } = stubLink(answer({ data: {} }));
    await context.with(ROOT_CONTEXT, () => runApollo({ spans: false, headers: true }, link));
    expect(seen[0]!.extensions.traceContext).toEqual({});
    expect(seen[0]!.context.headers).toBeUndefined(); // an empty carrier says nothing in headers
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('puts the carrier in headers too with `headers: true`, and only there for a GET query', async () => {
    const { link, seen } = stubLink(answer({ data: {} }));
    await runApollo({ headers: true }, link);
    await runApollo({}, link, PROBE, { method: 'GET' });
    expect((seen[0]!.context.headers as Record<string, string>).traceparent).toMatch(TRACEPARENT);
    expect(seen[0]!.extensions.traceContext).toEqual(seen[0]!.context.headers);
    expect(seen[1]!.extensions.traceContext).toBeUndefined();
    expect((seen[1]!.context.headers as Record<string, string>).traceparent).toMatch(TRACEPARENT);
    exporter.reset();
  });

  it('sends nothing when propagate says no, or throws, and still records the span', async () => {
    const { link, seen } = stubLink(answer({ data: {} }));
    const propagate = () => {
      throw new Error('boom');
    };
    diag.disable();
    await runApollo({ propagate: false }, link);
    await runApollo({ propagate }, link);
    for (const operation of seen) {
      expect(operation.extensions.traceContext).toBeUndefined();
      expect(operation.context.headers).toBeUndefined();
    }
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['query Probe', 'query Probe']);
  });

  it('fails the span on a result with GraphQL errors: error.type, status and one event per error', async () => {
    const errors = [
      { message: 'nope', extensions: { code: 'FORBIDDEN' } },
      { message: 'also', extensions: { code: 'OTHER' } },
    ];
    const { link } = stubLink(answer({ data: null, errors }));
    const { values } = await runApollo({}, link, TOUCH);
    expect(values).toEqual([{ data: null, errors }]);
    const span = clientSpan();
    expect(span.name).toBe('mutation Touch');
    expect(span.attributes['error.type']).toBe('FORBIDDEN');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'nope' });
    expect(span.events.map((event) => event.attributes?.['exception.type'])).toEqual(['FORBIDDEN', 'OTHER']);
  });

  it('fails the span on a network error and hands the error on unchanged', async () => {
    const failure = new TypeError('fetch failed');
    const { link } = stubLink((observer) => observer.error(failure));
    const { error } = await runApollo({}, link);
    expect(error).toBe(failure);
    const span = clientSpan();
    expect(span.attributes['error.type']).toBe('TypeError');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'fetch failed' });
  });

  it('cancels the span of a query unsubscribed before its first result', () => {
    const { link } = stubLink(() => {});
    const chain = ApolloLink.from([new TraceContextLink(), link]);
    ApolloLink.execute(chain, { query: PROBE, variables: { tag: 'x' } }, { client: apolloClient })
      .subscribe({})
      .unsubscribe();
    const span = clientSpan();
    expect(span.attributes['error.type']).toBe('cancelled');
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
  });

  it('links the server span a valid traceresponse names, once, and ignores malformed ones', async () => {
    const { link } = stubLink((observer) => {
      observer.next({ data: {}, extensions: 'not an object' });
      observer.next({ data: {}, extensions: { traceresponse: '00-zz-1' } });
      observer.next({ data: {}, extensions: { traceresponse: TRACERESPONSE } });
      observer.next({ data: {}, extensions: { traceresponse: `00-${SERVER_TRACE_ID}-${'1'.repeat(16)}-01` } });
      observer.complete();
    });
    expect((await runApollo({}, link)).values).toHaveLength(4);
    const [spanLink, ...more] = clientSpan().links;
    expect(more).toEqual([]);
    expect(spanLink?.context).toMatchObject({ traceId: SERVER_TRACE_ID, spanId: SERVER_SPAN_ID });
  });

  it('never throws into the caller when every hook throws', async () => {
    const boom = () => {
      throw new Error('hook');
    };
    diag.disable();
    const { link, seen } = stubLink(answer({ data: {} }));
    const options = { spanName: boom, requestHook: boom, responseHook: boom, captureInput: boom, isError: boom };
    const { values, error } = await runApollo(options, link);
    expect(error).toBeUndefined();
    expect(values).toEqual([{ data: {} }]);
    expect(seen[0]!.extensions.traceContext).toHaveProperty('traceparent');
    expect(clientSpan().name).toBe('query Probe');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// urql

const urqlClient = new Client({ url: 'http://localhost/graphql', exchanges: [] });

/** A forward that records what leaves the exchange and answers with `respond` (or nothing). */
function fakeForward(respond?: (operation: Operation) => Partial<OperationResult>) {
  const sent: Operation[] = [];
  const forward =
    (ops$: Source<Operation>): Source<OperationResult> =>
    (sink) =>
      ops$((signal) => {
        if (signal !== 0 && signal.tag === 1) {
          sent.push(signal[0]);
          if (respond && signal[0].kind !== 'teardown') {
            const operation = signal[0];
            sink({
              tag: 1,
              0: { operation, data: undefined, stale: false, hasNext: false, ...respond(operation) },
            } as never);
          }
        } else sink(signal as never);
      });
  return { forward: forward as never, sent };
}

const urqlOperation = (
  kind: 'query' | 'mutation',
  document = kind === 'query' ? PROBE : TOUCH,
  preferGetMethod = false,
) => urqlClient.createRequestOperation(kind, createRequest(document, { tag: 'x' }), { preferGetMethod });

/** Sends `operation` through `traceContextExchange(options)`; returns its results (synchronous here). */
function runUrql(options: TraceContextExchangeOptions, forward: never, operation: Operation) {
  const exchange: Exchange = traceContextExchange(options);
  return pipe(fromValue(operation), exchange({ forward, client: urqlClient, dispatchDebug: () => {} }), toArray);
}

describe('traceContextExchange (urql, fake forward)', () => {
  it('sends the CLIENT span in extensions.traceContext of a mutation, and the span is `mutation Touch`', () => {
    const { forward, sent } = fakeForward(() => ({ data: { touch: true } }));
    const { caller, results } = asCaller((caller) => ({
      caller,
      results: runUrql({ headers: false }, forward, urqlOperation('mutation')),
    }));
    expect(results.map((result) => result.data)).toEqual([{ touch: true }]);
    const carrier = sent[0]!.extensions?.traceContext as Record<string, string>;
    const span = clientSpan(caller, carrier);
    expect(span.name).toBe('mutation Touch');
    expect(span.attributes).toEqual({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Touch' });
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
  });

  it('puts a GET query’s carrier in its fetchOptions headers only, keeping the headers it had', () => {
    const { forward, sent } = fakeForward(() => ({ data: {} }));
    const operation = urqlOperation('query', PROBE, true);
    operation.context.fetchOptions = { headers: [['x-app', '1']] };
    runUrql({}, forward, operation);
    expect(sent[0]!.extensions?.traceContext).toBeUndefined();
    const { fetchOptions } = sent[0]!.context;
    const headers = (typeof fetchOptions === 'function' ? fetchOptions() : fetchOptions)?.headers as Record<
      string,
      string
    >;
    expect(headers['x-app']).toBe('1');
    expect(headers.traceparent).toMatch(TRACEPARENT);
    clientSpan(undefined, headers);
  });

  it('fails the span on a network error and on GraphQL errors', () => {
    const networkError = new TypeError('fetch failed');
    const { forward } = fakeForward(() => ({ error: { networkError, graphQLErrors: [] } as never }));
    runUrql({}, forward, urqlOperation('query'));
    const span = clientSpan();
    expect(span.attributes['error.type']).toBe('TypeError');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'fetch failed' });
    exporter.reset();
    const graphQLErrors = [{ message: 'nope', extensions: { code: 'FORBIDDEN' } }];
    runUrql({}, fakeForward(() => ({ error: { graphQLErrors } as never })).forward, urqlOperation('query'));
    expect(clientSpan().status).toEqual({ code: SpanStatusCode.ERROR, message: 'nope' });
  });

  it('cancels the span of a query torn down before its first result', () => {
    const { forward, sent } = fakeForward();
    const subject = makeSubject<Operation>();
    const exchange = traceContextExchange()({ forward, client: urqlClient, dispatchDebug: () => {} });
    const { unsubscribe } = pipe(
      exchange(subject.source),
      subscribe(() => {}),
    );
    const operation = urqlOperation('query');
    subject.next(operation);
    subject.next(urqlClient.createRequestOperation('teardown', operation));
    expect(sent.map((op) => op.kind)).toEqual(['query', 'teardown']);
    const span = clientSpan();
    expect(span.attributes['error.type']).toBe('cancelled');
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    unsubscribe();
  });

  it('ignores a malformed traceresponse and non-object extensions; throwing hooks never reach the caller', () => {
    const boom = () => {
      throw new Error('hook');
    };
    diag.disable();
    const { forward, sent } = fakeForward(() => ({ data: {}, extensions: { traceresponse: 'garbage' } }));
    const results = runUrql({ requestHook: boom, responseHook: boom, spanName: boom, propagate: boom }, forward, {
      ...urqlOperation('mutation'),
      extensions: 'not an object' as never,
    });
    expect(results).toHaveLength(1);
    expect(sent).toHaveLength(1);
    const span = clientSpan();
    expect(span.links).toEqual([]);
    expect(span.name).toBe('mutation Touch');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Apollo Client 3: the same link module loaded again with `@apollo/client/core` resolving to Apollo Client 3
// (installed as `apollo-client-3`), as test/apollo3.test.ts does for the whole file.

describe('TraceContextLink (Apollo Client 3, stub terminating link)', () => {
  // biome-ignore lint/suspicious/noExplicitAny: Apollo Client 3 is typed apart
  let apollo3: any;
  let Link3: typeof TraceContextLink;
  beforeAll(async () => {
    vi.resetModules();
    vi.doMock('@apollo/client/core', async () => {
      const module: Record<string, unknown> & { default?: object } = await import('apollo-client-3/core');
      return { ...(module.default ?? {}), ...module };
    });
    apollo3 = await import('apollo-client-3/core');
    ({ TraceContextLink: Link3 } = await import('../src/apollo.js'));
    vi.doUnmock('@apollo/client/core');
  });

  /** A terminating link (Apollo Client 3, zen-observable) that records each operation and answers `answer`, if given. */
  function stubLink3(answer?: unknown) {
    const seen: Seen[] = [];
    const link = new apollo3.ApolloLink(
      (operation: { extensions: Record<string, unknown>; getContext(): Record<string, unknown> }) =>
        new apollo3.Observable((observer: { next(v: unknown): void; complete(): void }) => {
          seen.push({ extensions: operation.extensions, context: operation.getContext() });
          if (answer === undefined) return;
          observer.next(answer);
          observer.complete();
        }),
    );
    return { link, seen };
  }

  it('extends Apollo Client 3’s ApolloLink and turns http.includeExtensions on for the carrier', async () => {
    expect(new Link3()).toBeInstanceOf(apollo3.ApolloLink);
    const { link, seen } = stubLink3({ data: { probe: 'ok' } });
    const chain = apollo3.ApolloLink.from([new Link3({ headers: false }), link]);
    const caller = tracer.startSpan('caller');
    const values = await context.with(
      trace.setSpan(ROOT_CONTEXT, caller),
      () =>
        new Promise<unknown[]>((resolve, reject) => {
          const out: unknown[] = [];
          apollo3.execute(chain, { query: PROBE, variables: { tag: 'x' } }).subscribe({
            next: (value: unknown) => out.push(value),
            error: reject,
            complete: () => resolve(out),
          });
        }),
    );
    caller.end();
    expect(values).toEqual([{ data: { probe: 'ok' } }]);
    expect(seen[0]!.context.http).toEqual({ includeExtensions: true });
    const span = clientSpan(caller, seen[0]!.extensions.traceContext as Record<string, string>);
    expect(span.name).toBe('query Probe');
    expect(span.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' });
  });

  it('reads the type from the document and cancels a mutation unsubscribed before its result', () => {
    const { link } = stubLink3();
    const chain = apollo3.ApolloLink.from([new Link3(), link]);
    apollo3.execute(chain, { query: TOUCH }).subscribe({}).unsubscribe();
    const span = clientSpan();
    expect(span.name).toBe('mutation Touch');
    expect(span.attributes['error.type']).toBe('cancelled');
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
  });
});
