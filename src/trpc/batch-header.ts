// The batch header, one wire slot: the client's encoder beside the server's decoder, and the one limit both
// sides keep to.
import { diag } from '@opentelemetry/api';
import { type CarrierInput, type ContextCarrier, carrierGetter, parsedContextCarrier } from '../core/carrier.js';

/**
 * The request header that carries one carrier per operation of an HTTP batch, as a JSON array aligned
 * with the batch (`null` = "same as the request's standard headers"). Browsers send it only if your
 * CORS configuration allows it.
 *
 * @example
 * ```ts
 * import cors from 'cors';
 * import { BATCH_HEADER } from 'otel-rpc-context/trpc';
 *
 * app.use(cors({ allowedHeaders: ['content-type', 'traceparent', 'tracestate', 'baggage', BATCH_HEADER] }));
 * ```
 */
export const BATCH_HEADER = 'x-trpc-trace-context';

/** The batch header is never longer than this, and a server reads none longer. */
export const MAX_BATCH_HEADER_LENGTH = 8192;

/**
 * The most characters the batch header and the standard trace context headers beside it take together: of
 * Node's default limit for all of a request's headers, 16 KiB, 4 KiB stay for the others.
 */
export const MAX_TRACE_HEADERS_LENGTH = 12_288;

let warnedTrimmed = false;

const list = (entries: readonly string[]) => `[${entries.join(',')}]`;

/**
 * The batch header's value, within {@link MAX_BATCH_HEADER_LENGTH}, and within {@link MAX_TRACE_HEADERS_LENGTH}
 * less `standardLength`, the characters of the standard headers that carry the first operation's context (0:
 * none do). While the whole does not fit, in turn: the first entry, if it has baggage, becomes `null` ("as the
 * standard headers", so its baggage travels once); the other entries leave out their baggage; the entries past
 * the limit become `{}`. Never longer than the limit.
 */
export function encodeBatchHeader(carriers: readonly ContextCarrier[], standardLength = 0): string {
  const limit = Math.min(MAX_BATCH_HEADER_LENGTH, MAX_TRACE_HEADERS_LENGTH - standardLength);
  const full = JSON.stringify(carriers);
  if (full.length <= limit) return full;
  const entries = carriers.map((carrier) => JSON.stringify(carrier));
  // Only for baggage, which would travel twice: a first entry without it keeps its own, exact slot.
  const inStandard = standardLength > 0 && carriers[0]?.baggage !== undefined;
  if (inStandard) {
    entries[0] = 'null';
    const shared = list(entries);
    if (shared.length <= limit) return shared;
  }
  const lean = entries.map((entry, index) => {
    const carrier = carriers[index] as ContextCarrier;
    if ((inStandard && index === 0) || carrier.baggage === undefined) return entry;
    const { baggage: _baggage, ...rest } = carrier;
    return JSON.stringify(rest);
  });
  // `[` + entries joined by `,` + `]`; an entry that does not fit costs `{}`.
  const placeholder = 2;
  let length = 2 + (lean.length - 1) + placeholder * lean.length;
  let dropped = 0;
  // Not even `{}` each fits: an empty list, which the server reads as "no context" for every operation.
  if (length > limit) {
    dropped = lean.length;
    lean.length = 0;
  }
  const kept = lean.map((entry) => {
    if (length - placeholder + entry.length > limit) {
      dropped++;
      return '{}';
    }
    length += entry.length - placeholder;
    return entry;
  });
  if (!warnedTrimmed) {
    warnedTrimmed = true;
    diag.warn(
      `otel-rpc-context: a batch of ${carriers.length} operations does not fit the ${BATCH_HEADER} header (at most ` +
        `${MAX_BATCH_HEADER_LENGTH} characters, ${MAX_TRACE_HEADERS_LENGTH} with the standard headers): baggage was left out` +
        `${dropped > 0 ? ` and ${dropped} operations were sent without a context` : ''}. ` +
        'Set maxItems on the batch link (said once).',
    );
  }
  return list(kept);
}

/**
 * Decodes a {@link BATCH_HEADER} value: one entry per operation of the batch, the operation's carrier (`{}` when
 * the entry is not a usable carrier), or `undefined` for `null` (older clients: "as the standard headers").
 * `null` when the value is absent, too long, not JSON or not a list. Never throws.
 */
export function decodeBatchHeader(raw: unknown): (ContextCarrier | undefined)[] | null {
  if (typeof raw !== 'string' || raw.length > MAX_BATCH_HEADER_LENGTH) return null;
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    return null;
  }
  return Array.isArray(list)
    ? list.map((entry) => (entry === null ? undefined : (parsedContextCarrier(entry) ?? {})))
    : null;
}

/** Decodes the {@link BATCH_HEADER} of any header shape (its first line when repeated). Never throws. */
export function readBatchHeader(headers: CarrierInput | undefined): (ContextCarrier | undefined)[] | null {
  const value = carrierGetter.get(headers as CarrierInput, BATCH_HEADER);
  return decodeBatchHeader(Array.isArray(value) ? value[0] : value);
}
