// The one operation span every integration starts (src/core/operation.ts), alone: options resolved once, hooks
// called at the right moments, throwing options reported once and never rethrown, the error rule.
import {
  type DiagLogger,
  DiagLogLevel,
  diag,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CANCELLED_ERROR_TYPE, type OperationStart, startOperationSpan } from '../src/core/operation.js';
import { MAX_CAPTURED_INPUT_LENGTH, resolveSpanOptions, type SpanOptions } from '../src/core/span-options.js';
import { setupTracing } from './support/otel.js';

const { exporter } = setupTracing();

interface Info {
  path: string;
}

const START: OperationStart = {
  kind: SpanKind.SERVER,
  name: 'default.name',
  attributes: { 'rpc.method': 'default.name' },
  parent: ROOT_CONTEXT,
  inputAttribute: 'test.input',
  defaultIsError: (error) => (error as { server?: boolean }).server === true,
  errorType: (error) => (error as { code?: string }).code ?? 'Error',
};

function run(options: SpanOptions<Info>, drive: (op: ReturnType<typeof startOperationSpan>) => void, input?: unknown) {
  const op = startOperationSpan(resolveSpanOptions(options), { path: 'a.b' }, { ...START, input: () => input });
  drive(op);
  return exporter.getFinishedSpans();
}

const warn = vi.fn();
const logger: DiagLogger = { error: vi.fn(), warn, info: vi.fn(), debug: vi.fn(), verbose: vi.fn() };
beforeEach(() => {
  diag.setLogger(logger, DiagLogLevel.WARN);
});
afterEach(() => {
  exporter.reset();
  warn.mockClear();
  diag.disable();
});

