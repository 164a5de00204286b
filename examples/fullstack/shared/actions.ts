import { gql } from '@apollo/client';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { type Action, startAction } from 'otel-rpc-context';
import type { Clients } from './clients.ts';

export type ActionId =
  | 'trpc-query'
  | 'trpc-batch'
  | 'trpc-mutation'
  | 'trpc-subscription'
  | 'graphql-query'
  | 'graphql-batch'
  | 'graphql-subscription';

export interface ActionDefinition {
  id: ActionId;
  group: 'tRPC' | 'GraphQL';
  label: string;
  /** What the trace shows, in a sentence. */
  description: string;
  /** Client span names expected in the trace (the link's CLIENT spans). */
  clientSpans: string[];
  /** Server span names expected in the trace (procedure / operation SERVER spans). */
  serverSpans: string[];
  /**
   * Does what the button does. Operations it starts in the click's own task, before and after awaits, get the
   * click's span as their parent (the `startAction` fallback); work after a response that the links do not
   * hand back (here, a second request once the first has returned) goes through `action.run`.
   */
  run(clients: Clients, action: Action): Promise<string>;
}

const TODOS = gql`
  query Todos {
    todos(limit: 3) {
      id
      title
      done
      author {
        id
        name
      }
    }
  }
`;
const USERS = gql`
  query Users {
    users {
      id
      name
      todos {
        id
        title
      }
    }
  }
`;
const STATS = gql`
  query Stats {
    stats {
      todos
      done
      users
    }
  }
`;
const TICKS = gql`
  subscription Ticks {
    ticks(count: 3, intervalMs: 100) {
      tick
      stats {
        todos
      }
    }
  }
`;

export const GRAPHQL_DOCUMENTS = { TODOS, USERS, STATS, TICKS };

let added = 0;

