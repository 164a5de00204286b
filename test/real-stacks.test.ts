// The package as users run it: beside instrumentation-undici (Node's fetch) and instrumentation-http
// (node:http client and server), loaded before the app as production apps load them, in a child process
// that imports the built package. Each scenario runs real clients against real servers over loopback; see
// test/fixtures/real-stacks.mjs for what each one does.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** One operation as the fixture's judge() saw it; the ids let each check be exact, not merely same-trace. */
interface Judged {
  i: number;
  callerTrace: string;
  /** Our CLIENT spans under this operation's caller span: exactly one, the operation's own. */
  clientSpanIds: string[];
  serverTraceId: string;
  serverParentSpanId: string | null;
  /** The span the procedure or resolver ran in is a SERVER span of ours. */
  serverIsOurs: boolean;
  sameTrace: boolean;
  chain: string[] | null;
  /** The top of `chain`: the caller's child the SERVER span descends from. */
  chainTopSpanId: string | null;
}
interface Seen {
  traceId: string;
  tenant: string | null;
  /** The parent of the span the procedure ran in (null: a root). */
  parentSpanId: string | null;
}
/** One operation of a `spans: false` scenario (fixture's judgeQuiet). */
interface QuietJudged {
  i: number;
  sameTrace: boolean;
  /** Walking up from the span the procedure or resolver ran in reached the operation's own caller span. */
  underCaller: boolean;
  /** The spans on that walk before the caller's, as `scope:kind`: none when it ran in the caller's span. */
  between: string[];
}
type Report = Record<string, unknown>;

const SERVER = 'otel-rpc-context:1';
const CLIENT = 'otel-rpc-context:2';
const HTTP_SPANS = new Set([
  '@opentelemetry/instrumentation-http:1',
  '@opentelemetry/instrumentation-http:2',
  '@opentelemetry/instrumentation-undici:2',
  'app:1',
]);

const single = [
  'trpc httpLink',
  'trpc httpLink, fetch adapter under a route span',
  'apollo HttpLink POST',
  'apollo HttpLink GET',
];
const batched = [
  'trpc httpBatchLink',
  'trpc httpBatchStreamLink',
  'trpc httpBatchLink, fetch adapter under a route span',
  'apollo BatchHttpLink',
];

