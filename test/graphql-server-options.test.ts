// biome-ignore-all lint/suspicious/noExplicitAny: the tests read untyped GraphQL JSON results
// Issue #13's span options on the three GraphQL server integrations, each a real server over loopback:
// Yoga with useTraceContext (HTTP), Apollo Server with traceContextPlugin (startStandaloneServer), and
// graphql-ws's useServer with withTraceContext (Express + Apollo Server's subscription recipe). Every test
// asserts the exported SERVER spans.
import { createRequire } from 'node:module';
import { type DiagLogger, DiagLogLevel, diag, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createSchema } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ATTR_GRAPHQL_OPERATION_VARIABLES,
  type GraphQLServerOperationInfo,
  type TraceContextPluginOptions,
} from '../src/apollo-server.js';
import { ATTR_GRAPHQL_OPERATION_VARIABLES as WS_VARIABLES } from '../src/graphql-ws.js';
import { useTraceContext, ATTR_GRAPHQL_OPERATION_VARIABLES as YOGA_VARIABLES } from '../src/yoga.js';
import { startApollo } from './apollo-server-harness.js';
import { seen, setupGraphqlTracing, startServer } from './graphql-fixture.js';
import { wsEvents } from './support/graphql-clients.js';
import { ourServerSpans } from './support/graphql-probe.js';
import {
  boom,
  closingAfter,
  countTo,
  type GraphQLBody,
  postGraphql,
  SERVER_KINDS,
  type ServerKind,
  withCaller,
} from './support/graphql-servers.js';
import { expectNoOpenSpans } from './support/otel.js';

// As in graphql-ws.test.ts: src/graphql/graphql-ws/wrap.ts must get the graphql copy Node loads (one realm).
vi.mock('graphql', async () => createRequire(import.meta.url)('graphql'));

