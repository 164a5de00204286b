import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { afterEach, describe, expect, it } from 'vitest';
import { attachContext, extractContext, getContext, toContextCarrier } from '../src/index.js';
import { expectNoOpenSpans, setupTracingWithOpenSpans } from './support/otel.js';

const tracing = setupTracingWithOpenSpans();
const { tracer, exporter } = tracing;
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
const activeSpanId = () => trace.getActiveSpan()?.spanContext().spanId;
const activeTraceId = () => trace.getActiveSpan()?.spanContext().traceId;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Every span a test started has ended (a failed expectation included); the exporter is reset even if not.
afterEach(() => expectNoOpenSpans(tracing));

describe('getContext', () => {
  it('returns an empty plain carrier when nothing is active', () => {
    const carrier = getContext();
    expect(carrier).toEqual({});
    expect(Object.getPrototypeOf(carrier)).toBe(Object.prototype);
  });

  it('injects the active span as a W3C traceparent', () => {
    tracer.startActiveSpan('caller', (span) => {
      const { traceId, spanId } = span.spanContext();
      expect(getContext()).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
      span.end();
    });
  });

  it('returns a fresh carrier on every call', () => {
    tracer.startActiveSpan('caller', (span) => {
      const first = getContext();
      first.extra = 'mutated';
      expect(getContext()).not.toHaveProperty('extra');
      const { traceId, spanId } = span.spanContext();
      expect(getContext()).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
      span.end();
    });
  });

  it('serializes options.context instead of the active one', () => {
    const other = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    tracer.startActiveSpan('unrelated', (span) => {
      expect(getContext({ context: other })).toEqual({ traceparent: TRACEPARENT });
      span.end();
    });
  });

  it('carries baggage with the composite propagator', () => {
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ tenant: { value: 'acme' } }));
    expect(getContext({ context: ctx })).toEqual({ baggage: 'tenant=acme' });
  });

  it('uses options.propagator (B3 single header) when given', () => {
    const b3 = new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER });
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(getContext({ context: ctx, propagator: b3 })).toEqual({ b3: `${TRACE_ID}-${SPAN_ID}-1` });
  });
});

describe('attachContext', () => {
  it('makes the carrier active inside fn and returns what fn returns', () => {
    const result = attachContext({ traceparent: TRACEPARENT }, () => {
      expect(trace.getSpanContext(context.active())).toMatchObject({
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        isRemote: true,
      });
      return 42;
    });
    expect(result).toBe(42);
  });

  it('parents spans started inside on the remote span', () => {
    attachContext({ traceparent: TRACEPARENT }, () => tracer.startSpan('child').end());
    const [child] = exporter.getFinishedSpans();
    expect(child?.spanContext().traceId).toBe(TRACE_ID);
    expect(child?.parentSpanContext?.spanId).toBe(SPAN_ID);
  });

  it('restores the previous context after fn returns and after fn throws', () => {
    tracer.startActiveSpan('outer', (outer) => {
      const outerId = outer.spanContext().spanId;
      attachContext({ traceparent: TRACEPARENT }, () => undefined);
      expect(activeSpanId()).toBe(outerId);
      expect(() =>
        attachContext({ traceparent: TRACEPARENT }, () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(activeSpanId()).toBe(outerId);
      outer.end();
    });
  });

  it('keeps the attached context across awaits in fn, and restores it outside after a rejection', async () => {
    await tracer.startActiveSpan('outer', async (outer) => {
      const outerId = outer.spanContext().spanId;
      const pending = attachContext({ traceparent: TRACEPARENT }, async () => {
        await sleep(2);
        expect(trace.getSpanContext(context.active())?.spanId).toBe(SPAN_ID);
        throw new Error('async boom');
      });
      expect(activeSpanId()).toBe(outerId);
      await expect(pending).rejects.toThrow('async boom');
      expect(activeSpanId()).toBe(outerId);
      outer.end();
    });
  });

  it('nests: the inner carrier wins inside, the outer is back after', () => {
    const innerParent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    attachContext({ traceparent: TRACEPARENT }, () => {
      attachContext({ traceparent: innerParent }, () => {
        expect(trace.getSpanContext(context.active())?.traceId).toBe('1'.repeat(32));
      });
      expect(trace.getSpanContext(context.active())?.traceId).toBe(TRACE_ID);
    });
    expect(trace.getSpanContext(context.active())).toBeUndefined();
  });

  it('replaces the active context rather than merging into it', () => {
    const withBaggage = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ outer: { value: '1' } }));
    context.with(withBaggage, () => {
      tracer.startActiveSpan('outer', (outer) => {
        attachContext({}, () => {
          expect(trace.getActiveSpan()).toBeUndefined();
          expect(propagation.getActiveBaggage()).toBeUndefined();
        });
        outer.end();
      });
    });
  });

  it('reads Fetch Headers, Node IncomingHttpHeaders (arrays, any case) and undefined', () => {
    const seen = (carrier: Parameters<typeof attachContext>[0]) =>
      attachContext(carrier, () => ({
        traceId: trace.getSpanContext(context.active())?.traceId,
        baggage: propagation.getActiveBaggage()?.getEntry('k')?.value,
      }));
    expect(seen(new Headers({ TraceParent: TRACEPARENT, baggage: 'k=v' }))).toEqual({
      traceId: TRACE_ID,
      baggage: 'v',
    });
    expect(seen({ traceparent: [TRACEPARENT], baggage: ['k=v', 'other=1'] })).toEqual({
      traceId: TRACE_ID,
      baggage: 'v',
    });
    expect(seen({ TRACEPARENT: TRACEPARENT })).toEqual({ traceId: TRACE_ID, baggage: undefined });
    expect(seen(undefined)).toEqual({ traceId: undefined, baggage: undefined });
    expect(seen(null)).toEqual({ traceId: undefined, baggage: undefined });
  });

  it('round-trips through getContext with any propagator: W3C, baggage, B3 multi-header, composite', () => {
    const propagators = [
      new W3CTraceContextPropagator(),
      new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    ];
    for (const propagator of propagators) {
      tracer.startActiveSpan('caller', (span) => {
        const carrier = JSON.parse(JSON.stringify(getContext({ propagator })));
        attachContext(
          carrier,
          () => expect(trace.getSpanContext(context.active())?.spanId).toBe(span.spanContext().spanId),
          {
            propagator,
          },
        );
        span.end();
      });
    }
  });

  it('treats hostile carriers as no remote parent, without throwing', () => {
    const hostile: unknown[] = [
      { traceparent: 'garbage' },
      { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` },
      { traceparent: `00-${TRACE_ID}-${'0'.repeat(16)}-01` },
      { traceparent: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` },
      { traceparent: 42 },
      { traceparent: { toString: () => TRACEPARENT } },
      { traceparent: 'x'.repeat(1_000_000) },
      { baggage: `${'k=v,'.repeat(100_000)}k=v` },
      JSON.parse(`{"__proto__": {"traceparent": "${TRACEPARENT}"}}`),
      Object.create({ traceparent: TRACEPARENT }),
      'a string',
      42,
      new Headers({ traceparent: 'nope' }),
      {
        get traceparent() {
          throw new Error('getter throws');
        },
      },
    ];
    for (const [index, carrier] of hostile.entries()) {
      const seen = attachContext(carrier as never, () => trace.getSpanContext(context.active()));
      expect(seen, `hostile carrier #${index}`).toBeUndefined();
      expect(trace.getSpanContext(extractContext(carrier as never))).toBeUndefined();
    }
  });

  it('never throws even when a propagator does', () => {
    const throwing = {
      inject: () => undefined,
      fields: () => ['x'],
      extract: () => {
        throw new Error('propagator bug');
      },
    };
    expect(attachContext({ x: '1' }, () => 'ran', { propagator: throwing })).toBe('ran');
  });

  it('keeps hundreds of interleaved async tasks each in its own context', async () => {
    const carriers = Array.from({ length: 300 }, (_, i) => {
      const traceId = i.toString(16).padStart(32, 'a');
      return { traceId, carrier: { traceparent: `00-${traceId}-${SPAN_ID}-01` } };
    });
    const mismatches: string[] = [];
    await Promise.all(
      carriers.map(({ traceId, carrier }, i) =>
        attachContext(carrier, async () => {
          for (let step = 0; step < 5; step++) {
            await (step % 2 ? sleep((i * 7 + step) % 5) : Promise.resolve());
            const seen = trace.getSpanContext(context.active())?.traceId;
            if (seen !== traceId) mismatches.push(`${i}:${step}:${seen}`);
          }
          await tracer.startActiveSpan('task', async (span) => {
            await sleep(i % 3);
            if (activeTraceId() !== traceId) mismatches.push(`${i}:span`);
            span.end();
          });
        }),
      ),
    );
    expect(mismatches).toEqual([]);
    expect(exporter.getFinishedSpans()).toHaveLength(300);
    expect(trace.getSpanContext(context.active())).toBeUndefined();
  });
});

