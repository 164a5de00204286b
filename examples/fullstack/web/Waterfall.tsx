import { flattenTree, type StoredSpan, type StoredTrace, spanTree } from '../shared/spans.ts';

/** What a span is, for its colour and its label in the legend. */
export function spanRole(span: StoredSpan): 'action' | 'client' | 'server' | 'resolver' | 'db' | 'work' {
  if (span.side === 'client') return span.kind === 'CLIENT' ? 'client' : 'action';
  if (span.attributes['db.system.name']) return 'db';
  if (span.kind === 'SERVER') return 'server';
  if (span.name.startsWith('resolve ')) return 'resolver';
  return 'work';
}

const ROLE_LABEL = {
  action: 'browser: user action',
  client: 'browser: tRPC / Apollo link (CLIENT)',
  server: 'server: procedure / operation (SERVER)',
  resolver: 'server: resolver',
  db: 'server: SQLite query',
  work: 'server: other work',
} as const;

export function Legend() {
  return (
    <ul className="legend">
      {Object.entries(ROLE_LABEL).map(([role, label]) => (
        <li key={role}>
          <span className={`swatch role-${role}`} />
          {label}
        </li>
      ))}
    </ul>
  );
}

function details(span: StoredSpan): string {
  const attributes = Object.entries(span.attributes)
    .map(([key, value]) => `${key} = ${value}`)
    .join('\n');
  return `${span.name} (${span.kind.toLowerCase()}, ${span.service})\nspan ${span.spanId}${span.parentSpanId ? ` ← parent ${span.parentSpanId}` : ''}\n${attributes}`;
}

export function Waterfall({ trace }: { trace: StoredTrace }) {
  const rows = flattenTree(spanTree(trace.spans));
  const total = Math.max(trace.endMs - trace.startMs, 0.001);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="waterfall">
      <div className="wf-row wf-head">
        <div className="wf-name">span</div>
        <div className="wf-side">where</div>
        <div className="wf-bar-area">
          {ticks.map((tick) => (
            <span key={tick} className="wf-tick" style={{ left: `${tick * 100}%` }}>
              {(tick * total).toFixed(tick === 0 ? 0 : 1)} ms
            </span>
          ))}
        </div>
      </div>
      {rows.map(({ span, depth }) => {
        const left = ((span.startMs - trace.startMs) / total) * 100;
        const width = Math.max(((span.endMs - span.startMs) / total) * 100, 0.4);
        const role = spanRole(span);
        return (
          <div key={span.spanId} className="wf-row" title={details(span)} data-span-role={role}>
            <div className="wf-name" style={{ paddingLeft: `${depth * 16 + 6}px` }}>
              {depth > 0 && <span className="wf-elbow">└</span>}
              {span.name}
            </div>
            <div className={`wf-side side-${span.side}`}>{span.side === 'client' ? 'browser' : 'server'}</div>
            <div className="wf-bar-area">
              <div
                className={`wf-bar role-${role}${span.status === 'ERROR' ? ' wf-error' : ''}`}
                style={{ left: `${Math.min(left, 99.6)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.6))}%` }}
              />
              {left + width > 86 ? (
                // No room after the bar: the label goes before it, or inside it when it spans the whole row.
                <span
                  className={`wf-duration ${left >= 14 ? 'wf-duration-before' : 'wf-duration-inside'}`}
                  style={left >= 14 ? { right: `${100 - left}%` } : { right: `${100 - Math.min(left + width, 100)}%` }}
                >
                  {(span.endMs - span.startMs).toFixed(1)} ms
                </span>
              ) : (
                <span className="wf-duration" style={{ left: `${left + width}%` }}>
                  {(span.endMs - span.startMs).toFixed(1)} ms
                </span>
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
