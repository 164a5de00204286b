// Shared by the cells that run on Node, Bun and Deno: W3C propagation set-up and deterministic contexts.
import process from 'node:process';
import { context, propagation, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

export function registerPropagation() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
}

/** A context whose span context has a recognisable trace id, e.g. traceIdFor('a') = 'aaaa…'. */
export function traceIdFor(tag) {
  return String(tag).repeat(32).slice(0, 32);
}

export function contextFor(tag) {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceIdFor(tag),
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: false,
  });
}

export function activeTraceId() {
  return trace.getSpanContext(context.active())?.traceId ?? null;
}

export function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`);
}

export function done(detail) {
  console.log(`ok: ${detail}`);
  process.exit(0);
}

export function unsupported(reason) {
  console.log(`unsupported: ${reason}`);
  process.exit(3);
}

export function fail(error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}

export { expectedExports } from './exports.mjs';

/** Ends the cell as not supported while an integration entry point is still an empty placeholder. */
export async function requireImplemented(...specifiers) {
  for (const specifier of specifiers) {
    const mod = await import(specifier);
    if (Object.keys(mod).length === 0) unsupported(`${specifier} is not implemented yet (empty entry point)`);
  }
}
