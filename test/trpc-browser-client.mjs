// Runs tRPC clients in a child process whose context manager, like a browser's StackContextManager,
// keeps the active context only for synchronous code: nothing survives an `await` or a timer. It
// proves that traceContextLink captures each operation's context synchronously. Prints JSON.
import { register } from 'node:module';

// Let Node's type stripping load ../src/*.ts through their `.js` import specifiers.
register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      try { return await next(specifier, context); }
      catch (error) {
        if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
        throw error;
      }
    }`)}`,
);

const { context, propagation, ROOT_CONTEXT, trace } = await import('@opentelemetry/api');
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = await import('@opentelemetry/core');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import(
  '@opentelemetry/sdk-trace-base'
);
const client = await import('@trpc/client');
const { EventSource } = await import('eventsource');
const { traceContextEncoder, traceContextHeaders, traceContextLink, traceContextUrl } = await import('../src/trpc.ts');

class SynchronousContextManager {
  current = ROOT_CONTEXT;
  active() {
    return this.current;
  }
  with(ctx, fn, thisArg, ...args) {
    const previous = this.current;
    this.current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }
  bind(_ctx, target) {
    return target;
  }
  enable() {
    return this;
  }
  disable() {
    return this;
  }
}

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new SynchronousContextManager());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);
const tracer = trace.getTracer('browser');

const { httpUrl, wsUrl, n } = JSON.parse(process.argv[2]);
const wsClient = client.createWSClient({ url: wsUrl, experimental_encoder: traceContextEncoder() });
const terminating = {
  httpLink: client.httpLink({ url: httpUrl, headers: traceContextHeaders }),
  httpBatchLink: client.httpBatchLink({ url: httpUrl, headers: traceContextHeaders }),
  httpBatchStreamLink: client.httpBatchStreamLink({ url: httpUrl, headers: traceContextHeaders }),
  httpSubscriptionLink: client.httpSubscriptionLink({ url: traceContextUrl(httpUrl), EventSource }),
  wsLink: client.wsLink({ client: wsClient }),
};

const output = {};
for (const [name, link] of Object.entries(terminating)) {
  exporter.reset();
  const trpc = client.createTRPCClient({ links: [traceContextLink(), link] });
  const callers = {};
  const call = (i) => {
    if (name === 'httpSubscriptionLink' || (name === 'wsLink' && i % 2 === 0)) {
      return new Promise((resolve, reject) => {
        const events = [];
        trpc.sub.subscribe(
          { i, count: 2 },
          {
            onData: (value) => {
              events.push(value.data);
              if (events.length === 2) resolve(events);
            },
            onError: reject,
          },
        );
      });
    }
    const input = { i, delay: i % 5 };
    return (i % 3 === 2 ? trpc.m.mutate(input) : i % 3 === 1 ? trpc.b.q.query(input) : trpc.a.q.query(input)).then(
      (result) => [result],
    );
  };
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      tracer.startActiveSpan(`caller ${i}`, (span) => {
        callers[i] = span.spanContext().spanId;
        const promise = call(i);
        span.end();
        return promise;
      }),
    ),
  );
  const spans = exporter.getFinishedSpans().map((span) => ({
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    kind: span.kind,
  }));
  output[name] = { results: results.flat(), callers, spans };
}
await wsClient.close();
process.stdout.write(JSON.stringify(output));
process.exit(0);
