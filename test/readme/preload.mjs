// Loaded by test/readme/run.mjs with `node --import` in front of every quick-start process (and, through the
// inherited execArgv, every worker thread it starts). The quick start stays exactly what a user pastes: it
// registers its own SDK with ConsoleSpanExporter, which prints each ended span through console.dir. This file
// records those span objects, and the port each server starts listening on, as JSON lines appended to the file
// named by README_TEST_EVENTS, tagged with the process and thread that produced them. It changes no behaviour:
// console.dir still prints, listen still listens.
import { appendFileSync } from 'node:fs';
import net from 'node:net';
import { threadId } from 'node:worker_threads';

const file = process.env.README_TEST_EVENTS;
if (file) {
  const origin = `${process.pid}/${threadId}`;
  const role = process.env.README_TEST_ROLE ?? 'unknown';
  const record = (event) => {
    try {
      appendFileSync(file, `${JSON.stringify({ origin, role, ...event })}\n`);
    } catch {
      // the harness reports missing events; never break the quick start itself
    }
  };

  const dir = console.dir;
  console.dir = function (value, ...rest) {
    if (
      value &&
      typeof value === 'object' &&
      typeof value.traceId === 'string' &&
      typeof value.id === 'string' &&
      typeof value.name === 'string'
    ) {
      record({
        span: {
          name: value.name,
          kind: value.kind,
          traceId: value.traceId,
          id: value.id,
          parentId: value.parentSpanContext?.spanId ?? value.parentId,
        },
      });
    }
    return dir.call(this, value, ...rest);
  };

  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    this.once('listening', () => {
      const address = this.address();
      record({ listening: typeof address === 'object' && address ? address.port : address });
    });
    return listen.apply(this, args);
  };
}
