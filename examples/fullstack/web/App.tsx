import { useQuery as useApolloQuery } from '@apollo/client/react';
import type { Tracer } from '@opentelemetry/api';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ACTIONS, type ActionDefinition, type ActionRun, GRAPHQL_DOCUMENTS, runAction } from '../shared/actions.ts';
import { checkActionTrace } from '../shared/check.ts';
import type { Clients } from '../shared/clients.ts';
import type { StoredTrace } from '../shared/spans.ts';
import { useTRPC } from './trpc.ts';
import { Legend, Waterfall } from './Waterfall.tsx';

interface Telemetry {
  tracer: Tracer;
  flush(): Promise<void>;
}

interface Run extends ActionRun {
  label: string;
  trace: StoredTrace | undefined;
  problems: string[];
}

async function fetchTrace(traceId: string): Promise<StoredTrace | undefined> {
  const res = await fetch(`/api/traces/${traceId}`, { cache: 'no-store' });
  return res.ok ? ((await res.json()) as StoredTrace) : undefined;
}

/** The browser's and the server's spans arrive separately: poll (bounded) until the trace is whole. */
async function waitForTrace(action: ActionDefinition, traceId: string) {
  let trace: StoredTrace | undefined;
  let problems: string[] = ['no trace'];
  for (let attempt = 0; attempt < 40; attempt++) {
    trace = await fetchTrace(traceId);
    problems = checkActionTrace(action, trace);
    if (problems.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return { trace, problems };
}

function TodosFromTrpc() {
  const trpc = useTRPC();
  // Filled by the actions' fetchQuery calls (inside the click's span); never fetched on its own.
  const todos = useQuery({ ...trpc.todo.list.queryOptions(), enabled: false });
  if (!todos.data) return <p className="muted">Click a tRPC action to load todos.</p>;
  return (
    <ul className="todos">
      {todos.data.map((todo) => (
        <li key={todo.id} className={todo.done ? 'done' : ''}>
          {todo.title}
        </li>
      ))}
    </ul>
  );
}

function TodosFromGraphql() {
  const { data } = useApolloQuery(GRAPHQL_DOCUMENTS.TODOS, { fetchPolicy: 'cache-only' });
  const todos = (data as { todos?: { id: string; title: string; author: { name: string } }[] } | undefined)?.todos;
  if (!todos) return <p className="muted">Click the GraphQL query to load todos with their authors.</p>;
  return (
    <ul className="todos">
      {todos.map((todo) => (
        <li key={todo.id}>
          {todo.title} <span className="muted">· {todo.author.name}</span>
        </li>
      ))}
    </ul>
  );
}

export function App({ clients, telemetry }: { clients: Clients; telemetry: Telemetry }) {
  const [running, setRunning] = useState<string | undefined>();
  const [runs, setRuns] = useState<Run[]>([]);
  const [selected, setSelected] = useState<string | undefined>();

  async function onClick(action: ActionDefinition) {
    setRunning(action.id);
    try {
      const run = await runAction(telemetry.tracer, action, clients);
      await telemetry.flush();
      const { trace, problems } = await waitForTrace(action, run.traceId);
      const label = `${action.group} ${action.label}`;
      setRuns((previous) => [{ ...run, label, trace, problems }, ...previous].slice(0, 30));
      setSelected(run.traceId);
    } finally {
      setRunning(undefined);
    }
  }

  const current = runs.find((run) => run.traceId === selected) ?? runs[0];
  const currentAction = ACTIONS.find((action) => action.id === current?.action);

  return (
    <div className="page">
      <header>
        <h1>
          otel-rpc-context <span className="muted">· full-stack example</span>
        </h1>
        <p>
          Each button is a user action: a span in the browser, the tRPC or Apollo operations it starts, the server's
          procedures and resolvers, and their SQLite queries, all in <strong>one trace</strong>, shown below as it was
          collected (browser spans over OTLP, server spans from the Node SDK).
        </p>
      </header>

      <section className="actions">
        {(['tRPC', 'GraphQL'] as const).map((group) => (
          <div key={group} className="action-group">
            <h2>{group}</h2>
            {ACTIONS.filter((action) => action.group === group).map((action) => (
              <button
                key={action.id}
                type="button"
                data-action={action.id}
                disabled={running !== undefined}
                title={action.description}
                onClick={() => void onClick(action)}
              >
                {running === action.id ? '…' : action.label}
              </button>
            ))}
          </div>
        ))}
      </section>

      <main className="columns">
        <section
          className="trace-panel"
          data-testid="waterfall"
          data-trace-id={current?.traceId ?? ''}
          data-action={current?.action ?? ''}
        >
          {current?.trace ? (
            <>
              <div className="trace-title">
                <h2>{current.trace.name}</h2>
                <span className={current.problems.length === 0 ? 'badge ok' : 'badge bad'}>
                  {current.problems.length === 0 ? 'one complete trace' : current.problems.join('; ')}
                </span>
              </div>
              <p className="muted trace-meta">
                trace <code>{current.traceId}</code> · {current.trace.spans.length} spans ·{' '}
                {(current.trace.endMs - current.trace.startMs).toFixed(1)} ms · {currentAction?.description}
              </p>
              <Waterfall trace={current.trace} />
              <Legend />
            </>
          ) : (
            <p className="muted empty">Click an action above: its trace appears here.</p>
          )}
        </section>

        <aside>
          <h2>Actions run</h2>
          {runs.length === 0 && <p className="muted">None yet.</p>}
          <ol className="runs">
            {runs.map((run) => (
              <li key={run.traceId}>
                <button
                  type="button"
                  data-testid="run"
                  data-action={run.action}
                  data-trace-id={run.traceId}
                  data-ok={String(run.ok && run.problems.length === 0)}
                  className={run.traceId === current?.traceId ? 'selected' : ''}
                  onClick={() => setSelected(run.traceId)}
                >
                  <span>{run.ok && run.problems.length === 0 ? '✔' : '✘'}</span> {run.label}
                  <div className="muted small">
                    {run.trace?.spans.length ?? 0} spans · {run.summary}
                  </div>
                </button>
              </li>
            ))}
          </ol>
          <h2>Data</h2>
          <h3>tRPC · React Query</h3>
          <TodosFromTrpc />
          <h3>GraphQL · Apollo Client</h3>
          <TodosFromGraphql />
        </aside>
      </main>
    </div>
  );
}
