// The OpenTelemetry floor of a propagated operation, measured in situ (issue #14): the bench's `floor` and
// `floor-spans` variants. Of our shape (a client link, a server middleware or plugin) and with nothing else:
// per operation one `propagation.inject` on the client, one `propagation.extract` and one `context.with` on
// the server; with spans, also the CLIENT and the SERVER span the SDK has to make, and nothing more (no
// attributes, no metrics, no options, no error handling beyond ending the spans).
//
// This file imports only @opentelemetry/api, and the suites pass the framework pieces in: the profiler then
// charges exactly the samples under these functions (with the OpenTelemetry calls they make) to the floor,
// as it charges ours to our compiled files (bench/lib/profile.mjs, `ownedCode`). Compared with our µs/op,
// the floor's µs/op is what propagation itself costs in the same app, with the same cold caches.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';

/** Where the tRPC link leaves an operation's carrier in `op.context`, for {@link trpcFloorHeaders}. */
const CARRIER_KEY = 'floorCarrier';

/** The one tracer of the floor's spans, asked for once when a link or middleware is built, not per operation. */
const floorTracer = () => trace.getTracer('floor');

/**
 * Ends `span` once, however many of result, error, completion and teardown arrive: a second `end` would
 * only make the SDK warn.
 */
function endOnce(span) {
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    span.end();
  };
}

/**
 * Relays `source` (anything with `subscribe(observer)`) to `observer`, ending `span` on the operation's
 * result (the first value of a query or mutation), error, completion or teardown.
 * @returns the teardown for the framework's observable
 */
function relayEnding(source, observer, span, isSubscription) {
  const end = endOnce(span);
  const subscription = source.subscribe({
    next(value) {
      if (!isSubscription) end();
      observer.next(value);
    },
    error(error) {
      end();
      observer.error(error);
    },
    complete() {
      end();
      observer.complete();
    },
  });
  return () => {
    end();
    subscription.unsubscribe();
  };
}

/**
 * A tRPC link: per operation, the caller's context injected into a fresh carrier stored on `op.context`
 * (sent by {@link trpcFloorHeaders}). With `spans`, under a CLIENT span named after the procedure, ended
 * when the result or error arrives.
 * @param {{ observable: typeof import('@trpc/server/observable').observable, spans: boolean }} options
 */
export function trpcFloorLink({ observable, spans }) {
  if (!spans) {
    return () =>
      ({ op, next }) => {
        const carrier = {};
        propagation.inject(context.active(), carrier);
        op.context[CARRIER_KEY] = carrier;
        return next(op);
      };
  }
  const tracer = floorTracer();
  return () =>
    ({ op, next }) => {
      const active = context.active();
      const span = tracer.startSpan(op.path, { kind: SpanKind.CLIENT }, active);
      const carrier = {};
      propagation.inject(trace.setSpan(active, span), carrier);
      op.context[CARRIER_KEY] = carrier;
      return observable((observer) => relayEnding(next(op), observer, span, op.type === 'subscription'));
    };
}

/**
 * The `headers` option of `httpLink` (`{ op }`) and `httpBatchLink` (`{ opList }`): the first operation's
 * carrier, as the standard W3C headers.
 */
export function trpcFloorHeaders({ op, opList }) {
  return (op ?? opList[0]).context[CARRIER_KEY] ?? {};
}

/**
 * The caller's context, from the headers of the request the bench's `createContext` puts in `ctx.req`: Node's
 * plain header object (standalone adapter), which the default getter reads.
 */
const extractRequest = (ctx) => propagation.extract(ROOT_CONTEXT, ctx.req.headers);

/**
 * A tRPC middleware (for `t.procedure.use`): per call, the caller's context extracted from the request's
 * headers and `next` run in it. With `spans`, under a SERVER span named after the procedure, ended when `next`
 * settles.
 * @param {{ spans: boolean }} options
 */
