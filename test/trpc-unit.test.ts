// The tRPC link, helpers and middleware alone, without a network: the link driven through tRPC's own chain with
// a fake terminating link, each wire slot's encode and decode side by side, the middleware through
// `callProcedure`/`createCaller`. The loopback suites (trpc*.test.ts) cover the same paths over real servers.
import {
  context,
  type DiagLogger,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTRPCClient, type Operation, type TRPCLink } from '@trpc/client';
import { type AnyRouter, initTRPC, TRPCError } from '@trpc/server';
import { type Observable, observable } from '@trpc/server/observable';
import { callProcedure } from '@trpc/server/unstable-core-do-not-import';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBatchHeader,
  encodeBatchHeader,
  MAX_BATCH_HEADER_LENGTH,
  MAX_TRACE_HEADERS_LENGTH,
} from '../src/trpc/batch-header.js';
import { decodeBatchResponseHeader, encodeBatchResponseHeader } from '../src/trpc/traceresponse.js';
import { NO_CARRIER_KEY, URL_PARAM, urlCarrier, withCarrierParam } from '../src/trpc/url-param.js';
import { takeFrameCarrier, WS_FIELD } from '../src/trpc/ws.js';
import {
  ATTR_TRPC_TRACERESPONSE,
  BATCH_HEADER,
  BATCH_RESPONSE_HEADER,
  TRACE_RESPONSE_HEADER,
  traceContextEncoder,
  traceContextHeaders,
  traceContextLink,
  traceContextMiddleware,
  traceContextUrl,
  traceResponseMeta,
} from '../src/trpc.js';
import { expectNoOpenSpans, setupTracingWithOpenSpans } from './support/otel.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

let otel: ReturnType<typeof setupTracingWithOpenSpans>;
beforeAll(() => {
  otel = setupTracingWithOpenSpans();
});
afterEach(() => expectNoOpenSpans(otel));

const spans = (): ReadableSpan[] => otel.exporter.getFinishedSpans();

/** A span's own `traceparent`, as a propagator writes it. */
const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

/** The caller's context: a remote parent span, as if an HTTP server had extracted `PARENT`. */
const callerContext = () => propagation.extract(ROOT_CONTEXT, { traceparent: PARENT });

// ---------------------------------------------------------------------------------------------------------------
// The link alone: tRPC's chain (createChain's loop) with a fake terminating link.

interface Terminal {
  /** Every operation the terminating link received, and the context active when it did. */
  seen: { op: Operation; active: ReturnType<typeof context.active> }[];
  link: TRPCLink<AnyRouter>;
}

/** A terminating link that answers every operation through `answer` (synchronously or later). */
function terminal(
  answer: (op: Operation, observer: Parameters<Parameters<typeof observable>[0]>[0]) => void,
): Terminal {
  const seen: Terminal['seen'] = [];
  const link: TRPCLink<AnyRouter> =
    () =>
    ({ op }) =>
      observable((observer) => {
        seen.push({ op, active: context.active() });
        answer(op, observer as never);
      });
  return { seen, link };
}

/** tRPC's own link chain (what `createChain` does), for one operation. */
function runChain(links: TRPCLink<AnyRouter>[], op: Operation): Observable<unknown, unknown> {
  const operationLinks = links.map((link) => link({} as never));
  const execute = (index: number, current: Operation): Observable<unknown, unknown> =>
    (operationLinks[index] as (opts: unknown) => Observable<unknown, unknown>)({
      op: current,
      next: (nextOp: Operation) => execute(index + 1, nextOp),
    });
  return execute(0, op);
}

const query = (path: string, extra: Partial<Operation> = {}): Operation => ({
  id: 1,
  type: 'query',
  path,
  input: { id: 7 },
  context: {},
  signal: null,
  ...extra,
});

