import { gql } from '@apollo/client';
import { type Context, context, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { Clients } from './clients.ts';

export type ActionId =
  | 'trpc-query'
  | 'trpc-batch'
  | 'trpc-mutation'
  | 'trpc-subscription'
  | 'graphql-query'
  | 'graphql-batch'
  | 'graphql-subscription';

export interface ActionHelpers {
  /**
   * Runs `fn` in the action's context. Browser context managers lose the active context across `await`, so
   * every client call made after one goes through this; calls made before the first `await` don't need it.
   */
  within<T>(fn: () => T): T;
}

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
  run(clients: Clients, helpers: ActionHelpers): Promise<string>;
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
    async run({ trpc, queryClient }, { within }) {
      const todos = await within(() => queryClient.fetchQuery(trpc.todo.list.queryOptions()));
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
    async run({ trpc, queryClient }, { within }) {
      const [todos, stats, users] = await within(() =>
        Promise.all([
          queryClient.fetchQuery(trpc.todo.list.queryOptions()),
          queryClient.fetchQuery(trpc.todo.stats.queryOptions()),
          queryClient.fetchQuery(trpc.user.list.queryOptions()),
        ]),
      );
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
    async run({ trpc, trpcClient, queryClient }, { within }) {
      added++;
      // A title of its own per click: a counter alone restarts at #1 on every page load, which showed up as
      // the same todo added again each time the page was opened.
      const title = `Traced todo ${new Date().toISOString().slice(11, 23)}`;
      const { todo, stats } = await within(() => trpcClient.todo.add.mutate({ title, authorId: 1 + (added % 3) }));
      await within(() => queryClient.fetchQuery(trpc.todo.list.queryOptions()));
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
    run({ trpcClient }, { within }) {
      return new Promise((resolve, reject) => {
        const ticks: number[] = [];
        within(() =>
          trpcClient.todo.watch.subscribe(
            { ticks: 3, intervalMs: 100 },
            {
              onData: (event) => ticks.push(event.tick),
              onError: reject,
              onComplete: () => resolve(`ticks ${ticks.join(', ')}`),
            },
          ),
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
    async run({ apollo }, { within }) {
      const result = await within(() => apollo.query({ query: TODOS, fetchPolicy: 'network-only' }));
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
    async run({ apollo }, { within }) {
      const [users, stats] = await within(() =>
        Promise.all([
          apollo.query({ query: USERS, fetchPolicy: 'network-only', context: { batch: true } }),
          apollo.query({ query: STATS, fetchPolicy: 'network-only', context: { batch: true } }),
        ]),
      );
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
    run({ apollo }, { within }) {
      return new Promise((resolve, reject) => {
        const ticks: number[] = [];
        within(() =>
          apollo.subscribe({ query: TICKS }).subscribe({
            next: (result) => {
              const tick = (result.data as { ticks?: { tick: number } } | undefined)?.ticks?.tick;
              if (tick !== undefined) ticks.push(tick);
              if (result.error) reject(result.error);
            },
            error: reject,
            complete: () => resolve(`ticks ${ticks.join(', ')}`),
          }),
        );
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
 * One user action: a span named `click: <group> <label>` that is active while the action starts its
 * operations, so the links capture it as their parent.
 */
export async function runAction(tracer: Tracer, action: ActionDefinition, clients: Clients): Promise<ActionRun> {
  const span = tracer.startSpan(`click: ${action.group} ${action.label}`, {
    attributes: { 'app.action': action.id, 'app.action.group': action.group },
  });
  const actionContext: Context = trace.setSpan(context.active(), span);
  const within = <T>(fn: () => T): T => context.with(actionContext, fn);
  const { traceId, spanId } = span.spanContext();
  try {
    const summary = await within(() => action.run(clients, { within }));
    span.setAttribute('app.result', summary);
    return { action: action.id, traceId, spanId, summary, ok: true };
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
    return { action: action.id, traceId, spanId, summary: `failed: ${String(error)}`, ok: false };
  } finally {
    span.end();
  }
}
