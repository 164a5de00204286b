import type { ActionDefinition } from './actions.ts';
import type { StoredSpan, StoredTrace } from './spans.ts';

/**
 * What one action's trace must hold: the click span as the one root, the client links' CLIENT spans under it,
 * each server SERVER span as the child of its client span, resolver work and database spans under the server
 * spans, and every span's parent in the same trace. Returns the problems found; none means the trace is whole.
 */
export function checkActionTrace(action: ActionDefinition, trace: StoredTrace | undefined): string[] {
  if (!trace) return ['no trace'];
  const problems: string[] = [];
  const spans = trace.spans;
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const traceIds = new Set(spans.map((s) => s.traceId));
  if (traceIds.size !== 1) problems.push(`${traceIds.size} trace ids`);

  const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
  const click = roots.find((s) => s.name.startsWith('click:') && s.side === 'client');
  if (!click) problems.push('no click span at the root');
  if (roots.length !== 1) problems.push(`${roots.length} roots: ${roots.map((s) => s.name).join(', ')}`);
  if (click && click.attributes['app.action'] !== action.id) problems.push(`root is ${click.attributes['app.action']}`);

  const ancestors = (span: StoredSpan): StoredSpan[] => {
    const out: StoredSpan[] = [];
    let current = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    while (current && out.length < 100) {
      out.push(current);
      current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
    }
    return out;
  };
  const descendants = (span: StoredSpan) => spans.filter((s) => ancestors(s).includes(span));

  // Same-process parent and child share a clock: the child starts inside its parent (the waterfall's bars nest).
  for (const span of spans) {
    const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    if (parent?.side !== 'server' || span.side !== 'server') continue;
    if (span.startMs < parent.startMs || span.startMs > parent.endMs) {
      problems.push(
        `${span.name} starts at ${(span.startMs - parent.startMs).toFixed(3)} ms into ${parent.name}, which lasts ${(parent.endMs - parent.startMs).toFixed(3)} ms`,
      );
    }
  }

  for (const name of action.clientSpans) {
    const found = spans.filter((s) => s.name === name && s.kind === 'CLIENT' && s.side === 'client');
    if (found.length === 0) problems.push(`no client span ${name}`);
    for (const span of found)
      if (click && !ancestors(span).includes(click)) problems.push(`client ${name} not under the click`);
  }
  for (const name of action.serverSpans) {
    const found = spans.filter((s) => s.name === name && s.kind === 'SERVER' && s.side === 'server');
    if (found.length === 0) {
      problems.push(`no server span ${name}`);
      continue;
    }
    for (const span of found) {
      const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      if (parent?.kind !== 'CLIENT' || parent.side !== 'client' || parent.name !== name) {
        problems.push(`server ${name}'s parent is ${parent ? `${parent.side} ${parent.name}` : 'missing'}`);
      }
      const below = descendants(span);
      if (!below.some((s) => s.attributes['db.system.name'] === 'sqlite'))
        problems.push(`no database span under ${name}`);
      if (action.group === 'GraphQL' && !below.some((s) => s.name.startsWith('resolve '))) {
        problems.push(`no resolver span under ${name}`);
      }
    }
  }
  return problems;
}