const tracing = setupGraphqlTracing();
const { exporter } = tracing;

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Seen {
      traceId: String
      spanId: String
    }
    type Query {
      seen: Seen!
      hello(name: String): String!
      missing: String
      boom: String
    }
    type Subscription {
      count(to: Int!): Int!
    }
  `,
  resolvers: {
    Query: {
      seen: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return seen();
      },
      hello: (_: unknown, { name }: { name?: string }) => `hello ${name ?? 'world'}`,
      missing: () => {
        throw Object.assign(new Error('no such thing'), { extensions: { code: 'NOT_FOUND' } });
      },
      boom,
    },
    Subscription: { count: countTo },
  },
});

// The span options, common to the three (each integration's `incoming` decider is given its own info).
type Options = Omit<TraceContextPluginOptions, 'incoming'>;

interface Running {
  /** One operation from a fresh caller; its result (`{ errors }` when the transport rejects it). */
  send(body: GraphQLBody): Promise<{ traceId: string; spanId: string; result: any }>;
  /** The graphql-ws endpoint (Yoga's recipe, or withTraceContext); `undefined` for Apollo Server over HTTP. */
  wsUrl: string | undefined;
  close(): Promise<void>;
}

/** A graphql-ws operation's last event, or its error as a result's `errors`. */
const wsSend = (url: string, body: GraphQLBody) =>
  wsEvents(url, body).then(
    (events) => events.at(-1),
    (error) => ({ errors: Array.isArray(error) ? error : [error] }),
  );

/** Starts one integration with `options` and the schema above. */
async function start(kind: ServerKind, options: Options): Promise<Running> {
  let send: (body: GraphQLBody) => Promise<any>;
  let close: () => Promise<void>;
  let wsUrl: string | undefined;
  if (kind === 'yoga') {
    const server = await startServer([useTraceContext(options)], { schema });
    send = (body) => postGraphql(server.url, body);
    close = server.close;
    wsUrl = server.wsUrl;
  } else if (kind === 'apollo-server') {
    const server = await startApollo({ integration: 'standalone', plugin: options, apollo: { schema } });
    send = (body) => postGraphql(server.url, body);
    close = server.close;
  } else {
    const server = await startApollo({
      integration: 'express',
      plugin: false,
      ws: options,
      wsServerOptions: { schema },
    });
    send = (body) => wsSend(server.wsUrl, body);
    close = server.close;
    wsUrl = server.wsUrl;
  }
  return {
    wsUrl,
    async send(body) {
      const caller = withCaller(body);
      return { traceId: caller.traceId, spanId: caller.spanId, result: await send(caller.body) };
    },
    close,
  };
}

const withServer = (kind: ServerKind, options: Options, fn: (server: Running) => Promise<void>) =>
  closingAfter(start(kind, options), fn);

// Only this package's SERVER spans (the Apollo Client of the harness makes none here).
const { serverSpans } = ourServerSpans(exporter);
const spansIn = (traceId: string) => serverSpans().filter((span) => span.spanContext().traceId === traceId);
/** The one SERVER span of a trace, once it has ended (graphql-ws ends some after the client saw the result). */
async function spanIn(traceId: string): Promise<ReadableSpan> {
  await expect.poll(() => spansIn(traceId).length, { timeout: 5000 }).toBe(1);
  return spansIn(traceId)[0]!;
}

const HELLO: GraphQLBody = { query: 'query Hello($name: String) { hello(name: $name) }', operationName: 'Hello' };
const BOOM: GraphQLBody = { query: 'query Boom { boom }', operationName: 'Boom' };
const MISSING: GraphQLBody = { query: 'query Missing { missing }', operationName: 'Missing' };

/** A diag logger that collects this package's warnings, for the length of one test. */
function spyOnDiag() {
  const warnings: string[] = [];
  const logger: DiagLogger = {
    error: () => {},
    warn: (message) => {
      if (message.startsWith('otel-rpc-context:')) warnings.push(message);
    },
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return warnings;
}

// Every span an operation started has ended, whatever the options did.
afterEach(() => {
  diag.disable();
  return expectNoOpenSpans(tracing);
});

describe.each(SERVER_KINDS)('%s span options', (kind) => {
  it('spans: a predicate skips IntrospectionQuery by its operationName; its resolvers stay in the caller trace', async () => {
    const asked: GraphQLServerOperationInfo[] = [];
    await withServer(
      kind,
      {
        spans: (info) => {
          asked.push({ ...info });
          return info.operationName !== 'IntrospectionQuery';
        },
      },
      async (server) => {
        const skipped = await server.send({
          query: 'query IntrospectionQuery { __schema { queryType { name } } seen { traceId spanId } }',
          operationName: 'IntrospectionQuery',
        });
        const traced = await server.send({ query: 'query Seen { seen { traceId spanId } }', operationName: 'Seen' });
        expect(skipped.result.data.__schema.queryType.name).toBe('Query');
        // No span of ours: the resolvers ran directly in the caller's context.
        expect(skipped.result.data.seen).toEqual({ traceId: skipped.traceId, spanId: skipped.spanId });
        const span = await spanIn(traced.traceId);
        expect(span.name).toBe('query Seen');
        expect(span.parentSpanContext?.spanId).toBe(traced.spanId);
        expect(traced.result.data.seen).toEqual({ traceId: traced.traceId, spanId: span.spanContext().spanId });
        expect(spansIn(skipped.traceId)).toHaveLength(0);
        expect(serverSpans()).toHaveLength(1);
      },
    );
    // Asked once per operation, when it arrives: the name the request sent, the type not known yet.
    expect(asked.map((info) => [info.operationName, info.operationType])).toEqual([
      ['IntrospectionQuery', undefined],
      ['Seen', undefined],
    ]);
  });

  it('spanName: asked at the start and again once the type is known; the semconv attributes stay', async () => {
    const asked: [string | undefined, string | undefined][] = [];
    await withServer(
      kind,
      {
        spanName: (info) => {
          asked.push([info.operationName, info.operationType]);
          return info.operationType ? `gql ${info.operationType}:${info.operationName ?? '-'}` : 'gql pending';
        },
      },
      async (server) => {
        const hello = await server.send(HELLO);
        expect(hello.result.data.hello).toBe('hello world');
        const span = await spanIn(hello.traceId);
        expect(span.name).toBe('gql query:Hello');
        expect(span.attributes).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Hello' });
        expect(asked).toEqual([
          ['Hello', undefined],
          ['Hello', 'query'],
        ]);
        // A document that never parses keeps the name spanName gave at the start.
        const broken = await server.send({ query: '{ hello(' });
        // One error: GraphQL's syntax error over HTTP, the socket's close event over graphql-ws.
        expect(broken.result.errors).toHaveLength(1);
        const brokenSpan = await spanIn(broken.traceId);
        expect(brokenSpan.name).toBe('gql pending');
        expect(brokenSpan.status.code).toBe(SpanStatusCode.ERROR);
      },
    );
  });

  it('requestHook: adds attributes from the info when the span starts; variables are not captured by default', async () => {
    await withServer(
      kind,
      {
        requestHook: (span, info) => {
          span.setAttribute('app.operation', info.operationName ?? 'none');
          span.setAttribute('app.has_request', typeof info.request === 'object' && info.request !== null);
          span.setAttribute('app.has_context', typeof info.contextValue === 'object' && info.contextValue !== null);
          span.setAttribute('app.variables', JSON.stringify(info.variables));
        },
      },
      async (server) => {
        const { traceId } = await server.send({ ...HELLO, variables: { name: 'ada' } });
        const span = await spanIn(traceId);
        expect(span.name).toBe('query Hello');
        expect(span.attributes).toMatchObject({
          'app.operation': 'Hello',
          'app.has_request': true,
          'app.has_context': true,
          'app.variables': '{"name":"ada"}',
        });
        expect(span.attributes).not.toHaveProperty(ATTR_GRAPHQL_OPERATION_VARIABLES);
      },
    );
  });

  it('responseHook: sees the execution result, and the error of a failed operation, just before the span ends', async () => {
    const outcomes: { operationType?: string; result?: any; error?: any }[] = [];
    await withServer(
      kind,
      {
        responseHook: (span, info) => {
          outcomes.push({ operationType: info.operationType, result: info.result, error: info.error });
          span.setAttribute('app.outcome', info.error ? 'error' : 'ok');
        },
      },
      async (server) => {
        const ok = await server.send(HELLO);
        const okSpan = await spanIn(ok.traceId);
        const failed = await server.send(BOOM);
        expect(failed.result.errors[0].message).toBe('boom');
        const failedSpan = await spanIn(failed.traceId);
        expect(okSpan.attributes['app.outcome']).toBe('ok');
        expect(failedSpan.attributes['app.outcome']).toBe('error');
        expect(failedSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
      },
    );
    expect(outcomes).toHaveLength(2);
    expect(outcomes[0]!.operationType).toBe('query');
    expect(outcomes[0]!.result.data).toEqual({ hello: 'hello world' });
    expect(outcomes[0]!.error).toBeUndefined();
    expect(outcomes[1]!.error.message).toBe('boom');
  });

  it.skipIf(kind === 'apollo-server')(
    'responseHook: a subscription over graphql-ws gives it the last event; its span ends with the stream',
    async () => {
      const outcomes: { operationType?: string; result?: any; error?: unknown }[] = [];
      await withServer(
        kind,
        {
          responseHook: (span, info) => {
            outcomes.push({ operationType: info.operationType, result: info.result, error: info.error });
            span.setAttribute('app.last', (info.result as any)?.data?.count ?? -1);
          },
        },
        async (server) => {
          const caller = withCaller({
            query: 'subscription Count($to: Int!) { count(to: $to) }',
            operationName: 'Count',
            variables: { to: 3 },
          });
          const last = await wsSend(server.wsUrl!, caller.body);
          expect(last.data.count).toBe(3);
          const span = await spanIn(caller.traceId);
          expect(span.name).toBe('subscription Count');
          expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
          expect(span.attributes['app.last']).toBe(3);
          expect(span.status.code).toBe(SpanStatusCode.UNSET);
        },
      );
      expect(outcomes).toEqual([{ operationType: 'subscription', result: { data: { count: 3 } }, error: undefined }]);
    },
  );

  it('throwing hooks, spanName, captureInput and isError never break the operation, and diag reports each once', async () => {
    const warnings = spyOnDiag();
    const fail = (what: string) => () => {
      throw new Error(`${what} failed on purpose`);
    };
    await withServer(
      kind,
      {
        // Throws for Boom, returns a number (not a name) for the others: the default name either way.
        spanName: (info) => {
          if (info.operationName === 'Boom') throw new Error('spanName failed on purpose');
          return 42 as unknown as string;
        },
        requestHook: fail('requestHook'),
        responseHook: fail('responseHook'),
        captureInput: fail('captureInput'),
        isError: fail('isError'),
      },
      async (server) => {
        for (let i = 0; i < 2; i++) {
          const hello = await server.send({ ...HELLO, variables: { name: `n${i}` } });
          expect(hello.result.data.hello).toBe(`hello n${i}`);
          const span = await spanIn(hello.traceId);
          expect(span.name).toBe('query Hello');
          expect(span.status.code).toBe(SpanStatusCode.UNSET);
          expect(span.attributes).not.toHaveProperty(ATTR_GRAPHQL_OPERATION_VARIABLES);
          const boom = await server.send(BOOM);
          expect(boom.result.errors[0].message).toBe('boom');
          const boomSpan = await spanIn(boom.traceId);
          expect(boomSpan.name).toBe('query Boom');
          // isError threw: the default (every error is an error).
          expect(boomSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
          expect(boomSpan.attributes['error.type']).toBe('GraphQLError');
        }
      },
    );
    for (const option of ['spanName', 'requestHook', 'responseHook', 'captureInput', 'isError']) {
      expect(warnings.filter((message) => message.includes(`the ${option} option threw`))).toHaveLength(1);
    }
    expect(warnings).toHaveLength(5);
  });

  it('captureInput: true records the variables as graphql.operation.variables', async () => {
    expect(YOGA_VARIABLES).toBe('graphql.operation.variables');
    expect(WS_VARIABLES).toBe(ATTR_GRAPHQL_OPERATION_VARIABLES);
    await withServer(kind, { captureInput: true }, async (server) => {
      const { traceId } = await server.send({ ...HELLO, variables: { name: 'ada' } });
      const span = await spanIn(traceId);
      expect(span.attributes[ATTR_GRAPHQL_OPERATION_VARIABLES]).toBe('{"name":"ada"}');
      // An operation without variables records nothing.
      const bare = await server.send({ query: '{ hello }' });
      expect((await spanIn(bare.traceId)).attributes).not.toHaveProperty(ATTR_GRAPHQL_OPERATION_VARIABLES);
    });
  });

  it('captureInput: a function redacts; one that returns something circular records nothing', async () => {
    const seenInfo: (string | undefined)[] = [];
    await withServer(
      kind,
      {
        captureInput: (variables, info) => {
          seenInfo.push(info.operationName);
          const vars = variables as Record<string, unknown>;
          if (vars.name === 'loop') {
            const circular: Record<string, unknown> = {};
            circular.self = circular;
            return circular;
          }
          return { ...vars, name: '[redacted]' };
        },
      },
      async (server) => {
        const redacted = await server.send({ ...HELLO, variables: { name: 'secret' } });
        expect(redacted.result.data.hello).toBe('hello secret');
        expect((await spanIn(redacted.traceId)).attributes[ATTR_GRAPHQL_OPERATION_VARIABLES]).toBe(
          '{"name":"[redacted]"}',
        );
        const circular = await server.send({ ...HELLO, variables: { name: 'loop' } });
        expect(circular.result.data.hello).toBe('hello loop');
        const span = await spanIn(circular.traceId);
        expect(span.attributes).not.toHaveProperty(ATTR_GRAPHQL_OPERATION_VARIABLES);
        expect(span.status.code).toBe(SpanStatusCode.UNSET);
      },
    );
    expect(seenInfo).toEqual(['Hello', 'Hello']);
  });

  it('isError: a NOT_FOUND result error leaves the status UNSET but records error.type; other errors stay ERROR', async () => {
    const asked: [string | undefined, string | undefined][] = [];
    await withServer(
      kind,
      {
        isError: (error, info) => {
          asked.push([info.operationName, info.operationType]);
          return (error as { extensions?: { code?: unknown } }).extensions?.code !== 'NOT_FOUND';
        },
      },
      async (server) => {
        const missing = await server.send(MISSING);
        expect(missing.result.errors[0].message).toBe('no such thing');
        const span = await spanIn(missing.traceId);
        expect(span.name).toBe('query Missing');
        expect(span.status.code).toBe(SpanStatusCode.UNSET);
        expect(span.attributes['error.type']).toBe('NOT_FOUND');
        expect(span.events.map((event) => event.name)).toEqual(['exception']);
        expect(span.events[0]!.attributes?.['exception.message']).toBe('no such thing');
        const boom = await server.send(BOOM);
        const boomSpan = await spanIn(boom.traceId);
        expect(boomSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
        expect(boomSpan.attributes['error.type']).toBe('GraphQLError');
      },
    );
    // isError sees the operation as the document names it.
    expect(asked).toEqual([
      ['Missing', 'query'],
      ['Boom', 'query'],
    ]);
  });
});