describe.each(['', 'undici', 'http', 'undici,http'])('instrumentations: [%s]', (instrument) => {
  let report: Report;
  beforeAll(async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', `${fixtures}instrument.mjs`, `${fixtures}real-stacks.mjs`],
      { env: { ...process.env, INSTRUMENT: instrument }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    report = JSON.parse(stdout) as Report;
  }, 120_000);

  const judged = (name: string, count = 50) => {
    const value = report[name] as Judged[] | { error: string };
    if (!Array.isArray(value)) throw new Error(`${name}: ${value.error}`);
    expect(value).toHaveLength(count);
    return value;
  };

  /** The operation's one CLIENT span (fails when its caller has none, or more than one). */
  const ownClient = (operation: Judged) => {
    expect(operation.clientSpanIds, `operation ${operation.i}: CLIENT spans under its caller`).toHaveLength(1);
    return operation.clientSpanIds[0];
  };

  it.each(single)(
    '%s: every operation in its caller trace, under its CLIENT span (through HTTP spans at most)',
    (name) => {
      for (const operation of judged(name)) {
        expect(operation.sameTrace, `operation ${operation.i}`).toBe(true);
        const chain = operation.chain;
        expect(chain?.[0]).toBe(SERVER);
        expect(chain?.at(-1)).toBe(CLIENT);
        for (const between of chain?.slice(1, -1) ?? []) expect(HTTP_SPANS).toContain(between);
        // The CLIENT span the walk ended on is this operation's own, not merely one in the same trace.
        expect(operation.serverIsOurs, `operation ${operation.i}`).toBe(true);
        expect(operation.chainTopSpanId, `operation ${operation.i}`).toBe(ownClient(operation));
      }
    },
  );

  it.each(batched)('%s: every operation in its caller trace, its SERVER span the child of its CLIENT span', (name) => {
    for (const operation of judged(name)) {
      expect(operation.sameTrace, `operation ${operation.i}`).toBe(true);
      expect(operation.chain).toEqual([SERVER, CLIENT]);
      // Its SERVER span's parent is exactly its own CLIENT span, whatever the batch did.
      expect(operation.serverParentSpanId, `operation ${operation.i}`).toBe(ownClient(operation));
    }
  });

  it('a route span that continued the same caller is the parent of a single operation', () => {
    // With undici instrumented, traceContextHeaders leaves the standard headers to it: the route continues
    // undici's request span, itself under the operation's CLIENT span (not two joined traceparent values, which
    // the route's extract would reject).
    const expected = instrument.includes('undici')
      ? [SERVER, 'app:1', '@opentelemetry/instrumentation-undici:2', CLIENT]
      : [SERVER, 'app:1', CLIENT];
    for (const operation of judged('trpc httpLink, fetch adapter under a route span')) {
      expect(operation.chain).toEqual(expected);
      expect(operation.chainTopSpanId, `operation ${operation.i}`).toBe(ownClient(operation));
    }
  });

  it.each(['mixed: trpc httpBatchLink', 'mixed: trpc httpBatchStreamLink', 'mixed: apollo BatchHttpLink'])(
    '%s: an operation without a span never gets another operation trace or baggage',
    (name) => {
      const { traceA, spanA, a, b, c } = report[name] as { traceA: string; spanA: string; a: Seen; b: Seen; c: Seen };
      // A ran directly under its caller span (no CLIENT spans here); B and C in SERVER spans that are roots of
      // the server's own, not merely outside A's trace.
      expect(a).toMatchObject({ traceId: traceA, tenant: 'a', parentSpanId: spanA });
      expect(b.tenant).toBe('b');
      expect(b.traceId).not.toBe(traceA);
      expect(b.parentSpanId).toBeNull();
      expect(c.tenant).toBeNull();
      expect(c.traceId).not.toBe(traceA);
      expect(c.parentSpanId).toBeNull();
    },
  );

  it.each(['sampling: trpc httpBatchLink', 'sampling: apollo BatchHttpLink'])(
    '%s: each operation keeps its own caller sampling decision',
    (name) => {
      expect(report[name]).toEqual([true, false]);
    },
  );

  /**
   * Of 200 operations: how many ran under their own CLIENT span, in their caller's trace; how many under
   * another operation's CLIENT span or in another caller's trace; how many in a root SERVER span. One in its
   * own caller's trace but under no CLIENT span of its own is in none of the three.
   */
  const tally = (name: string) => {
    const operations = judged(name, 200);
    const ownClientOf = new Map(operations.map((operation) => [operation.i, ownClient(operation)]));
    const clients = new Set(ownClientOf.values());
    const traces = new Set(operations.map((operation) => operation.callerTrace));
    let own = 0;
    let another = 0;
    let roots = 0;
    for (const operation of operations) {
      const parent = operation.serverParentSpanId;
      if (parent === ownClientOf.get(operation.i) && operation.serverTraceId === operation.callerTrace) own++;
      else if (
        (parent !== null && clients.has(parent)) ||
        (operation.serverTraceId !== operation.callerTrace && traces.has(operation.serverTraceId))
      )
        another++;
      else if (parent === null && operation.serverIsOurs) roots++;
    }
    return { own, another, roots };
  };

  const quietly = (name: string) => {
    const value = report[name] as QuietJudged[] | { error: string };
    if (!Array.isArray(value)) throw new Error(`${name}: ${value.error}`);
    expect(value).toHaveLength(50);
    return value;
  };

  it.each(['quiet: trpc httpBatchLink', 'quiet: apollo BatchHttpLink'])(
    '%s, spans: false on both sides: every operation runs in its own caller span',
    (name) => {
      for (const operation of quietly(name)) {
        expect(operation, `operation ${operation.i}`).toEqual({
          i: operation.i,
          sameTrace: true,
          underCaller: true,
          between: [],
        });
      }
    },
  );

  it.each(['quiet: trpc httpLink', 'quiet: apollo HttpLink POST'])(
    '%s, spans: false on both sides: every operation under its own caller span, through the HTTP spans that continued it',
    (name) => {
      // Under 'continue' the server's HTTP span, in the caller's trace, is the parent; its own parent is the
      // request's, undici's span when undici rewrote traceparent, else the caller's.
      const between = instrument.includes('http')
        ? [
            '@opentelemetry/instrumentation-http:1',
            ...(instrument.includes('undici') ? ['@opentelemetry/instrumentation-undici:2'] : []),
          ]
        : [];
      for (const operation of quietly(name)) {
        expect(operation, `operation ${operation.i}`).toEqual({
          i: operation.i,
          sameTrace: true,
          underCaller: true,
          between,
        });
      }
    },
  );

  it('200 calls in one batch: no operation runs in another caller trace; maxItems keeps every one', () => {
    const unbounded = tally('large: httpBatchLink default maxItems');
    expect(unbounded.another).toBe(0);
    // About 110 full carriers fit in the header's 8 KiB; the rest start traces of their own.
    expect(unbounded.own).toBeGreaterThanOrEqual(100);
    expect(unbounded.own + unbounded.roots).toBe(200);
    expect(tally('large: httpBatchLink maxItems 50')).toEqual({ own: 200, another: 0, roots: 0 });
  });
});
