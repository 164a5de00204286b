// biome-ignore-all lint/suspicious/noExplicitAny: GraphQL JSON results are untyped
// What every GraphQL test sends and reads back: the probe documents, whose resolvers report the span they ran
// under, fabricated remote callers, the hand-made POST, and the hostile carriers every server must survive.
import { randomBytes } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';

export const PROBE_SOURCE = /* GraphQL */ `
  query Probe($tag: String!) {
    probe(tag: $tag) {
      tag
      seen { traceId spanId }
      later { traceId spanId }
      items(n: 3) { id seen { traceId spanId } }
    }
  }
`;
/** Resolvers that report what they saw in one PROBE result. */
export const PROBE_RESOLVERS = 5;
export const TICKS_SOURCE = /* GraphQL */ `
  subscription Ticks($tag: String!, $count: Int!) {
    ticks(tag: $tag, count: $count) { tag i subscribedIn { traceId spanId } atYield { traceId spanId } seen { traceId spanId } }
  }
`;
/** Resolvers that report what they saw over three TICKS events. */
export const TICKS_RESOLVERS = 9;

/** What a resolver reports: the active span's ids when it ran. */
export interface Seen {
  traceId: string | null;
  spanId: string | null;
}

/** Every `{ traceId, spanId }` a resolver reported, anywhere in a result. */
export function allSeen(value: unknown, into: Seen[] = []): Seen[] {
  if (Array.isArray(value)) for (const item of value) allSeen(item, into);
  else if (value && typeof value === 'object') {
    if ('traceId' in value && 'spanId' in value) into.push(value as Seen);
    else for (const item of Object.values(value)) allSeen(item, into);
  }
  return into;
}

/** Asserts that every resolver of a result (`resolvers` of them) ran in `traceId`, under the span `spanId`. */
export function expectResolversIn(data: unknown, traceId: string, spanId: string, resolvers = PROBE_RESOLVERS) {
  const seen = allSeen(data);
  expect(seen).toHaveLength(resolvers);
  for (const entry of seen) expect(entry).toEqual({ traceId, spanId });
}

export const newTraceId = () => randomBytes(16).toString('hex');
export const newSpanId = () => randomBytes(8).toString('hex');

/** A W3C traceparent for a span context. */
export const traceparentOf = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;

/** A fabricated remote caller: the trace and span ids its carrier names. */
export function remoteCaller() {
  const traceId = newTraceId();
  const spanId = newSpanId();
  return { traceId, spanId, carrier: { traceparent: traceparentOf(traceId, spanId) } };
}

/** A PROBE request body, with `extensions` when given. */
export const probeBody = (tag: string, extensions?: unknown) => ({
  query: PROBE_SOURCE,
  operationName: 'Probe',
  variables: { tag },
  ...(extensions === undefined ? {} : { extensions }),
});

/** The GraphQL-over-HTTP media type, which Yoga answers in when asked, as its own clients ask. */
export const GRAPHQL_RESPONSE = { accept: 'application/graphql-response+json' };

async function post(url: string, body: unknown, headers: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** POSTs a JSON body (or raw JSON text); the reply must be JSON. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await post(url, body, headers);
  return { status: response.status, json: (await response.json()) as any };
}

/**
 * {@link postJson} for a server that may answer in plain text (Apollo Server refuses a bad body or a CSRF
 * request that way): the reply as JSON, or as text when it is not JSON.
 */
export async function postJsonOrText(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await post(url, body, headers);
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/**
 * This package's SERVER spans (a server's own instrumentation, such as @envelop/opentelemetry, makes SERVER
 * spans too), and the one of them in a trace.
 */
export function ourServerSpans(exporter: InMemorySpanExporter) {
  const serverSpans = () =>
    exporter
      .getFinishedSpans()
      .filter((span) => span.kind === SpanKind.SERVER && span.instrumentationScope.name === 'otel-rpc-context');
  /** The one SERVER span in `traceId` (asserts there is exactly one). */
  const serverSpanOf = (traceId: string) => {
    const spans = serverSpans().filter((span) => span.spanContext().traceId === traceId);
    expect(spans).toHaveLength(1);
    return spans[0] as ReadableSpan;
  };
  return { serverSpans, serverSpanOf };
}

/**
 * PROBE bodies whose carrier is malformed or hostile, each with its label: a server must run each as a new
 * trace, never in `good`'s (which the bodies misplace or wrap), and never throw.
 */
export function hostileCarrierBodies(good: { carrier: { traceparent: string } }): [string, string][] {
  const { traceparent } = good.carrier;
  const body = (tag: string, traceContext: unknown) => JSON.stringify(probeBody(tag, { traceContext }));
  return [
    ['a string', body('s', traceparent)],
    ['an array', body('a', [traceparent])],
    ['a number', body('n', 42)],
    ['null', body('z', null)],
    ['a nested object', body('o', { traceparent: { value: 'x' } })],
    ['an oversized traceparent', body('big', { traceparent: `00-${'a'.repeat(20_000)}` })],
    ['ten thousand keys', body('keys', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])))],
    ['a malformed traceparent', body('m', { traceparent: '00-zzzz-yyyy-01' })],
    ['an all-zero trace id', body('0', { traceparent: traceparentOf('0'.repeat(32), newSpanId()) })],
    // Raw JSON: JSON.parse makes `__proto__` an own key, the way an attacker would send it.
    [
      '__proto__ keys',
      `{"query":${JSON.stringify(PROBE_SOURCE)},"variables":{"tag":"p"},"extensions":{"traceContext":{"__proto__":{"traceparent":"${traceparent}"},"constructor":"${traceparent}"}}}`,
    ],
    [
      '__proto__ as the carrier',
      `{"query":${JSON.stringify(PROBE_SOURCE)},"variables":{"tag":"q"},"extensions":{"__proto__":{"traceContext":{"traceparent":"${traceparent}"}}}}`,
    ],
  ];
}

/**
 * Asserts what a server did with one {@link hostileCarrierBodies} body: answered 200 without errors, ran it as
 * the only operation, in a new root trace (not `good`'s) with every resolver under that SERVER span, and let
 * nothing reach `Object.prototype`. Returns that SERVER span.
 */
export function expectRanAsNewTrace(
  reply: { status: number; json: any },
  good: { traceId: string },
  serverSpans: () => ReadableSpan[],
): ReadableSpan {
  expect(reply.status).toBe(200);
  expect(reply.json.errors).toBeUndefined();
  const spans = serverSpans();
  expect(spans).toHaveLength(1);
  const span = spans[0]!;
  expect(span.parentSpanContext).toBeUndefined();
  expect(span.spanContext().traceId).not.toBe(good.traceId);
  expectResolversIn(reply.json.data, span.spanContext().traceId, span.spanContext().spanId);
  expect(({} as Record<string, unknown>).traceparent).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('traceContext');
  return span;
}
