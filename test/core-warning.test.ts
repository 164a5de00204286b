import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { expect, it } from 'vitest';
import { getContext } from '../src/index.js';

it('says once, through diag, that no propagator is registered, and names the fix', () => {
  const warnings: string[] = [];
  const record = (message: string) => warnings.push(message);
  diag.setLogger(
    { error: record, warn: record, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.disable();

  trace.getTracer('test').startActiveSpan('caller', (span) => {
    expect(getContext()).toEqual({});
    expect(getContext()).toEqual({});
    span.end();
  });
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/no propagator is registered/);
  expect(warnings[0]).toMatch(/setGlobalPropagator|register\(\)/);

  // An explicit propagator is never the subject of the warning, and a registered one works.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.getTracer('test').startActiveSpan('caller', (span) => {
    expect(getContext().traceparent).toMatch(/^00-/);
    span.end();
  });
  expect(warnings).toHaveLength(1);
});
