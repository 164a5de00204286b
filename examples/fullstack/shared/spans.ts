/** A finished span as the example stores and shows it: from the browser (OTLP/JSON) or the server (SDK). */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** `client` for spans received over OTLP (from the page, or the demo's Node client), `server` for the server SDK's. */
  side: 'client' | 'server';
  service: string;
  kind: 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  /** Unix epoch, milliseconds (fractional). */
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  status: 'UNSET' | 'OK' | 'ERROR';
  scope: string;
}

export interface StoredTrace {
  traceId: string;
  /** The root span's name, or the earliest span's when the root has not arrived. */
  name: string;
  startMs: number;
  endMs: number;
  spans: StoredSpan[];
}

export interface SpanNode {
  span: StoredSpan;
  depth: number;
  children: SpanNode[];
}

/** Orders a trace's spans as a tree (roots first, children by start time); orphans become roots. */
export function spanTree(spans: readonly StoredSpan[]): SpanNode[] {
  const byId = new Map<string, SpanNode>();
  for (const span of spans) byId.set(span.spanId, { span, depth: 0, children: [] });
  const roots: SpanNode[] = [];
  for (const node of byId.values()) {
    const parent = node.span.parentSpanId ? byId.get(node.span.parentSpanId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.span.startMs - b.span.startMs;
  const visit = (nodes: SpanNode[], depth: number) => {
    nodes.sort(byStart);
    for (const node of nodes) {
      node.depth = depth;
      visit(node.children, depth + 1);
    }
  };
  visit(roots, 0);
  return roots;
}

/** Depth-first list of a tree, the order a waterfall shows. */
export function flattenTree(roots: readonly SpanNode[]): SpanNode[] {
  const out: SpanNode[] = [];
  const walk = (nodes: readonly SpanNode[]) => {
    for (const node of nodes) {
      out.push(node);
      walk(node.children);
    }
  };
  walk(roots);
  return out;
}

/** The trace as an indented text tree, one span a line, with its side and duration. */
export function formatTraceTree(spans: readonly StoredSpan[]): string {
  if (spans.length === 0) return '(no spans)';
  const rows = flattenTree(spanTree(spans));
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const lines = [
    `trace ${spans[0]!.traceId}`,
    `  ${'span'.padEnd(48)} ${'side'.padEnd(7)} ${'kind'.padEnd(6)} ${'start'.padStart(10)} ${'duration'.padStart(9)}`,
  ];
  for (const { span, depth } of rows) {
    const label = `${'  '.repeat(depth + 1)}${span.name}`;
    const kind = span.kind === 'INTERNAL' ? '' : span.kind.toLowerCase();
    const start = `+${(span.startMs - t0).toFixed(1)}ms`.padStart(10);
    const duration = `${(span.endMs - span.startMs).toFixed(1)}ms`.padStart(9);
    const error = span.status === 'ERROR' ? '  ERROR' : '';
    lines.push(`${label.padEnd(50)} ${span.side.padEnd(7)} ${kind.padEnd(6)} ${start} ${duration}${error}`);
  }
  return lines.join('\n');
}
