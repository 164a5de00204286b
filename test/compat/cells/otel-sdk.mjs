// A real tracer provider (SDK 2.x sdk-trace-base or SDK 3.x sdk-trace): a client span's context crosses a
// carrier and parents the server span, also after an await inside attachContext.
import { context, propagation, trace } from '@opentelemetry/api';
import { attachContext, getContext } from 'otel-rpc-context';
import { check, done, fail, registerPropagation } from './lib.mjs';

try {
  // SDK 2.x ships the tracer provider in sdk-trace-base; SDK 3.x in sdk-trace, renamed TracerProvider, and
  // its SimpleSpanProcessor takes an options object.
  const sdkName = process.argv[2];
  const sdk = await import(sdkName);
  const Provider = sdk.TracerProvider ?? sdk.BasicTracerProvider;
  const { readFileSync } = await import('node:fs');
  const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
  const exporter = new sdk.InMemorySpanExporter();
  const provider = new Provider({
    spanProcessors: [new sdk.SimpleSpanProcessor(sdk.TracerProvider ? { exporter } : exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  registerPropagation();
  const tracer = trace.getTracer('compat');

  const carrier = tracer.startActiveSpan('client', (span) => {
    const c = getContext();
    span.end();
    return c;
  });
  check(typeof carrier.traceparent === 'string', `carrier has traceparent: ${JSON.stringify(carrier)}`);
  await attachContext(carrier, async () => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    tracer.startActiveSpan('server', (span) => span.end());
  });
  check(trace.getSpan(context.active()) === undefined, 'nothing left active');
  await provider.forceFlush();
  const [client, server] = exporter.getFinishedSpans();
  const parentId = server.parentSpanContext?.spanId ?? server.parentSpanId;
  check(server.spanContext().traceId === client.spanContext().traceId, 'server span joins the client trace');
  check(parentId === client.spanContext().spanId, `server span's parent is the client span (${parentId})`);
  check(propagation.fields().includes('traceparent'), 'propagator fields');
  await provider.shutdown();
  done(
    `@opentelemetry/api ${version('@opentelemetry/api')} + ${sdkName} ${version(sdkName)} on Node ${process.versions.node}`,
  );
} catch (error) {
  fail(error);
}
