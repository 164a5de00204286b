import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { createSchema, createYoga } from 'graphql-yoga';
import { useTraceContext } from 'otel-rpc-context/yoga';
import type { Db, Todo, User } from './db.ts';

const tracer = trace.getTracer('example-app');

/** A resolver's work in a span of its own, named like `resolve Todo.author`. */
function traced<T>(field: string, work: () => T): T {
  return tracer.startActiveSpan(`resolve ${field}`, { attributes: { 'graphql.field.path': field } }, (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}

const typeDefs = /* GraphQL */ `
  type User {
    id: ID!
    name: String!
    todos: [Todo!]!
  }
  type Todo {
    id: ID!
    title: String!
    done: Boolean!
    author: User!
  }
  type Stats {
    todos: Int!
    done: Int!
    users: Int!
  }
  type Tick {
    tick: Int!
    stats: Stats!
  }
  type Query {
    todos(limit: Int = 3): [Todo!]!
    users: [User!]!
    stats: Stats!
  }
  type Subscription {
    ticks(count: Int = 3, intervalMs: Int = 100): Tick!
  }
`;

export function createGraphQL(db: Db) {
  const schema = createSchema({
    typeDefs,
    resolvers: {
      Query: {
        todos: (_: unknown, args: { limit: number }) =>
          traced('Query.todos', () => db.listTodos(Math.min(Math.max(args.limit, 1), 20))),
        users: () => traced('Query.users', () => db.listUsers()),
        stats: () => traced('Query.stats', () => db.stats()),
      },
      Todo: {
        // One query per todo: the waterfall shows the N+1 pattern as sibling spans.
        author: (todo: Todo) => traced('Todo.author', () => db.userById(todo.authorId)),
      },
      User: {
        todos: (user: User) => traced('User.todos', () => db.todosByAuthor(user.id)),
      },
      Subscription: {
        ticks: {
          subscribe: async function* (_: unknown, args: { count: number; intervalMs: number }) {
            const count = Math.min(Math.max(args.count, 1), 10);
            const intervalMs = Math.min(Math.max(args.intervalMs, 0), 2000);
            for (let tick = 1; tick <= count; tick++) {
              if (tick > 1) await sleep(intervalMs);
              yield { ticks: { tick, stats: traced('Subscription.ticks', () => db.stats()) } };
            }
          },
        },
      },
    },
  });
  return createYoga({
    schema,
    graphqlEndpoint: '/graphql',
    // Apollo's BatchHttpLink sends arrays of operations.
    batching: { limit: 10 },
    graphiql: false,
    logging: 'warn',
    // Each operation (batched ones too, and graphql-ws ones) runs in its caller's context.
    // biome-ignore lint/correctness/useHookAtTopLevel: an Envelop plugin, not a React hook
    plugins: [useTraceContext()],
  });
}
