// NestJS's Apollo driver (GraphQLModule.forRoot({ driver: ApolloDriver, plugins: [traceContextPlugin()] })),
// schema-first so that no TypeScript decorators are needed, from the packed package: six concurrent single
// operations and one batch of six, each sent by its own fabricated caller; every resolver must run in its
// caller's trace, under a SERVER span whose parent is the caller's span.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { ApolloDriver } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { traceContextPlugin } from 'otel-rpc-context/apollo-server';
import { activeTraceId, check, done, fail, registerPropagation, traceIdFor } from './lib.mjs';

const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seenLater = async () => {
  await sleep(Math.random() * 5);
  return activeTraceId();
};
let app;

try {
  registerPropagation();
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

  class AppModule {}
  Module({
    imports: [
      GraphQLModule.forRoot({
        driver: ApolloDriver,
        typeDefs: 'type Item { seen: String } type Query { seen: String, items: [Item!]! }',
        resolvers: { Query: { seen: seenLater, items: () => [{}, {}, {}] }, Item: { seen: seenLater } },
        allowBatchedHttpRequests: true,
        plugins: [traceContextPlugin()],
      }),
    ],
  })(AppModule);
  app = await NestFactory.create(AppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${app.getHttpServer().address().port}/graphql`;

  const body = (tag) => ({
    query: '{ seen items { seen } }',
    extensions: { traceContext: { traceparent: `00-${traceIdFor(tag)}-00f067aa0ba902b7-01` } },
  });
  const post = async (payload) =>
    (
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      })
    ).json();
  const tags = ['1', '2', '3', '4', '5', '6'];
  const singles = await Promise.all(tags.map((tag) => post(body(tag))));
  const batch = await post(tags.map(body));
  check(Array.isArray(batch) && batch.length === 6, 'a batch answers each operation');
  let resolvers = 0;
  for (const [i, result] of [...singles, ...batch].entries()) {
    const seen = JSON.stringify(result.data).match(/"seen":"?[^",}]*/g) ?? [];
    check(seen.length === 4, `operation ${i}: four resolvers reported`);
    for (const entry of seen) {
      resolvers++;
      check(entry.endsWith(traceIdFor(tags[i % 6])), `operation ${i}: ${entry} is not its caller's trace`);
    }
  }
  const servers = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
  check(servers.length === 12, `a SERVER span per operation (got ${servers.length})`);
  for (const span of servers) {
    check(
      (span.parentSpanContext?.spanId ?? span.parentSpanId) === '00f067aa0ba902b7',
      `${span.name} under its caller`,
    );
  }
  await app.close();
  done(
    `@nestjs/core ${version('@nestjs/core')}, @nestjs/apollo ${version('@nestjs/apollo')}, @apollo/server ${version('@apollo/server')}: 6 single + 6 batched operations, ${resolvers} resolvers each in its caller's trace, 12 SERVER spans under their callers`,
  );
} catch (error) {
  await app?.close().catch(() => {});
  fail(error);
}
