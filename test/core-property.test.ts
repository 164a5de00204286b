import { context, trace } from '@opentelemetry/api';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { attachContext, extractContext, getContext, toContextCarrier } from '../src/index.js';
import { setupTracing } from './support/otel.js';

const { tracer } = setupTracing();

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-'), minLength: length, maxLength: length });
const traceparentLike = fc.oneof(
  fc.tuple(hex(2), hex(32), hex(16), hex(2)).map((parts) => parts.join('-')),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const headerName = fc.oneof(
  fc.constantFrom('traceparent', 'TraceParent', 'tracestate', 'baggage', 'BAGGAGE', '__proto__', 'constructor'),
  fc.string({ maxLength: 20 }),
);
const value = fc.oneof(
  traceparentLike,
  fc.array(traceparentLike, { maxLength: 3 }),
  fc.constant(undefined),
  fc.constant(null),
  fc.integer(),
  fc.object({ maxDepth: 1 }),
);
const carrier = fc.oneof(
  fc.dictionary(headerName, value, { maxKeys: 6 }),
  fc.dictionary(headerName, value, { maxKeys: 6 }).map((record) => JSON.parse(JSON.stringify(record))),
  fc.anything(),
);

it('no carrier makes attachContext, extractContext or toContextCarrier throw, and nothing leaks out', () => {
  fc.assert(
    fc.property(carrier, (input) => {
      const inside = attachContext(input as never, () => trace.getSpanContext(context.active()));
      if (inside) expect(trace.isSpanContextValid(inside)).toBe(true);
      extractContext(input as never);
      toContextCarrier(input);
      expect(trace.getSpanContext(context.active())).toBeUndefined();
    }),
    { numRuns: 5000 },
  );
});

it('getContext output always attaches back to the same span', () => {
  fc.assert(
    fc.property(fc.string(), (name) =>
      tracer.startActiveSpan(name, (span) => {
        const roundTrip = attachContext(getContext(), () => trace.getSpanContext(context.active()));
        span.end();
        return roundTrip?.spanId === span.spanContext().spanId;
      }),
    ),
    { numRuns: 2000 },
  );
});
