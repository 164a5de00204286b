// The options users shape an operation's span with (`spans`, `spanName`, `requestHook`, `responseHook`,
// `captureInput`, `isError`, `metrics`), resolved once when an integration is created, and the one way a
// user function is called: what it throws is reported, never rethrown into the operation.
import { diag, type Span, type Tracer } from '@opentelemetry/api';

/**
 * What an operation ended with, as `responseHook` sees it, beside the integration's `info`: the last `result`
 * it produced, the `error` it failed with (both, for a GraphQL result with errors), and `cancelled: true` when
 * the caller aborted or unsubscribed before it settled.
 *
 * @example
 * ```ts
 * traceContextLink({
 *   responseHook: (span, { result, error, cancelled }) => {
 *     if (!error && !cancelled) span.setAttribute('app.items', (result as unknown[]).length);
 *   },
 * });
 * ```
 */
export interface OperationOutcome {
  result?: unknown;
  error?: unknown;
  cancelled?: boolean;
}

/**
 * Span options every link, exchange, middleware and plugin takes, with the same names and defaults. `TInfo`
 * is what each integration tells about an operation: at least `path` and `type` (tRPC) or `operationName`
 * and `operationType` (GraphQL); each integration documents its own.
 *
 * @example
 * ```ts
 * const options: SpanOptions<{ path: string; type: string }> = {
 *   spans: (info) => info.path !== 'health',
 *   spanName: (info) => `rpc ${info.path}`,
 *   requestHook: (span, info) => span.setAttribute('app.tenant', tenantOf(info)),
 *   captureInput: (input) => ({ ...(input as object), password: undefined }),
 *   isError: (error) => !(error instanceof NotFoundError),
 * };
 * ```
 */
export interface SpanOptions<TInfo> {
  /**
   * Start a span for the operation: `true`, `false`, or a predicate per operation (health checks,
   * introspection). An operation without a span still propagates its caller's context.
   * @default true
   */
  spans?: boolean | ((info: TInfo) => boolean);
  /** The span's name. @default the semantic-convention name (`{type} {name}` for GraphQL, the path for tRPC) */
  spanName?: (info: TInfo) => string;
  /**
   * Called when the span starts, before the operation runs: add attributes from `info` (the request, the
   * context). A hook that throws is reported once through `diag`; the operation is unaffected.
   */
  requestHook?: (span: Span, info: TInfo) => void;
  /**
   * Called once just before the span ends, with `info` plus the outcome (`result`, `error`, `cancelled`). A
   * hook that throws is reported once through `diag`; the operation is unaffected.
   */
  responseHook?: (span: Span, info: TInfo & OperationOutcome) => void;
  /**
   * Record the operation's input (tRPC) or variables (GraphQL) on the span, as JSON (at most 4,096
   * characters). `true` records it as is; a function returns what to record instead (redact here;
   * `undefined` records nothing). Off by default: inputs hold personal data and secrets.
   * @default false
   */
  captureInput?: boolean | ((input: unknown, info: TInfo) => unknown);
  /**
   * Whether an error marks the span ERROR. Without it: a CLIENT span for any error, a tRPC SERVER span only for
   * server-side codes (`INTERNAL_SERVER_ERROR` and the other 5xx equivalents), a GraphQL SERVER span for any error but
   * a persisted-query miss (`PERSISTED_QUERY_NOT_FOUND`). `error.type` is recorded either way. A cancelled operation
   * never marks its span ERROR.
   */
  isError?: (error: unknown, info: TInfo) => boolean;
  /** The tracer for the spans. @default this package's tracer from the global provider, looked up per operation */
  tracer?: Tracer;
  /**
   * Record each operation's duration in a histogram through the global `MeterProvider` (a no-op until one is
   * registered): `rpc.client.call.duration` / `rpc.server.call.duration` for tRPC, and the GraphQL working
   * group's draft `graphql.client.request.duration` / `graphql.server.request.duration`, in seconds. Recorded
   * with or without a span.
   * @default true
   */
  metrics?: boolean;
}

/** {@link SpanOptions} with every default resolved. */
export interface SpanConfig<TInfo> {
  spans: (info: TInfo) => boolean;
  spanName: ((info: TInfo) => string) | undefined;
  requestHook: ((span: Span, info: TInfo) => void) | undefined;
  responseHook: ((span: Span, info: TInfo & OperationOutcome) => void) | undefined;
  captureInput: ((input: unknown, info: TInfo) => unknown) | undefined;
  isError: ((error: unknown, info: TInfo) => boolean) | undefined;
  tracer: Tracer | undefined;
  metrics: boolean;
}

const always = () => true;
const never = () => false;
const asIs = (input: unknown) => input;

/** A boolean-or-predicate option (`spans`, `propagate`) as a predicate: `true` is always, `false` never. */
export function toPredicate<TInfo>(option: boolean | ((info: TInfo) => boolean)): (info: TInfo) => boolean {
  return typeof option === 'function' ? option : option ? always : never;
}

/** Every span option resolved to its default, in one place. */
export function resolveSpanOptions<TInfo>(options: SpanOptions<TInfo>): SpanConfig<TInfo> {
  const { spans = true, captureInput = false } = options;
  return {
    spans: toPredicate(spans),
    spanName: options.spanName,
    requestHook: options.requestHook,
    responseHook: options.responseHook,
    captureInput: typeof captureInput === 'function' ? captureInput : captureInput ? asIs : undefined,
    isError: options.isError,
    tracer: options.tracer,
    metrics: options.metrics ?? true,
  };
}

const reported = new WeakSet<object>();

/** Calls a user function; what it throws is reported once per function through `diag`, never rethrown. */
export function callSafely<TArgs extends unknown[], TResult>(
  name: string,
  fn: (...args: TArgs) => TResult,
  ...args: TArgs
): TResult | undefined {
  try {
    return fn(...args);
  } catch (error) {
    if (!reported.has(fn)) {
      reported.add(fn);
      diag.warn(`otel-rpc-context: the ${name} option threw; the operation goes on without it`, error);
    }
    return undefined;
  }
}

/** The longest input recorded by `captureInput`, in UTF-16 code units. */
export const MAX_CAPTURED_INPUT_LENGTH = 4096;

/** A captured input as a span attribute value: JSON, cut to {@link MAX_CAPTURED_INPUT_LENGTH}. */
export function capturedValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = undefined; // circular, BigInt, a throwing toJSON: nothing to record
  }
  if (text === undefined) return undefined;
  return text.length > MAX_CAPTURED_INPUT_LENGTH ? text.slice(0, MAX_CAPTURED_INPUT_LENGTH) : text;
}

/** `spanName`'s answer for `info` when it gives a non-empty string, else `fallback` (the convention's name). */
export function spanNameOf<TInfo>(config: SpanConfig<TInfo>, info: TInfo, fallback: string): string {
  const chosen = config.spanName ? callSafely('spanName', config.spanName, info) : undefined;
  return typeof chosen === 'string' && chosen ? chosen : fallback;
}