describe('traceContextLink alone', () => {
  it('starts a CLIENT span under the caller and stores its carrier for the terminating link', async () => {
    const end = terminal((_op, observer) => {
      observer.next({ result: { type: 'data', data: 42 } } as never);
      observer.complete();
    });
    const values: unknown[] = [];
    await new Promise<void>((resolve, reject) =>
      context.with(callerContext(), () =>
        runChain([traceContextLink({ captureInput: true }), end.link], query('post.byId')).subscribe({
          next: (value) => values.push(value),
          error: reject,
          complete: resolve,
        }),
      ),
    );
    const [span] = spans();
    expect(spans()).toHaveLength(1);
    expect(span?.name).toBe('post.byId');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.attributes).toEqual({
      'rpc.system.name': 'trpc',
      'rpc.method': 'post.byId',
      'trpc.procedure.type': 'query',
      'trpc.procedure.input': '{"id":7}',
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(end.seen[0]?.op.context.traceContext).toEqual({ traceparent: traceparentOf(span as ReadableSpan) });
    expect(trace.getSpan(end.seen[0]?.active ?? ROOT_CONTEXT)?.spanContext().spanId).toBe(span?.spanContext().spanId);
    expect(values).toEqual([{ result: { type: 'data', data: 42 } }]);
  });

  it('fails the span with the tRPC code of an error, and forwards the error as is', async () => {
    const failure = Object.assign(new Error('nope'), { data: { code: 'NOT_FOUND' } });
    const end = terminal((_op, observer) => observer.error(failure as never));
    const received = await new Promise<unknown>((resolve) =>
      runChain([traceContextLink(), end.link], query('missing')).subscribe({ error: resolve }),
    );
    expect(received).toBe(failure);
    const [span] = spans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('NOT_FOUND');
  });

  it('cancels a query torn down before its result: status unset, error.type cancelled', () => {
    const end = terminal(() => {});
    const subscription = runChain([traceContextLink(), end.link], query('slow')).subscribe({});
    subscription.unsubscribe();
    const [span] = spans();
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.attributes['error.type']).toBe('cancelled');
  });

  it('an AbortError from the terminating link cancels the span as AbortError', async () => {
    const abort = Object.assign(new Error('aborted'), { name: 'TRPCClientError', cause: { name: 'AbortError' } });
    const end = terminal((_op, observer) => observer.error(abort as never));
    await new Promise<unknown>((resolve) =>
      runChain([traceContextLink(), end.link], query('q')).subscribe({ error: resolve }),
    );
    expect(spans()[0]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(spans()[0]?.attributes['error.type']).toBe('AbortError');
  });

  it('hooks and a propagate predicate that throw never reach the caller; nothing is sent', async () => {
    const warnings: unknown[] = [];
    diag.setLogger(
      { warn: (...args: unknown[]) => warnings.push(args[0]) } as unknown as DiagLogger,
      DiagLogLevel.WARN,
    );
    try {
      const end = terminal((_op, observer) => {
        observer.next({ result: { data: 1 } } as never);
        observer.complete();
      });
      const link = traceContextLink({
        propagate: () => {
          throw new Error('bad predicate');
        },
        requestHook: () => {
          throw new Error('bad hook');
        },
        spanName: () => {
          throw new Error('bad name');
        },
      });
      await new Promise<void>((resolve) =>
        context.with(callerContext(), () => runChain([link, end.link], query('p')).subscribe({ complete: resolve })),
      );
      expect(end.seen[0]?.op.context.traceContext).toEqual({});
      expect(end.seen[0]?.active.getValue(NO_CARRIER_KEY)).toBe(true);
      expect(spans().map((span) => span.name)).toEqual(['p']);
      expect(warnings.length).toBeGreaterThan(0);
    } finally {
      diag.disable();
    }
  });

  it('links the CLIENT span to the SERVER span the response names', async () => {
    const server = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    const response = { headers: new Headers({ [TRACE_RESPONSE_HEADER]: server }) };
    const end = terminal((_op, observer) => {
      observer.next({ result: { data: 1 }, context: { response } } as never);
      observer.complete();
    });
    await new Promise<void>((resolve) =>
      runChain([traceContextLink(), end.link], query('q')).subscribe({ complete: resolve }),
    );
    expect(spans()[0]?.links.map((link) => link.context.spanId)).toEqual(['2'.repeat(16)]);
    expect(spans()[0]?.attributes[ATTR_TRPC_TRACERESPONSE]).toBeUndefined();
  });

  it('a batch answered by one response: each CLIENT span links to its own entry, the headers read once', async () => {
    const serverSpanIds = ['3'.repeat(16), '4'.repeat(16), '5'.repeat(16)];
    const headers = new Headers({
      [BATCH_RESPONSE_HEADER]: JSON.stringify(serverSpanIds.map((id) => `00-${'1'.repeat(32)}-${id}-01`)),
    });
    let headerReads = 0;
    const read = headers.get.bind(headers);
    headers.get = (name: string) => {
      headerReads++;
      return read(name);
    };
    const response = { headers };
    // What httpBatchLink does: the request's headers are built from every operation, then one response answers all.
    const ops: Operation[] = [];
    const observers: Parameters<Parameters<typeof observable>[0]>[0][] = [];
    const end = terminal((op, observer) => {
      ops.push(op);
      observers.push(observer);
      if (ops.length < serverSpanIds.length) return;
      traceContextHeaders({ opList: ops });
      for (const each of observers) {
        each.next({ result: { data: 1 }, context: { response } } as never);
        each.complete();
      }
    });
    const done = ['a', 'b', 'c'].map(
      (path) =>
        new Promise<void>((resolve) =>
          runChain([traceContextLink(), end.link], query(path)).subscribe({ complete: resolve }),
        ),
    );
    await Promise.all(done);
    expect(spans().map((span) => [span.name, span.links.map((link) => link.context.spanId)])).toEqual([
      ['a', [serverSpanIds[0]]],
      ['b', [serverSpanIds[1]]],
      ['c', [serverSpanIds[2]]],
    ]);
    expect(headerReads).toBeLessThanOrEqual(2);
  });

  it('works inside a real tRPC client with a fake terminating link', async () => {
    const end = terminal((op, observer) => {
      observer.next({ result: { data: op.path } } as never);
      observer.complete();
    });
    const client = createTRPCClient<AnyRouter>({ links: [traceContextLink(), end.link] });
    const result = await (client as unknown as { a: { b: { query: () => Promise<unknown> } } }).a.b.query();
    expect(result).toBe('a.b');
    expect(spans().map((span) => [span.name, span.kind])).toEqual([['a.b', SpanKind.CLIENT]]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The wire slots: each encoder beside its decoder.

describe('batch header', () => {
  const carriers: Record<string, string>[] = [{ traceparent: PARENT }, {}, { traceparent: PARENT, baggage: 'k=v' }];

  it('round-trips every carrier, aligned with the batch', () => {
    expect(decodeBatchHeader(encodeBatchHeader(carriers))).toEqual(carriers);
  });

  it('traceContextHeaders: the first operation as standard headers, every operation in the batch header', () => {
    const ops = carriers.map((carrier) => ({ context: { traceContext: carrier } }));
    const headers = traceContextHeaders({ opList: ops });
    expect(headers.traceparent).toBe(PARENT);
    expect(decodeBatchHeader(headers[BATCH_HEADER])).toEqual(carriers);
    // A lone operation without a context has nothing to say in its slot.
    expect(traceContextHeaders({ op: { context: { traceContext: {} } } })).toEqual({});
  });

  it('drops baggage, then whole entries, to stay within the limit', () => {
    const baggage = `k=${'v'.repeat(200)}`;
    const many = Array.from({ length: 60 }, () => ({ traceparent: PARENT, baggage }));
    const lean = decodeBatchHeader(encodeBatchHeader(many));
    expect(lean).toEqual(many.map(() => ({ traceparent: PARENT })));
    const tooMany = Array.from({ length: 200 }, () => ({ traceparent: PARENT }));
    const encoded = encodeBatchHeader(tooMany);
    expect(encoded.length).toBeLessThanOrEqual(MAX_BATCH_HEADER_LENGTH);
    const decoded = decodeBatchHeader(encoded) ?? [];
    expect(decoded).toHaveLength(200);
    expect(decoded.at(-1)).toEqual({});
    expect(decoded[0]).toEqual({ traceparent: PARENT });
  });

  it('counts the standard headers against the limit: the first entry goes as null before anything is dropped', () => {
    const baggage = `k=${'v'.repeat(7_000)}`;
    const lone = [{ traceparent: PARENT, baggage }];
    const standard = PARENT.length + baggage.length;
    // Alone it fits; beside the standard headers carrying the same baggage, it says "as the standard headers".
    expect(decodeBatchHeader(encodeBatchHeader(lone))).toEqual(lone);
    expect(encodeBatchHeader(lone, standard) === '[null]').toBe(true);
    // Beside standard headers of an ordinary size, the whole goes.
    expect(encodeBatchHeader(lone, 4_000).length).toBeGreaterThan(7_000);
    expect(decodeBatchHeader('[null]')).toEqual([undefined]);
    // A batch: the first as null, the others whole while they fit, then without baggage, then {}.
    const small = { traceparent: PARENT, baggage: 'k=v' };
    expect(decodeBatchHeader(encodeBatchHeader([lone[0]!, small], standard))).toEqual([undefined, small]);
    const many = [
      lone[0]!,
      ...Array.from({ length: 80 }, () => ({ traceparent: PARENT, baggage: `k=${'v'.repeat(40)}` })),
    ];
    const decoded = decodeBatchHeader(encodeBatchHeader(many, standard)) ?? [];
    expect(decoded[0]).toBeUndefined();
    expect(decoded[1]).toEqual({ traceparent: PARENT });
    expect(decoded.at(-1)).toEqual({});
    // A first entry without baggage keeps its own slot: nothing of it would travel twice.
    const plain = Array.from({ length: 200 }, () => ({ traceparent: PARENT }));
    expect(decodeBatchHeader(encodeBatchHeader(plain, PARENT.length))?.[0]).toEqual({ traceparent: PARENT });
    // Never past either limit, whatever the sizes.
    for (const length of [0, 55, 4_000, 8_000, 8_300, 12_000, 13_000]) {
      for (const count of [1, 2, 10, 150]) {
        const encoded = encodeBatchHeader(many.slice(0, count), length);
        expect(encoded.length).toBeLessThanOrEqual(MAX_BATCH_HEADER_LENGTH);
        if (length + 6 <= MAX_TRACE_HEADERS_LENGTH) {
          expect(encoded.length + length).toBeLessThanOrEqual(MAX_TRACE_HEADERS_LENGTH);
        }
        expect(decodeBatchHeader(encoded)).not.toBeNull();
      }
    }
  });

  it('decodes hostile values to null or {} and never throws', () => {
    expect(decodeBatchHeader(undefined)).toBeNull();
    expect(decodeBatchHeader('not json')).toBeNull();
    expect(decodeBatchHeader('{"traceparent":"x"}')).toBeNull();
    expect(decodeBatchHeader(`[${'1,'.repeat(MAX_BATCH_HEADER_LENGTH)}1]`)).toBeNull();
    expect(decodeBatchHeader('[null, 3, "x", {"__proto__": {"polluted": "1"}, "traceparent": 5}]')).toEqual([
      undefined,
      {},
      {},
      {},
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('subscription URL parameter', () => {
  it('round-trips the carrier through the URL', () => {
    const url = withCarrierParam('http://localhost/trpc?x=1', { traceparent: PARENT });
    expect(url.startsWith(`http://localhost/trpc?x=1&${URL_PARAM}=`)).toBe(true);
    expect(urlCarrier({ url: new URL(url) })).toEqual({ traceparent: PARENT });
  });

  it('adds nothing for an empty or oversized carrier, or when propagate said no', async () => {
    expect(withCarrierParam('http://h/', {})).toBe('http://h/');
    expect(withCarrierParam('http://h/', { baggage: 'x'.repeat(MAX_BATCH_HEADER_LENGTH) })).toBe('http://h/');
    const url = traceContextUrl(async () => 'http://h/');
    const active = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(trace.getSpanContext(callerContext())!));
    expect(await context.with(active, url)).toContain(`?${URL_PARAM}=`);
    expect(await context.with(active.setValue(NO_CARRIER_KEY, true), url)).toBe('http://h/');
  });

  it('reads hostile parameters as "no context" or absent, never throwing', () => {
    const at = (query: string) => urlCarrier({ url: new URL(`http://h/?${query}`) });
    expect(at(`${URL_PARAM}=not-json`)).toEqual({});
    expect(at(`${URL_PARAM}=[1,2]`)).toEqual({});
    expect(at(`${URL_PARAM}=${'x'.repeat(MAX_BATCH_HEADER_LENGTH + 1)}`)).toBeUndefined();
    expect(at('other=1')).toBeUndefined();
    expect(urlCarrier({ url: 'http://h/' })).toBeUndefined();
    expect(urlCarrier(null)).toBeUndefined();
  });
});

describe('WebSocket field', () => {
  it('encodes the operation carrier into its message and decodes it back for its batchIndex', async () => {
    const encoder = traceContextEncoder();
    const end = terminal((op, observer) => {
      const frame = encoder.encode({ id: 1, method: op.type, params: { path: op.path, input: op.input } });
      observer.next({ result: { data: frame } } as never);
      observer.complete();
    });
    const frames: unknown[] = [];
    await new Promise<void>((resolve) =>
      context.with(callerContext(), () =>
        runChain([traceContextLink({ spans: false }), end.link], query('ws.q')).subscribe({
          next: (value) => frames.push((value as { result: { data: unknown } }).result.data),
          complete: resolve,
        }),
      ),
    );
    const message = JSON.parse(frames[0] as string);
    expect(message[WS_FIELD]).toEqual({ traceparent: PARENT });
    encoder.decode(JSON.stringify([{ id: 1 }, message]));
    expect(takeFrameCarrier(0)).toBeUndefined();
    expect(takeFrameCarrier(1)).toEqual({ traceparent: PARENT });
    // Taken once.
    expect(takeFrameCarrier(1)).toBeUndefined();
  });

  it('leaves messages without a pending operation alone and decodes hostile frames without throwing', () => {
    const encoder = traceContextEncoder();
    const message = { id: 2, method: 'query', params: { path: 'nobody', input: 1 } };
    expect(JSON.parse(encoder.encode(message))).toEqual(message);
    expect(encoder.decode(JSON.stringify({ id: 3, [WS_FIELD]: 'not a carrier' }))).toEqual({
      id: 3,
      [WS_FIELD]: 'not a carrier',
    });
    expect(takeFrameCarrier(0)).toBeUndefined();
    expect(encoder.decode('null')).toBeNull();
    expect(() => encoder.decode(new Uint8Array([1]))).toThrow(/binary/);
  });
});

describe('traceresponse headers', () => {
  const value = (n: number) => `00-${TRACE_ID}-${n.toString(16).padStart(16, '0')}-01`;

  it('round-trips each call slot of the batch response header', () => {
    const encoded = encodeBatchResponseHeader([value(1), null, value(3)]) as string;
    expect(decodeBatchResponseHeader(encoded, { index: 2, size: 3 })).toBe(value(3));
    expect(decodeBatchResponseHeader(encoded, { index: 1, size: 3 })).toBeNull();
    // A list that does not match the request names nobody.
    expect(decodeBatchResponseHeader(encoded, { index: 0, size: 2 })).toBeUndefined();
    expect(decodeBatchResponseHeader('{}', undefined)).toBeUndefined();
    expect(() => decodeBatchResponseHeader('not json', undefined)).toThrow();
  });

  it('sends null for the calls past the size limit, aligned with the batch, and no header past 1,638 calls', () => {
    for (const size of [143, 160, 400, 1638]) {
      const values = Array.from({ length: size }, (_, i) => value(i + 1));
      const encoded = encodeBatchResponseHeader(values) as string;
      expect(encoded.length).toBeLessThanOrEqual(MAX_BATCH_HEADER_LENGTH);
      const decoded = JSON.parse(encoded) as (string | null)[];
      expect(decoded).toHaveLength(size);
      const kept = decoded.filter((entry) => entry !== null).length;
      // Every value that fits is kept, in order, before the first null: one more would pass the limit.
      expect(decoded.slice(0, kept)).toEqual(values.slice(0, kept));
      expect(decoded.slice(kept).every((entry) => entry === null)).toBe(true);
      if (kept < size) expect(encoded.length + value(1).length - 2).toBeGreaterThan(MAX_BATCH_HEADER_LENGTH);
      expect(decodeBatchResponseHeader(encoded, { index: 0, size })).toBe(kept > 0 ? value(1) : null);
    }
    expect(
      JSON.parse(encodeBatchResponseHeader(Array.from({ length: 143 }, (_, i) => value(i + 1))) as string)[140],
    ).toBe(value(141));
    expect(encodeBatchResponseHeader(Array.from({ length: 1639 }, (_, i) => value(i + 1)))).toBeUndefined();
  });

  it('traceResponseMeta never throws on hostile info and sends nothing without recorded spans', () => {
    expect(traceResponseMeta({ info: undefined })).toEqual({ headers: {} });
    expect(traceResponseMeta({ info: { calls: 'x' } })).toEqual({ headers: {} });
    expect(traceResponseMeta(null as never)).toEqual({ headers: {} });
    expect(traceResponseMeta({ info: { isBatchCall: true, calls: [{ getRawInput: () => 1 }, 5] } })).toEqual({
      headers: {},
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The middleware alone: tRPC's own callProcedure and createCaller, no HTTP.

function makeRouter(options: Parameters<typeof traceContextMiddleware>[0] = {}) {
  const t = initTRPC.context<Record<string, unknown>>().create();
  const procedure = t.procedure.use(traceContextMiddleware(options));
  const router = t.router({
    whoami: procedure.query(() => trace.getActiveSpan()?.spanContext().traceId),
    broken: procedure.query(() => {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'broken' });
    }),
    missing: procedure.query(() => {
      throw new TRPCError({ code: 'NOT_FOUND' });
    }),
  });
  return { t, router };
}

/** One HTTP-like call: a signal (so the middleware extracts), the request's headers and tRPC's `info`. */
function call(router: AnyRouter, path: string, ctx: Record<string, unknown>, batchIndex = 0) {
  return callProcedure({
    router,
    path,
    type: 'query',
    ctx,
    batchIndex,
    signal: new AbortController().signal,
    getRawInput: async () => undefined,
  });
}

describe('traceContextMiddleware alone', () => {
  it('runs each call of a batch under its own batch-header entry, with a SERVER span', async () => {
    const { router } = makeRouter({ traceResponse: true });
    const other = `00-${'3'.repeat(32)}-${'4'.repeat(16)}-01`;
    const headers = {
      traceparent: PARENT,
      [BATCH_HEADER]: JSON.stringify([{ traceparent: PARENT }, { traceparent: other }]),
    };
    const ctx = { headers, info: { isBatchCall: true, calls: [{}, {}] } };
    expect(await call(router, 'whoami', ctx, 0)).toBe(TRACE_ID);
    expect(await call(router, 'whoami', ctx, 1)).toBe('3'.repeat(32));
    const [first, second] = spans();
    expect(first?.kind).toBe(SpanKind.SERVER);
    expect(first?.attributes).toEqual({
      'rpc.system.name': 'trpc',
      'rpc.method': 'whoami',
      'trpc.procedure.type': 'query',
    });
    expect(second?.parentSpanContext?.spanId).toBe('4'.repeat(16));
  });

  it('a malformed traceparent or batch header counts as absent; the call still succeeds', async () => {
    const { router } = makeRouter();
    const ctx = { headers: { traceparent: 'garbage', [BATCH_HEADER]: '[not json' } };
    const traceId = await call(router, 'whoami', ctx);
    expect(traceId).toBe(spans()[0]?.spanContext().traceId);
    expect(spans()[0]?.parentSpanContext).toBeUndefined();
    expect(traceId).not.toBe(TRACE_ID);
  });

  it('marks only server-side codes ERROR; error.type is the code either way', async () => {
    const { router } = makeRouter();
    await expect(call(router, 'broken', {})).rejects.toThrow('broken');
    await expect(call(router, 'missing', {})).rejects.toThrow();
    const [broken, missing] = spans();
    expect([broken?.status.code, broken?.attributes['error.type']]).toEqual([
      SpanStatusCode.ERROR,
      'INTERNAL_SERVER_ERROR',
    ]);
    expect([missing?.status.code, missing?.attributes['error.type']]).toEqual([SpanStatusCode.UNSET, 'NOT_FOUND']);
  });

  it('a next() that throws instead of rejecting: the call rejects with it and the span ends as failed', async () => {
    // tRPC's own `next` is async and never throws; another caller's may. Called directly, as tRPC would.
    const middleware = traceContextMiddleware();
    const boom = new Error('thrown, not rejected');
    const returned = middleware({
      ctx: { headers: { traceparent: PARENT } },
      path: 'sync.throw',
      type: 'query',
      signal: new AbortController().signal,
      getRawInput: async () => undefined,
      next: () => {
        throw boom;
      },
    });
    expect(returned).toBeInstanceOf(Promise);
    await expect(returned).rejects.toBe(boom);
    const [span] = spans();
    expect([span?.name, span?.status.code, span?.parentSpanContext?.spanId]).toEqual([
      'sync.throw',
      SpanStatusCode.ERROR,
      'b7ad6b7169203331',
    ]);
  });

  it('createCaller runs in-process, under the active span, and a throwing getRequest never breaks it', async () => {
    const { t, router } = makeRouter({
      getRequest: () => {
        throw new Error('bad getRequest');
      },
    });
    const caller = t.createCallerFactory(router)({ headers: { traceparent: PARENT } });
    const traceId = await context.with(callerContext(), () => caller.whoami());
    expect(traceId).toBe(TRACE_ID);
    expect(spans()[0]?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('traceResponseMeta sends the SERVER span of each recorded call', async () => {
    const { router } = makeRouter({ traceResponse: true });
    const getRawInput = async () => undefined;
    await callProcedure({
      router,
      path: 'whoami',
      type: 'query',
      ctx: { headers: { traceparent: PARENT } },
      batchIndex: 0,
      signal: new AbortController().signal,
      getRawInput,
    });
    const span = spans()[0] as ReadableSpan;
    expect(traceResponseMeta({ info: { isBatchCall: false, calls: [{ getRawInput }] } })).toEqual({
      headers: { [TRACE_RESPONSE_HEADER]: traceparentOf(span) },
    });
    expect(traceResponseMeta({ info: { isBatchCall: true, calls: [{ getRawInput }, {}] } })).toEqual({
      headers: { [BATCH_RESPONSE_HEADER]: JSON.stringify([traceparentOf(span), null]) },
    });
  });
});
