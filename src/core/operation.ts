// One operation's span, for every integration, client and server: the options users shape spans with
// (`spans`, `spanName`, `requestHook`, `responseHook`, `captureInput`, `isError`), resolved in one place,
// and the one rule for which outcome marks a span failed. Only @opentelemetry/api is imported.
import {
  type Attributes,
  type AttributeValue,
  type Context,
  createNoopMeter,
  diag,
  type Histogram,
  type Link,
  metrics as metricsApi,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, resolveTracer, TRACER_NAME } from './conventions.js';

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
   * Whether an error marks the span ERROR. Without it: a CLIENT span for any error, a tRPC SERVER span only
   * for server-side codes (`INTERNAL_SERVER_ERROR` and the other 5xx equivalents), a GraphQL SERVER span for
   * any error. `error.type` is recorded either way. A cancelled operation never marks its span ERROR.
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

/** Every span option resolved to its default, in one place. */
export function resolveSpanOptions<TInfo>(options: SpanOptions<TInfo>): SpanConfig<TInfo> {
  const { spans = true, captureInput = false } = options;
  return {
    spans: typeof spans === 'function' ? spans : spans ? always : never,
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
function capturedValue(value: unknown): string | undefined {
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

/** How an integration starts one operation's span. */
export interface OperationStart {
  kind: SpanKind;
  /** The semantic-convention name, used unless `spanName` says otherwise. */
  name: string;
  attributes: Attributes;
  parent: Context;
  links?: Link[];
  root?: boolean;
  /** The attribute `captureInput` writes (`trpc.procedure.input`, `graphql.operation.variables`). */
  inputAttribute: string;
  /** Reads the input, called only when `captureInput` is on. May be called later through `captureInput()`. */
  input?: () => unknown;
  /** The default `isError` for this side and protocol. */
  defaultIsError: (error: unknown) => boolean;
  /** A low-cardinality `error.type` for an error. */
  errorType: (error: unknown) => string;
  /** The duration histogram to record into, and its attributes (`error.type` is added on failure). */
  metric?: OperationMetric;
}

/** A duration histogram, by its semantic-convention name, and the attributes of one operation's record. */
export interface OperationMetric {
  name: string;
  description: string;
  attributes: Attributes;
}

/** The semantic conventions' advice for RPC and HTTP durations, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

let histogramProvider: unknown;
let providerIsNoop = true;
const histograms = new Map<string, Histogram>();

/**
 * Whether a real MeterProvider is registered now. Without one, operations skip their clock reads and
 * records altogether: metrics then cost nothing but this check.
 */
function metersActive(): boolean {
  const provider = metricsApi.getMeterProvider();
  if (provider !== histogramProvider) {
    histogramProvider = provider;
    histograms.clear();
    providerIsNoop = provider.getMeter(TRACER_NAME) === createNoopMeter();
  }
  return !providerIsNoop;
}

/** The histogram `name` of the global meter provider as it is now; made once per provider. */
function histogram(metric: OperationMetric): Histogram {
  metersActive();
  let found = histograms.get(metric.name);
  if (!found) {
    found = metricsApi
      .getMeterProvider()
      .getMeter(TRACER_NAME)
      .createHistogram(metric.name, {
        unit: 's',
        description: metric.description,
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
    histograms.set(metric.name, found);
  }
  return found;
}

/** One operation's span, or none, behind one interface: integrations call it the same way either way. */
export interface OperationSpan {
  /** The span, or `undefined` when `spans` said no for this operation. */
  readonly span: Span | undefined;
  /** Records the input now (for integrations that only have it after the span started). */
  captureInput(input: unknown): void;
  /**
   * Names the span anew once the operation is known (a GraphQL document parsed): `spanName` is asked again
   * with the updated info, and `fallback` is the convention's name for it.
   */
  rename(fallback: string): void;
  /** Sets an attribute learnt after the start (a GraphQL operation's type): on the span, and on the metric if it has that key. */
  setAttribute(key: string, value: AttributeValue): void;
  /** Notes the latest result, for `responseHook`. */
  result(value: unknown): void;
  /** Records a failure: `error.type`, an exception event, and status ERROR where `isError` says so. */
  fail(error: unknown): void;
  /** Records that the caller cancelled (aborted, unsubscribed): `error.type`, status left unset. */
  cancel(errorType?: string): void;
  /** Calls `responseHook` and ends the span, once; later calls do nothing. */
  end(): void;
}

/** The operation span for an operation `spans` and `metrics` said no to: every call does nothing. */
const NO_SPAN: OperationSpan = {
  span: undefined,
  captureInput() {},
  rename() {},
  setAttribute() {},
  result() {},
  fail() {},
  cancel() {},
  end() {},
};

/** `spanName`'s answer for `info` when it gives a non-empty string, else `fallback` (the convention's name). */
function spanNameOf<TInfo>(config: SpanConfig<TInfo>, info: TInfo, fallback: string): string {
  const chosen = config.spanName ? callSafely('spanName', config.spanName, info) : undefined;
  return typeof chosen === 'string' && chosen ? chosen : fallback;
}

/** An error's message: `message` of an Error or of a GraphQL error object, else its text. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** The `error.type` recorded for a cancelled operation. */
export const CANCELLED_ERROR_TYPE = 'cancelled';

/**
 * Starts one operation's span by `config` (see {@link SpanOptions}), or returns a handle that does nothing
 * when `spans` says no for `info`. Never throws: a throwing option is reported through `diag` and skipped.
 */
export function startOperationSpan<TInfo>(
  config: SpanConfig<TInfo>,
  info: TInfo,
  start: OperationStart,
): OperationSpan {
  const metric = config.metrics && start.metric && metersActive() ? start.metric : undefined;
  const startedAt = metric ? performance.now() : 0;
  const spanned = callSafely('spans', config.spans, info) === true;
  if (!spanned && !metric) return NO_SPAN;
  let span: Span | undefined;
  if (spanned) {
    span = resolveTracer(config.tracer).startSpan(
      spanNameOf(config, info, start.name),
      { kind: start.kind, attributes: start.attributes, links: start.links, root: start.root },
      start.parent,
    );
  }
  const capture = (input: unknown) => {
    if (!span || !config.captureInput) return;
    const value = capturedValue(callSafely('captureInput', config.captureInput, input, info));
    if (value !== undefined) span.setAttribute(start.inputAttribute, value);
  };
  if (span && config.captureInput && start.input) capture(start.input());
  if (span && config.requestHook) callSafely('requestHook', config.requestHook, span, info);
  let outcome: OperationOutcome | undefined;
  let failedType: string | undefined;
  let ended = false;
  return {
    span,
    captureInput: capture,
    rename(fallback) {
      if (!ended) span?.updateName(spanNameOf(config, info, fallback));
    },
    setAttribute(key, value) {
      if (ended) return;
      span?.setAttribute(key, value);
      if (metric && key in metric.attributes) metric.attributes[key] = value;
    },
    result(value) {
      if (!ended && config.responseHook) outcome = { ...outcome, result: value };
    },
    fail(error) {
      if (ended) return;
      const type = start.errorType(error);
      failedType = type;
      if (!span) return;
      span.setAttribute(ATTR_ERROR_TYPE, type);
      span.recordException(error instanceof Error ? error : { name: type, message: messageOf(error) });
      const failed = config.isError
        ? (callSafely('isError', config.isError, error, info) ?? start.defaultIsError(error))
        : start.defaultIsError(error);
      if (failed) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
      }
      // Merged: a GraphQL result with errors gives the hook both its data and the error.
      if (config.responseHook) outcome = { ...outcome, error };
    },
    cancel(errorType = CANCELLED_ERROR_TYPE) {
      if (ended) return;
      failedType = errorType;
      span?.setAttribute(ATTR_ERROR_TYPE, errorType);
      if (config.responseHook) outcome = { ...outcome, cancelled: true };
    },
    end() {
      if (ended) return;
      ended = true;
      if (metric) {
        const attributes =
          failedType === undefined ? metric.attributes : { ...metric.attributes, [ATTR_ERROR_TYPE]: failedType };
        try {
          histogram(metric).record((performance.now() - startedAt) / 1000, attributes);
        } catch (error) {
          diag.debug('otel-rpc-context: recording a duration failed', error);
        }
      }
      if (!span) return;
      if (config.responseHook) callSafely('responseHook', config.responseHook, span, { ...info, ...outcome });
      span.end();
    },
  };
}
