// One operation's span, for every integration, client and server: started from the resolved options
// (span-options.ts), with the one rule for which outcome marks a span failed, and its duration recorded
// (metrics.ts). Only @opentelemetry/api is imported.
import {
  type Attributes,
  type AttributeValue,
  type Context,
  diag,
  type Link,
  type Span,
  type SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, resolveTracer } from './conventions.js';
import { histogram, metersActive, type OperationMetric } from './metrics.js';
import { callSafely, capturedValue, type OperationOutcome, type SpanConfig, spanNameOf } from './span-options.js';

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
  /**
   * The duration histogram to record into, and its attributes (`error.type` is added on failure). Called only
   * when a MeterProvider is registered, so an operation without one builds no metric description.
   */
  metric?: () => OperationMetric;
}

/** One operation's span, or none, behind one interface: integrations call it the same way either way. */
export interface OperationSpan {
  /** The span, or `undefined` when `spans` said no for this operation. */
  readonly span: Span | undefined;
  /** `false` when nothing is recorded (no span, no duration): every method does nothing, the outcome need not be awaited. */
  readonly recording: boolean;
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
  recording: false,
  captureInput() {},
  rename() {},
  setAttribute() {},
  result() {},
  fail() {},
  cancel() {},
  end() {},
};

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
 *
 * `describe` gives the span's name, attributes, parent and metric. Integrations pass a function, called only
 * when the operation records something (a span, or a duration with a MeterProvider registered): with
 * `spans: false` and no MeterProvider, an operation then builds none of those objects.
 */
export function startOperationSpan<TInfo>(
  config: SpanConfig<TInfo>,
  info: TInfo,
  describe: OperationStart | (() => OperationStart),
): OperationSpan {
  const metering = config.metrics && metersActive();
  const clockedAt = metering ? performance.now() : 0;
  const spanned = callSafely('spans', config.spans, info) === true;
  if (!spanned && !metering) return NO_SPAN;
  const start = typeof describe === 'function' ? describe() : describe;
  const metric = metering ? start.metric?.() : undefined;
  if (!spanned && !metric) return NO_SPAN;
  let span: Span | undefined;
  if (spanned) {
    span = resolveTracer(config.tracer).startSpan(
      spanNameOf(config, info, start.name),
      { kind: start.kind, attributes: start.attributes, links: start.links, root: start.root },
      start.parent,
    );
  }
  const operation = new RecordedOperation(config, info, start, span, metric, clockedAt);
  if (span && config.captureInput && start.input) operation.captureInput(start.input());
  if (span && config.requestHook) callSafely('requestHook', config.requestHook, span, info);
  return operation;
}

/** The {@link OperationSpan} of an operation that records a span, a duration or both: one object, no closures. */
class RecordedOperation<TInfo> implements OperationSpan {
  private outcome: OperationOutcome | undefined;
  private failedType: string | undefined;
  private ended = false;
  readonly recording = true;

  private readonly config: SpanConfig<TInfo>;
  private readonly info: TInfo;
  private readonly start: OperationStart;
  readonly span: Span | undefined;
  private readonly metric: OperationMetric | undefined;
  private readonly startedAt: number;

  // Fields assigned by hand, not parameter properties: Node's type stripping (browser tests) leaves those.
  constructor(
    config: SpanConfig<TInfo>,
    info: TInfo,
    start: OperationStart,
    span: Span | undefined,
    metric: OperationMetric | undefined,
    startedAt: number,
  ) {
    this.config = config;
    this.info = info;
    this.start = start;
    this.span = span;
    this.metric = metric;
    this.startedAt = startedAt;
  }

  captureInput(input: unknown): void {
    const { span, config } = this;
    if (!span || !config.captureInput) return;
    const value = capturedValue(callSafely('captureInput', config.captureInput, input, this.info));
    if (value !== undefined) span.setAttribute(this.start.inputAttribute, value);
  }

  rename(fallback: string): void {
    if (!this.ended) this.span?.updateName(spanNameOf(this.config, this.info, fallback));
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.ended) return;
    this.span?.setAttribute(key, value);
    const metric = this.metric;
    if (metric && key in metric.attributes) metric.attributes[key] = value;
  }

  result(value: unknown): void {
    if (!this.ended && this.config.responseHook) this.outcome = { ...this.outcome, result: value };
  }

  fail(error: unknown): void {
    if (this.ended) return;
    const { span, config, start } = this;
    const type = start.errorType(error);
    this.failedType = type;
    if (!span) return;
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.recordException(error instanceof Error ? error : { name: type, message: messageOf(error) });
    const failed = config.isError
      ? (callSafely('isError', config.isError, error, this.info) ?? start.defaultIsError(error))
      : start.defaultIsError(error);
    if (failed) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
    }
    // Merged: a GraphQL result with errors gives the hook both its data and the error.
    if (config.responseHook) this.outcome = { ...this.outcome, error };
  }

  cancel(errorType = CANCELLED_ERROR_TYPE): void {
    if (this.ended) return;
    this.failedType = errorType;
    this.span?.setAttribute(ATTR_ERROR_TYPE, errorType);
    if (this.config.responseHook) this.outcome = { ...this.outcome, cancelled: true };
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const { metric, span, config, failedType } = this;
    if (metric) {
      const attributes =
        failedType === undefined ? metric.attributes : { ...metric.attributes, [ATTR_ERROR_TYPE]: failedType };
      try {
        histogram(metric).record((performance.now() - this.startedAt) / 1000, attributes);
      } catch (error) {
        diag.debug('otel-rpc-context: recording a duration failed', error);
      }
    }
    if (!span) return;
    if (config.responseHook) callSafely('responseHook', config.responseHook, span, { ...this.info, ...this.outcome });
    span.end();
  }
}
