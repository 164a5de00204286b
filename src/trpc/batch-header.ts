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

/** The batch header is never longer than this: Node's default limit for all headers is 16 KiB. */
export const MAX_BATCH_HEADER_LENGTH = 8192;

let warnedTrimmed = false;

/**
 * The batch header's value: every carrier as sent while the whole fits in {@link MAX_BATCH_HEADER_LENGTH};
 * else without baggage; else the entries past the limit as `{}`. Never longer than the limit.
 */
export function encodeBatchHeader(carriers: readonly ContextCarrier[]): string {
  const full = JSON.stringify(carriers);
  if (full.length <= MAX_BATCH_HEADER_LENGTH) return full;
  const lean = carriers.map((carrier) => {
    if (carrier.baggage === undefined) return JSON.stringify(carrier);
    const { baggage: _baggage, ...rest } = carrier;
    return JSON.stringify(rest);
  });
  // `[` + entries joined by `,` + `]`; an entry that does not fit costs `{}`.
  const placeholder = 2;
  let length = 2 + (lean.length - 1) + placeholder * lean.length;
  let dropped = 0;
  // Not even `{}` each fits: an empty list, which the server reads as "no context" for every operation.
  if (length > MAX_BATCH_HEADER_LENGTH) {
    dropped = lean.length;
    lean.length = 0;
  }
  const kept = lean.map((entry) => {
    if (length - placeholder + entry.length > MAX_BATCH_HEADER_LENGTH) {
      dropped++;
      return '{}';
    }
    length += entry.length - placeholder;
    return entry;
  });
  if (!warnedTrimmed) {
    warnedTrimmed = true;
    diag.warn(
      `otel-rpc-context: a batch of ${carriers.length} operations does not fit the ${MAX_BATCH_HEADER_LENGTH}-character ` +
        `${BATCH_HEADER} header: baggage was left out${dropped > 0 ? ` and ${dropped} operations were sent without a context` : ''}. ` +
        'Set maxItems on the batch link (said once).',
    );
  }
  return `[${kept.join(',')}]`;
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