export function trpcFloorMiddleware({ spans }) {
  if (!spans) return ({ ctx, next }) => context.with(extractRequest(ctx), next);
  const tracer = floorTracer();
  return async ({ ctx, path, next }) => {
    const extracted = extractRequest(ctx);
    const span = tracer.startSpan(path, { kind: SpanKind.SERVER }, extracted);
    try {
      return await context.with(trace.setSpan(extracted, span), next);
    } finally {
      span.end();
    }
  };
}

/** Merges the carrier into the operation's headers, as Apollo's `setContext` link does with its headers. */
const withHeaders = (carrier) => (previous) => ({
  headers: previous.headers ? { ...previous.headers, ...carrier } : carrier,
});

/**
 * An Apollo Client link: per operation, the caller's context injected into the request's headers. With
 * `spans`, under a CLIENT span named after the operation, ended when the result or error arrives. A batch
 * (`BatchHttpLink`) sends its first operation's headers, as tRPC's batch sends its first operation's carrier.
 * @param {{ ApolloLink: typeof import('@apollo/client').ApolloLink,
 *   Observable: typeof import('@apollo/client').Observable, spans: boolean }} options
 */
export function apolloFloorLink({ ApolloLink, Observable, spans }) {
  if (!spans) {
    return new ApolloLink((operation, forward) => {
      const carrier = {};
      propagation.inject(context.active(), carrier);
      operation.setContext(withHeaders(carrier));
      return forward(operation);
    });
  }
  const tracer = floorTracer();
  return new ApolloLink((operation, forward) => {
    const active = context.active();
    const span = tracer.startSpan(operation.operationName || 'operation', { kind: SpanKind.CLIENT }, active);
    const carrier = {};
    propagation.inject(trace.setSpan(active, span), carrier);
    operation.setContext(withHeaders(carrier));
    const isSubscription = operation.operationType === 'subscription';
    return new Observable((observer) => relayEnding(forward(operation), observer, span, isSubscription));
  });
}

/** Reads a Fetch `Headers` (Yoga's request); a request without one (graphql-ws) has an empty carrier. */
const FETCH_HEADERS_GETTER = {
  get: (headers, key) => headers.get?.(key) ?? undefined,
  keys: (headers) => (typeof headers.keys === 'function' ? [...headers.keys()] : []),
};
const NO_HEADERS = {};

/** The caller's context from the operation's HTTP request headers (Yoga's envelope keeps the `request`). */
const extractFrom = (envelope) =>
  propagation.extract(ROOT_CONTEXT, envelope.request?.headers ?? NO_HEADERS, FETCH_HEADERS_GETTER);

/**
 * The `instrumentation` wrappers of an Envelop plugin that make it the floor: around execute and subscribe,
 * one extract from the request's headers and one `context.with`. With `spans`, under a SERVER span named
 * after the operation, ended when execution settles (for a subscription: when its stream is set up).
 * The suite merges them into a plugin of our hooks' shape whose other hooks do nothing.
 * @param {{ spans: boolean }} options
 */
export function envelopFloorInstrumentation({ spans }) {
  if (!spans) {
    const run = ({ context: envelope }, wrapped) => context.with(extractFrom(envelope), wrapped);
    return { execute: run, subscribe: run };
  }
  const tracer = floorTracer();
  const run = ({ context: envelope }, wrapped) => {
    const extracted = extractFrom(envelope);
    const span = tracer.startSpan(envelope.params?.operationName || 'operation', { kind: SpanKind.SERVER }, extracted);
    let result;
    try {
      result = context.with(trace.setSpan(extracted, span), wrapped);
    } catch (error) {
      span.end();
      throw error;
    }
    if (typeof result?.then !== 'function') {
      span.end();
      return result;
    }
    return result.then(
      () => span.end(),
      (error) => {
        span.end();
        throw error;
      },
    );
  };
  return { execute: run, subscribe: run };
}