describe('startOperationSpan', () => {
  it('starts the semantic-convention span by default, and ends it once', () => {
    const spans = run({}, (op) => {
      op.end();
      op.end();
    });
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe('default.name');
    expect(spans[0]!.kind).toBe(SpanKind.SERVER);
    expect(spans[0]!.attributes).toEqual({ 'rpc.method': 'default.name' });
    expect(spans[0]!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('starts no span when spans is false or its predicate says no, and the handle does nothing', () => {
    expect(run({ spans: false }, (op) => op.end())).toHaveLength(0);
    const asked: Info[] = [];
    const spans = run(
      {
        spans: (info) => {
          asked.push(info);
          return false;
        },
      },
      (op) => {
        expect(op.span).toBeUndefined();
        op.fail(new Error('x'));
        op.end();
      },
    );
    expect(spans).toHaveLength(0);
    expect(asked).toEqual([{ path: 'a.b' }]);
  });

  it('names the span by spanName, and falls back to the default when it throws or returns a non-string', () => {
    expect(run({ spanName: (info) => `custom ${info.path}` }, (op) => op.end())[0]!.name).toBe('custom a.b');
    exporter.reset();
    const throwing = () => {
      throw new Error('bad spanName');
    };
    expect(run({ spanName: throwing }, (op) => op.end())[0]!.name).toBe('default.name');
    exporter.reset();
    expect(run({ spanName: (() => 42) as never }, (op) => op.end())[0]!.name).toBe('default.name');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toContain('spanName');
  });

  it('calls requestHook at start and responseHook once before the end, with the outcome', () => {
    const seen: unknown[] = [];
    const spans = run(
      {
        requestHook: (span, info) => span.setAttribute('app.path', info.path),
        responseHook: (span, info) => {
          seen.push(info);
          span.setAttribute('app.result', String(info.result));
        },
      },
      (op) => {
        op.result('first');
        op.result('last');
        op.end();
        op.end();
      },
    );
    expect(spans[0]!.attributes['app.path']).toBe('a.b');
    expect(spans[0]!.attributes['app.result']).toBe('last');
    expect(seen).toEqual([{ path: 'a.b', result: 'last' }]);
  });

  it('gives responseHook the error of a failed operation', () => {
    const seen: unknown[] = [];
    const failure = Object.assign(new Error('boom'), { code: 'INTERNAL', server: true });
    run({ responseHook: (_span, info) => seen.push(info) }, (op) => {
      op.fail(failure);
      op.end();
    });
    expect(seen).toEqual([{ path: 'a.b', error: failure }]);
  });

  it('reports a throwing hook once through diag; the span still ends', () => {
    const failing = () => () => {
      throw new Error('hook failed');
    };
    const requestHook = failing();
    const responseHook = failing();
    for (let i = 0; i < 3; i++) run({ requestHook, responseHook }, (op) => op.end());
    expect(exporter.getFinishedSpans()).toHaveLength(3);
    // Once per function, not per call.
    expect(warn.mock.calls.map((call) => call[0])).toEqual([
      expect.stringContaining('requestHook'),
      expect.stringContaining('responseHook'),
    ]);
  });

  it('captures the input as JSON only when asked, redacted by the function form, cut at the limit', () => {
    expect(run({}, (op) => op.end(), { a: 1 })[0]!.attributes).not.toHaveProperty('test.input');
    exporter.reset();
    expect(run({ captureInput: true }, (op) => op.end(), { a: 1 })[0]!.attributes['test.input']).toBe('{"a":1}');
    exporter.reset();
    const redact = (input: unknown) => ({ ...(input as object), password: '[redacted]' });
    expect(
      run({ captureInput: redact }, (op) => op.end(), { user: 'u', password: 'p' })[0]!.attributes['test.input'],
    ).toBe('{"user":"u","password":"[redacted]"}');
    exporter.reset();
    expect(run({ captureInput: () => undefined }, (op) => op.end(), { a: 1 })[0]!.attributes).not.toHaveProperty(
      'test.input',
    );
    exporter.reset();
    const long = 'x'.repeat(MAX_CAPTURED_INPUT_LENGTH * 2);
    expect(run({ captureInput: true }, (op) => op.end(), long)[0]!.attributes['test.input']).toHaveLength(
      MAX_CAPTURED_INPUT_LENGTH,
    );
  });

  it('records nothing for an input JSON cannot write, and never throws', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const spans = run({ captureInput: true }, (op) => op.end(), circular);
    expect(spans[0]!.attributes).not.toHaveProperty('test.input');
    exporter.reset();
    expect(run({ captureInput: true }, (op) => op.end(), { n: 10n })[0]!.attributes).not.toHaveProperty('test.input');
  });

  it('marks ERROR by the default rule, records error.type and the exception either way', () => {
    const expected = Object.assign(new Error('not found'), { code: 'NOT_FOUND' });
    const [notFound] = run({}, (op) => {
      op.fail(expected);
      op.end();
    });
    expect(notFound!.status.code).toBe(SpanStatusCode.UNSET);
    expect(notFound!.attributes['error.type']).toBe('NOT_FOUND');
    expect(notFound!.events.map((event) => event.name)).toEqual(['exception']);
    exporter.reset();
    const [internal] = run({}, (op) => {
      op.fail(Object.assign(new Error('down'), { code: 'INTERNAL', server: true }));
      op.end();
    });
    expect(internal!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'down' });
    expect(internal!.attributes['error.type']).toBe('INTERNAL');
  });

  it('lets isError override the default, and falls back to it when isError throws', () => {
    const expected = Object.assign(new Error('not found'), { code: 'NOT_FOUND' });
    const [overridden] = run({ isError: () => true }, (op) => {
      op.fail(expected);
      op.end();
    });
    expect(overridden!.status.code).toBe(SpanStatusCode.ERROR);
    exporter.reset();
    const [fallback] = run(
      {
        isError: () => {
          throw new Error('bad isError');
        },
      },
      (op) => {
        op.fail(expected);
        op.end();
      },
    );
    expect(fallback!.status.code).toBe(SpanStatusCode.UNSET);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('records a plain error object (a formatted GraphQL error) as an exception event too', () => {
    const [span] = run({}, (op) => {
      op.fail({ message: 'bad input', code: 'BAD_USER_INPUT', server: true });
      op.end();
    });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad input' });
    expect(span!.events[0]!.attributes).toMatchObject({
      'exception.type': 'BAD_USER_INPUT',
      'exception.message': 'bad input',
    });
  });

  it('leaves a cancelled operation unset, with error.type, and tells responseHook', () => {
    const seen: unknown[] = [];
    const [span] = run({ responseHook: (_span, info) => seen.push(info) }, (op) => {
      op.cancel();
      op.end();
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes['error.type']).toBe(CANCELLED_ERROR_TYPE);
    expect(seen).toEqual([{ path: 'a.b', cancelled: true }]);
  });

  it('ignores what arrives after the end', () => {
    const [span] = run({}, (op) => {
      op.end();
      op.fail(Object.assign(new Error('late'), { server: true }));
      op.cancel();
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).not.toHaveProperty('error.type');
  });
});

describe('duration metrics', () => {
  class TestReader extends MetricReader {
    protected onForceFlush() {
      return Promise.resolve();
    }
    protected onShutdown() {
      return Promise.resolve();
    }
  }
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  beforeEach(() => {
    metrics.disable();
    metrics.setGlobalMeterProvider(provider);
  });
  afterEach(() => metrics.disable());

  async function points(name: string) {
    const { resourceMetrics } = await reader.collect();
    const found = resourceMetrics.scopeMetrics
      .filter((scope) => scope.scope.name === 'otel-rpc-context')
      .flatMap((scope) => scope.metrics)
      .find((metric) => metric.descriptor.name === name);
    return found;
  }

  const metric = () => ({
    name: 'test.call.duration',
    description: 'test',
    attributes: { 'rpc.method': 'a.b', 'graphql.operation.type': 'unknown' },
  });

  it('records one duration in seconds per operation, with error.type on failure, with or without a span', async () => {
    const config = resolveSpanOptions<Info>({ spans: (info) => info.path !== 'health' });
    const ok = startOperationSpan(config, { path: 'a.b' }, { ...START, metric });
    ok.setAttribute('graphql.operation.type', 'query');
    ok.setAttribute('not.a.metric.key', 'x');
    ok.end();
    const failed = startOperationSpan(config, { path: 'health' }, { ...START, metric });
    expect(failed.span).toBeUndefined();
    failed.fail(Object.assign(new Error('x'), { code: 'NOT_FOUND' }));
    failed.end();
    failed.end();
    const found = await points('test.call.duration');
    expect(found?.descriptor).toMatchObject({ unit: 's', description: 'test' });
    const byType = Object.fromEntries(
      found!.dataPoints.map((point) => [String(point.attributes['error.type']), point]),
    );
    expect(Object.keys(byType).sort()).toEqual(['NOT_FOUND', 'undefined']);
    expect(byType.undefined!.attributes).toEqual({ 'rpc.method': 'a.b', 'graphql.operation.type': 'query' });
    expect(byType.NOT_FOUND!.attributes).toEqual({
      'rpc.method': 'a.b',
      'graphql.operation.type': 'unknown',
      'error.type': 'NOT_FOUND',
    });
    for (const point of Object.values(byType)) {
      const value = point.value as { count: number; sum: number };
      expect(value.count).toBe(1);
      expect(value.sum).toBeGreaterThanOrEqual(0);
      expect(value.sum).toBeLessThan(5); // seconds, not milliseconds
    }
  });

  it('records nothing with metrics: false', async () => {
    const op = startOperationSpan(
      resolveSpanOptions<Info>({ metrics: false }),
      { path: 'a.b' },
      {
        ...START,
        name: 'off',
        metric: () => ({ ...metric(), name: 'test.off.duration' }),
      },
    );
    op.end();
    expect(await points('test.off.duration')).toBeUndefined();
  });
});
