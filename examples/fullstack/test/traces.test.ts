import { describe, expect, it, vi } from 'vitest';
import { parseOtlpJson } from '../server/otlp.ts';
import { TraceStore } from '../server/store.ts';
import { formatTraceTree, type StoredSpan } from '../shared/spans.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

function span(spanId: string, parentSpanId: string | undefined, name: string, startMs: number): StoredSpan {
  return {
    traceId: TRACE,
    spanId,
    parentSpanId,
    name,
    side: 'server',
    service: 'fullstack-server',
    kind: 'INTERNAL',
    startMs,
    endMs: startMs + 1,
    attributes: {},
    status: 'UNSET',
    scope: 'test',
  };
}

describe('OTLP/HTTP JSON intake', () => {
  it('reads hex or base64 ids, string / number / long-bits times, attributes, kind and status', () => {
    const spans = parseOtlpJson({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fullstack-browser' } }] },
          scopeSpans: [
            {
              scope: { name: 'fullstack-browser' },
              spans: [
                {
                  traceId: TRACE.toUpperCase(),
                  spanId: 'b7ad6b7169203331',
                  name: 'click: tRPC Query',
                  kind: 1,
                  startTimeUnixNano: '1700000000000000000',
                  endTimeUnixNano: 1700000000250000000,
                  attributes: [
                    { key: 'app.action', value: { stringValue: 'trpc-query' } },
                    { key: 'n', value: { intValue: '3' } },
                    { key: 'ok', value: { boolValue: true } },
                  ],
                  status: { code: 2 },
                },
                {
                  traceId: Buffer.from(TRACE, 'hex').toString('base64'),
                  spanId: Buffer.from('00f067aa0ba902b7', 'hex').toString('base64'),
                  parentSpanId: 'b7ad6b7169203331',
                  name: 'todo.list',
                  kind: 3,
                  startTimeUnixNano: { low: 0, high: 1 },
                  endTimeUnixNano: { low: 1_000_000, high: 1 },
                },
                { name: 'no ids: dropped' },
              ],
            },
          ],
        },
      ],
    });
    expect(spans).toHaveLength(2);
    expect(spans[0]).toMatchObject({
      traceId: TRACE,
      side: 'client',
      service: 'fullstack-browser',
      kind: 'INTERNAL',
      status: 'ERROR',
      startMs: 1_700_000_000_000,
      attributes: { 'app.action': 'trpc-query', n: 3, ok: true },
    });
    // A JSON number that large is not exact in a double: close is what it can be.
    expect(spans[0]!.endMs).toBeCloseTo(1_700_000_000_250, 0);
    expect(spans[1]).toMatchObject({ traceId: TRACE, spanId: '00f067aa0ba902b7', kind: 'CLIENT' });
    expect(spans[1]!.endMs - spans[1]!.startMs).toBeCloseTo(1, 6);
  });

  it('counts spans of the server service as server spans, and ignores garbage', () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fullstack-server' } }] },
          scopeSpans: [{ spans: [{ traceId: TRACE, spanId: '00f067aa0ba902b7', name: 'x' }] }],
        },
      ],
    };
    expect(parseOtlpJson(body)[0]!.side).toBe('server');
    for (const garbage of [null, 1, 'x', [], { resourceSpans: 'x' }, { resourceSpans: [null, { scopeSpans: [1] }] }]) {
      expect(parseOtlpJson(garbage)).toEqual([]);
    }
  });
});

describe('trace store', () => {
  it('groups spans by trace, drops duplicates, evicts the oldest, reports a trace once it is quiet', async () => {
    vi.useFakeTimers();
    try {
      const finished: string[] = [];
      const store = new TraceStore({ maxTraces: 2, quietMs: 100, onFinished: (t) => finished.push(t.name) });
      store.add([span('a'.repeat(16), undefined, 'root', 0), span('b'.repeat(16), 'a'.repeat(16), 'child', 1)]);
      store.add([span('b'.repeat(16), 'a'.repeat(16), 'child', 1)]);
      expect(store.get(TRACE)?.spans).toHaveLength(2);
      expect(store.get(TRACE)?.name).toBe('root');
      await vi.advanceTimersByTimeAsync(150);
      expect(finished).toEqual(['root']);
      store.add([{ ...span('c'.repeat(16), undefined, 'second', 5), traceId: '1'.repeat(32) }]);
      store.add([{ ...span('d'.repeat(16), undefined, 'third', 6), traceId: '2'.repeat(32) }]);
      expect(store.get(TRACE)).toBeUndefined();
      expect(store.list().map((t) => t.name)).toEqual(['third', 'second']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('prints a trace as an indented tree, children under parents', () => {
    const text = formatTraceTree([
      span('b'.repeat(16), 'a'.repeat(16), 'child', 1),
      span('a'.repeat(16), undefined, 'root', 0),
      span('c'.repeat(16), 'b'.repeat(16), 'grandchild', 2),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe(`trace ${TRACE}`);
    expect(lines[2]).toMatch(/^ {2}root /);
    expect(lines[3]).toMatch(/^ {4}child /);
    expect(lines[4]).toMatch(/^ {6}grandchild /);
  });
});
