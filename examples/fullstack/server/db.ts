import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('example-db');

export interface Todo {
  id: number;
  title: string;
  done: boolean;
  authorId: number;
  createdAt: string;
}

export interface User {
  id: number;
  name: string;
}

/** The example's data: an in-memory SQLite database (Node's built-in `node:sqlite`), each query a span. */
export class Db {
  readonly #db = new DatabaseSync(':memory:');

  constructor() {
    this.#db.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE todos (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        author_id INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      INSERT INTO users (name) VALUES ('Ada'), ('Grace'), ('Linus');
      INSERT INTO todos (title, done, author_id) VALUES
        ('Write the tRPC link', 1, 1),
        ('Write the Yoga plugin', 1, 2),
        ('Click through the example', 0, 3);
    `);
  }

  /** Runs one statement inside a CLIENT span named like `SELECT todos`, with the database semantic conventions. */
  #run<T>(
    operation: string,
    table: string,
    sql: string,
    run: (statement: ReturnType<DatabaseSync['prepare']>) => T,
  ): T {
    return tracer.startActiveSpan(
      `${operation} ${table}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'sqlite',
          'db.operation.name': operation,
          'db.collection.name': table,
          'db.query.text': sql,
        },
      },
      (span) => {
        try {
          const result = run(this.#db.prepare(sql));
          if (Array.isArray(result)) span.setAttribute('db.response.returned_rows', result.length);
          return result;
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  #all(operation: string, table: string, sql: string, ...params: SQLInputValue[]): Record<string, unknown>[] {
    return this.#run(operation, table, sql, (statement) => statement.all(...params) as Record<string, unknown>[]);
  }

  listTodos(limit = 20): Todo[] {
    return this.#all(
      'SELECT',
      'todos',
      'SELECT id, title, done, author_id, created_at FROM todos ORDER BY id DESC LIMIT ?',
      limit,
    ).map(toTodo);
  }

  todosByAuthor(authorId: number): Todo[] {
    return this.#all(
      'SELECT',
      'todos',
      'SELECT id, title, done, author_id, created_at FROM todos WHERE author_id = ? ORDER BY id',
      authorId,
    ).map(toTodo);
  }

  listUsers(): User[] {
    return this.#all('SELECT', 'users', 'SELECT id, name FROM users ORDER BY id').map(toUser);
  }

  userById(id: number): User | undefined {
    const [row] = this.#all('SELECT', 'users', 'SELECT id, name FROM users WHERE id = ?', id);
    return row ? toUser(row) : undefined;
  }

  stats(): { todos: number; done: number; users: number } {
    const [row] = this.#all(
      'SELECT',
      'todos',
      'SELECT COUNT(*) AS todos, COALESCE(SUM(done), 0) AS done, (SELECT COUNT(*) FROM users) AS users FROM todos',
    );
    return { todos: Number(row?.todos ?? 0), done: Number(row?.done ?? 0), users: Number(row?.users ?? 0) };
  }

  addTodo(title: string, authorId: number): Todo {
    const { lastInsertRowid } = this.#run(
      'INSERT',
      'todos',
      'INSERT INTO todos (title, author_id) VALUES (?, ?)',
      (statement) => statement.run(title, authorId),
    );
    const [row] = this.#all(
      'SELECT',
      'todos',
      'SELECT id, title, done, author_id, created_at FROM todos WHERE id = ?',
      Number(lastInsertRowid),
    );
    return toTodo(row!);
  }

  close(): void {
    this.#db.close();
  }
}

function toTodo(row: Record<string, unknown>): Todo {
  return {
    id: Number(row.id),
    title: String(row.title),
    done: Number(row.done) === 1,
    authorId: Number(row.author_id),
    createdAt: String(row.created_at),
  };
}

function toUser(row: Record<string, unknown>): User {
  return { id: Number(row.id), name: String(row.name) };
}
