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

interface Judged {
  i: number;
  sameTrace: boolean;
  chain: string[] | null;
}
interface Seen {
  traceId: string;
  tenant: string | null;
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

  const judged = (name: string) => {
    const value = report[name] as Judged[] | { error: string };
    if (!Array.isArray(value)) throw new Error(`${name}: ${value.error}`);
    expect(value).toHaveLength(50);
    return value;
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
      }
    },
  );

  it.each(batched)('%s: every operation in its caller trace, its SERVER span the child of its CLIENT span', (name) => {
    for (const operation of judged(name)) {
      expect(operation.sameTrace, `operation ${operation.i}`).toBe(true);
      expect(operation.chain).toEqual([SERVER, CLIENT]);
    }
  });

  it('a route span that continued the same caller is the parent of a single operation', () => {
    const chains = judged('trpc httpLink, fetch adapter under a route span').map((operation) => operation.chain);
    // With undici the request's traceparent holds two values, which the route's own extract rejects: the
    // route starts a trace of its own, and the operation keeps its CLIENT span as the parent.
    const expected = instrument.includes('undici') ? [SERVER, CLIENT] : [SERVER, 'app:1', CLIENT];
    for (const chain of chains) expect(chain).toEqual(expected);
  });

  it.each(['mixed: trpc httpBatchLink', 'mixed: trpc httpBatchStreamLink', 'mixed: apollo BatchHttpLink'])(
    '%s: an operation without a span never gets another operation trace or baggage',
    (name) => {
      const { traceA, a, b, c } = report[name] as { traceA: string; a: Seen; b: Seen; c: Seen };
      expect(a).toMatchObject({ traceId: traceA, tenant: 'a' });
      expect(b.tenant).toBe('b');
      expect(b.traceId).not.toBe(traceA);
      expect(c.tenant).toBeNull();
      expect(c.traceId).not.toBe(traceA);
    },
  );

  it.each(['sampling: trpc httpBatchLink', 'sampling: apollo BatchHttpLink'])(
    '%s: each operation keeps its own caller sampling decision',
    (name) => {
      expect(report[name]).toEqual([true, false]);
    },
  );

  it('200 calls in one batch: no operation runs in another caller trace; maxItems keeps every one', () => {
    const unbounded = report['large: httpBatchLink default maxItems'] as { own: number; another: number };
    expect(unbounded.another).toBe(0);
    // About 110 full carriers fit in the header's 8 KiB; the rest start traces of their own.
    expect(unbounded.own).toBeGreaterThanOrEqual(100);
    expect(report['large: httpBatchLink maxItems 50']).toEqual({ own: 200, another: 0 });
  });
});
