import { type Context, diag, propagation, type TextMapGetter, type TextMapPropagator } from '@opentelemetry/api';

/**
 * A context serialized as plain string pairs, e.g. `{ traceparent: '00-…-…-01', baggage: 'k=v' }`.
 * It survives `JSON.stringify`, `postMessage`, `structuredClone`, process and network boundaries.
 */
export type ContextCarrier = Record<string, string>;

/** A Fetch `Headers` object, or anything with the same read methods. */
export interface HeadersLike {
  get(name: string): string | null;
  forEach(callback: (value: string, key: string) => void): void;
}

/**
 * What {@link attachContext} accepts: a {@link ContextCarrier}, a Fetch `Headers`, Node's
 * `IncomingHttpHeaders` (array values, any header-name case), or nothing.
 */
export type CarrierInput =
  | ContextCarrier
  | HeadersLike
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | null
  | undefined;

/**
 * Values longer than this are ignored: W3C Baggage caps a header at 8192 bytes, and trace
 * context headers are far shorter. It bounds what a hostile caller can make a propagator parse.
 */
export const MAX_VALUE_LENGTH = 8192;
/** A carrier from an untrusted source keeps at most this many entries. */
export const MAX_CARRIER_KEYS = 64;

/** A non-null object (arrays included). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** Whether a carrier holds any entry (without building a key list). */
export function hasEntries(carrier: ContextCarrier): boolean {
  for (const _ in carrier) return true;
  return false;
}

/** Reads an own property of untrusted input, without invoking getters that could throw. */
export function own(value: unknown, key: string): unknown {
  if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
  const descriptor = Object.getOwnPropertyDescriptor(value, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return isObject(value) && typeof value.then === 'function';
}

const hasOwn = (target: object, key: string): boolean => Object.hasOwn(target, key);

/** A Fetch `Headers` or anything with its read methods. */
export function isHeaders(value: unknown): value is HeadersLike {
  return isObject(value) && typeof value.get === 'function' && typeof value.forEach === 'function';
}

function usable(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value.length <= MAX_VALUE_LENGTH ? value : undefined;
  if (Array.isArray(value)) {
    const strings = value.filter((item): item is string => typeof item === 'string' && item.length <= MAX_VALUE_LENGTH);
    return strings.length > 0 ? strings : undefined;
  }
  return undefined;
}

function readRecord(record: Record<string, unknown>, key: string): string | string[] | undefined {
  if (hasOwn(record, key)) return usable(record[key]);
  // Propagators ask for lowercase names; plain carriers built by hand may not be lowercase. Every
  // propagator asks for names the carrier lacks (`tracestate`, `baggage`), so this scan runs on most
  // extracts: comparing lengths first skips nearly every `toLowerCase()` (lowercasing never changes the
  // length of a name that could equal an ASCII header name).
  let lower: string | undefined;
  for (const name of Object.keys(record)) {
    if (name.length !== key.length) continue;
    lower ??= key.toLowerCase();
    if (name.toLowerCase() === lower) return usable(record[name]);
  }
  return undefined;
}

/**
 * A request can hold several `traceparent` values: instrumentation-undici appends its own to ours
 * (`"00-…-01, 00-…-01"`), and header records can hold repeated lines as arrays. W3C allows one; the first is
 * the one the sender's own code set, before any instrumentation added to it.
 */
function firstTraceparent(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const comma = first.indexOf(',');
  return comma < 0 ? first : first.slice(0, comma).trim();
}

/**
 * Reads every {@link CarrierInput} shape, never throws, never returns inherited properties or
 * non-string values.
 */
export const carrierGetter: TextMapGetter<CarrierInput> = {
  get(carrier, key) {
    if (carrier == null || typeof carrier !== 'object') return undefined;
    try {
      const value = isHeaders(carrier)
        ? usable(carrier.get(key) ?? undefined)
        : readRecord(carrier as Record<string, unknown>, key);
      return key === 'traceparent' ? firstTraceparent(value) : value;
    } catch {
      return undefined;
    }
  },
  keys(carrier) {
    if (carrier == null || typeof carrier !== 'object') return [];
    try {
      if (isHeaders(carrier)) {
        const names: string[] = [];
        carrier.forEach((_value, name) => {
          names.push(name);
        });
        return names;
      }
      return Object.keys(carrier);
    } catch {
      return [];
    }
  },
};

/**
 * Turns an untrusted value (parsed JSON from a header, an `extensions` field, a message) into a
 * {@link ContextCarrier}, or `undefined` when it is not a plain object. Keeps only own string
 * entries within the size limits; `__proto__` and friends cannot reach the result.
 */
export function toContextCarrier(value: unknown): ContextCarrier | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const carrier: ContextCarrier = {};
  let count = 0;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== 'string' || item.length > MAX_VALUE_LENGTH || key.length > 256) continue;
    carrier[key] = item;
    if (++count >= MAX_CARRIER_KEYS) break;
  }
  return carrier;
}

/**
 * {@link toContextCarrier} for a value fresh from `JSON.parse` that nothing else holds (a batch header entry, a
 * URL parameter): the value itself when it already is a carrier within the limits, as nearly every one is,
 * else the filtered copy. Saves a copy per operation.
 */
export function parsedContextCarrier(value: unknown): ContextCarrier | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length > MAX_CARRIER_KEYS) return toContextCarrier(value);
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (
      typeof item !== 'string' ||
      item.length > MAX_VALUE_LENGTH ||
      key.length > 256 ||
      key === '__proto__' ||
      key === 'constructor' ||
      key === 'prototype'
    ) {
      return toContextCarrier(value);
    }
  }
  return value as ContextCarrier;
}

/** Extracts `carrier` onto `base`; a propagator that throws gives `base`. */
export function extractOnto(base: Context, carrier: CarrierInput, propagator: TextMapPropagator | undefined): Context {
  try {
    return (propagator ?? propagation).extract(base, carrier, carrierGetter);
  } catch (error) {
    diag.debug('otel-rpc-context: the propagator threw while extracting a carrier; ignoring it', error);
    return base;
  }
}
