// Counts the OpenTelemetry calls otel-rpc-context makes: `propagation.inject`, `propagation.extract`,
// `context.with` and `tracer.startSpan` / `startActiveSpan`, by registering counting wrappers around the
// global propagator, context manager and tracer provider. A call counts as ours when the nearest frame
// up its stack that is neither OpenTelemetry nor Node.js's async-context machinery is in otel-rpc-context
// (the rule bench/lib/profile.mjs uses for CPU samples): calls the bench driver, the app or an
// instrumentation make are left out.
//
// Beside them, `countOwnFunctionCalls` counts every call into our compiled files (V8's precise coverage:
// exact invocation counts, inlined and optimized calls included): what grows with anything per operation
// (resolvers, fields, batch size) shows there, whatever OpenTelemetry calls it makes.
//
// Only for a counting process (BENCH_COUNT_CALLS=1, or `node bench/profile.mjs`'s counting child): every
// wrapped call captures a stack trace, which would distort a timed measurement.
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const COUNTED = ['inject', 'extract', 'with', 'startSpan'];

const thisFile = fileURLToPath(import.meta.url);
const thisUrl = pathToFileURL(thisFile).href;

const isInfra = (file) =>
  file === '' ||
  file === thisFile ||
  file === thisUrl ||
  file.includes('/node_modules/@opentelemetry/') ||
  file.startsWith('node:internal/async_context_frame') ||
  file.startsWith('node:internal/async_local_storage') ||
  file.startsWith('node:async_hooks') ||
  file.startsWith('node:internal/async_hooks');

/** Whether `file` (a path or a file URL) is one of the compiled files under `ownDir`. */
function ownFiles(ownDir) {
  const ownPath = path.resolve(ownDir);
  const ownUrl = pathToFileURL(ownPath).href;
  return (file) => file.startsWith(ownUrl) || file.startsWith(ownPath);
}

/**
 * Counts the calls of every function in our compiled files, with V8's precise coverage (call counts, not
 * samples). Start it before our code loads.
 * @param {string} ownDir the folder otel-rpc-context's compiled files load from
 * @returns `take()`, which resolves to the number of calls since the last take, in all and by function
 */
export async function countOwnFunctionCalls(ownDir) {
  const isOurs = ownFiles(ownDir);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  return {
    async take() {
      // Taking resets V8's counters.
      const { result } = await session.post('Profiler.takePreciseCoverage');
      let calls = 0;
      const byFunction = new Map();
      for (const script of result) {
        if (!isOurs(script.url)) continue;
        const file = script.url.split('/').slice(-2).join('/');
        // With `detailed: false` each function has one range, its whole body, counted once per call.
        for (const fn of script.functions) {
          const count = fn.ranges[0]?.count ?? 0;
          if (count === 0) continue;
          calls += count;
          const where = `${fn.functionName || '(anonymous)'} (${file})`;
          byFunction.set(where, (byFunction.get(where) ?? 0) + count);
        }
      }
      return { calls, byFunction };
    },
  };
}

/**
 * @param {string} ownDir the folder otel-rpc-context's compiled files load from
 * @returns the wrappers to register, and `take()`, which returns the counts since the last take
 */
export function createCounters(ownDir) {
  const isOurs = ownFiles(ownDir);
  let counts = Object.fromEntries(COUNTED.map((name) => [name, 0]));

  function callerIsOurs() {
    const limit = Error.stackTraceLimit;
    const prepare = Error.prepareStackTrace;
    Error.stackTraceLimit = 24;
    Error.prepareStackTrace = (_error, frames) => frames;
    const holder = {};
    Error.captureStackTrace(holder, callerIsOurs);
    const frames = holder.stack;
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
    for (const frame of frames) {
      const file = frame.getFileName() ?? '';
      if (!isInfra(file)) return isOurs(file);
    }
    return false;
  }

  const count = (name) => {
    if (callerIsOurs()) counts[name]++;
  };

  /** Wraps one method of `target` in a Proxy that counts its calls made by our code. */
  function counting(target, methods) {
    return new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key, object);
        const name = methods[key];
        if (typeof value !== 'function') return value;
        if (!name) return value.bind(object);
        return (...args) => {
          count(name);
          return value.apply(object, args);
        };
      },
    });
  }

  return {
    /** @param {import('@opentelemetry/api').TextMapPropagator} propagator */
    propagator: (propagator) => counting(propagator, { inject: 'inject', extract: 'extract' }),
    /** @param {import('@opentelemetry/api').ContextManager} manager */
    contextManager: (manager) => counting(manager, { with: 'with' }),
    /** @param {import('@opentelemetry/api').TracerProvider} provider */
    tracerProvider: (provider) => ({
      getTracer: (...args) =>
        counting(provider.getTracer(...args), { startSpan: 'startSpan', startActiveSpan: 'startSpan' }),
    }),
    take() {
      const taken = counts;
      counts = Object.fromEntries(COUNTED.map((name) => [name, 0]));
      return taken;
    },
  };
}