describe('toContextCarrier', () => {
  it('keeps own string entries only', () => {
    const parsed = JSON.parse('{"traceparent":"tp","n":1,"o":{},"__proto__":{"x":"y"},"constructor":"c"}');
    const carrier = toContextCarrier(parsed);
    expect(carrier).toEqual({ traceparent: 'tp' });
    expect(Object.getPrototypeOf(carrier)).toBe(Object.prototype);
    expect(toContextCarrier(['tp'])).toBeUndefined();
    expect(toContextCarrier('tp')).toBeUndefined();
    expect(toContextCarrier(null)).toBeUndefined();
  });

  it('bounds the number of entries and the size of values', () => {
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v']));
    expect(Object.keys(toContextCarrier(many) ?? {})).toHaveLength(64);
    expect(toContextCarrier({ big: 'x'.repeat(10_000) })).toEqual({});
  });
});

describe('across threads and processes', () => {
  const fixture = new URL('./fixtures/attach-and-trace.mjs', import.meta.url);
  type Result = { traceId: string; parentSpanId: string };

  it('a worker thread attaches the carrier and its span joins the caller trace', async () => {
    await tracer.startActiveSpan('send to worker', async (span) => {
      const worker = new Worker(fixture, { workerData: { carrier: getContext() } });
      try {
        const result = await new Promise<Result>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        expect(result.traceId).toBe(span.spanContext().traceId);
        expect(result.parentSpanId).toBe(span.spanContext().spanId);
      } finally {
        await worker.terminate();
        span.end();
      }
    });
  });

  it('a child process attaches the carrier and its span joins the caller trace', async () => {
    await tracer.startActiveSpan('send to child', async (span) => {
      const child = fork(fixture, [JSON.stringify(getContext())], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      try {
        let output = '';
        child.stdout?.on('data', (chunk) => {
          output += chunk;
        });
        const code = await new Promise((resolve) => child.once('exit', resolve));
        expect(code).toBe(0);
        const result = JSON.parse(output) as Result;
        expect(result.traceId).toBe(span.spanContext().traceId);
        expect(result.parentSpanId).toBe(span.spanContext().spanId);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill();
        span.end();
      }
    });
  });
});