export const ACTIONS: ActionDefinition[] = [
  {
    id: 'trpc-query',
    group: 'tRPC',
    label: 'Query todo.list',
    description: 'One tRPC query through React Query: todo.list reads the todos table.',
    clientSpans: ['todo.list'],
    serverSpans: ['todo.list'],
    async run({ trpc, queryClient }) {
      const todos = await queryClient.fetchQuery(trpc.todo.list.queryOptions());
      return `${todos.length} todos`;
    },
  },
  {
    id: 'trpc-batch',
    group: 'tRPC',
    label: 'Batch of 3 queries',
    description: 'Three queries in one HTTP request (httpBatchLink); each procedure still gets its own caller span.',
    clientSpans: ['todo.list', 'todo.stats', 'user.list'],
    serverSpans: ['todo.list', 'todo.stats', 'user.list'],
    async run({ trpc, queryClient }) {
      const [todos, stats, users] = await Promise.all([
        queryClient.fetchQuery(trpc.todo.list.queryOptions()),
        queryClient.fetchQuery(trpc.todo.stats.queryOptions()),
        queryClient.fetchQuery(trpc.user.list.queryOptions()),
      ]);
      return `${todos.length} todos, ${stats.done}/${stats.todos} done, ${users.length} users`;
    },
  },
  {
    id: 'trpc-mutation',
    group: 'tRPC',
    label: 'Mutation',
    description: 'todo.add inserts a row, recounts, then the page refetches the list in the same trace.',
    clientSpans: ['todo.add', 'todo.list'],
    serverSpans: ['todo.add', 'todo.list'],
    async run({ trpc, trpcClient, queryClient }, action) {
      added++;
      // A title of its own per click: a counter alone restarts at #1 on every page load, which showed up as
      // the same todo added again each time the page was opened.
      const title = `Traced todo ${new Date().toISOString().slice(11, 23)}`;
      const { todo, stats } = await trpcClient.todo.add.mutate({ title, authorId: 1 + (added % 3) });
      // The response arrived in a task of its own: the refetch joins the click through action.run.
      await action.run(() => queryClient.fetchQuery(trpc.todo.list.queryOptions()));
      return `added #${todo.id} "${todo.title}", ${stats.todos} todos now`;
    },
  },
  {
    id: 'trpc-subscription',
    group: 'tRPC',
    label: 'Subscription (SSE)',
    description: 'todo.watch over server-sent events: three ticks, each a database query, in the click’s trace.',
    clientSpans: ['todo.watch'],
    serverSpans: ['todo.watch'],
    run({ trpcClient }) {
      return new Promise((resolve, reject) => {
        const ticks: number[] = [];
        trpcClient.todo.watch.subscribe(
          { ticks: 3, intervalMs: 100 },
          {
            onData: (event) => ticks.push(event.tick),
            onError: reject,
            onComplete: () => resolve(`ticks ${ticks.join(', ')}`),
          },
        );
      });
    },
  },
  {
    id: 'graphql-query',
    group: 'GraphQL',
    label: 'Query todos + authors',
    description: 'One GraphQL query through Apollo Client: Query.todos, then Todo.author per todo (N+1).',
    clientSpans: ['query Todos'],
    serverSpans: ['query Todos'],
    async run({ apollo }) {
      const result = await apollo.query({ query: TODOS, fetchPolicy: 'network-only' });
      const todos = (result.data as { todos: unknown[] } | undefined)?.todos ?? [];
      return `${todos.length} todos with authors`;
    },
  },
  {
    id: 'graphql-batch',
    group: 'GraphQL',
    label: 'Batched request',
    description: 'Two operations in one HTTP request (BatchHttpLink); each carries its own context in extensions.',
    clientSpans: ['query Users', 'query Stats'],
    serverSpans: ['query Users', 'query Stats'],
    async run({ apollo }) {
      const [users, stats] = await Promise.all([
        apollo.query({ query: USERS, fetchPolicy: 'network-only', context: { batch: true } }),
        apollo.query({ query: STATS, fetchPolicy: 'network-only', context: { batch: true } }),
      ]);
      const userCount = (users.data as { users: unknown[] } | undefined)?.users.length ?? 0;
      const todoCount = (stats.data as { stats: { todos: number } } | undefined)?.stats.todos ?? 0;
      return `${userCount} users, ${todoCount} todos`;
    },
  },
  {
    id: 'graphql-subscription',
    group: 'GraphQL',
    label: 'Subscription (graphql-ws)',
    description: 'A GraphQL subscription over graphql-ws: three ticks, each resolved with a database query.',
    clientSpans: ['subscription Ticks'],
    serverSpans: ['subscription Ticks'],
    run({ apollo }) {
      return new Promise((resolve, reject) => {
        const ticks: number[] = [];
        apollo.subscribe({ query: TICKS }).subscribe({
          next: (result) => {
            const tick = (result.data as { ticks?: { tick: number } } | undefined)?.ticks?.tick;
            if (tick !== undefined) ticks.push(tick);
            if (result.error) reject(result.error);
          },
          error: reject,
          complete: () => resolve(`ticks ${ticks.join(', ')}`),
        });
      });
    },
  },
];

export interface ActionRun {
  action: ActionId;
  traceId: string;
  spanId: string;
  summary: string;
  ok: boolean;
}

/**
 * One user action: a span named `click: <group> <label>`, opened as an action (`startAction` from
 * otel-rpc-context) so the operations the click starts get it as their parent even after an `await` has made
 * the browser's context manager forget it. The action and the span end when the click's work is done.
 */
export async function runAction(tracer: Tracer, action: ActionDefinition, clients: Clients): Promise<ActionRun> {
  const span = tracer.startSpan(`click: ${action.group} ${action.label}`, {
    attributes: { 'app.action': action.id, 'app.action.group': action.group },
  });
  const scope = startAction(span);
  const { traceId, spanId } = span.spanContext();
  try {
    const summary = await scope.run(() => action.run(clients, scope));
    span.setAttribute('app.result', summary);
    return { action: action.id, traceId, spanId, summary, ok: true };
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
    return { action: action.id, traceId, spanId, summary: `failed: ${String(error)}`, ok: false };
  } finally {
    scope.end();
    span.end();
  }
}
