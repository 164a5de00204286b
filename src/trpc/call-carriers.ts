// Where one procedure call's caller context may be on the server: its own slot (the WebSocket frame, the batch
// header, the subscription URL), the request's headers, the connection's params.
import { type CarrierInput, type ContextCarrier, isObject, toContextCarrier } from '../core/carrier.js';
import type { OperationCarriers } from '../core/server.js';
import { readBatchHeader } from './batch-header.js';
import type { TraceContextRequest } from './middleware-options.js';
import { infoCalls } from './shared.js';
import { urlCarrier } from './url-param.js';
import { takeFrameCarrier } from './ws.js';

/** The parts of a tRPC middleware call that locate it in its request. */
export interface CallSlot {
  /** The call's index in its batch (tRPC >= 11.10). */
  batchIndex?: number;
  /** The call's `getRawInput`, the same function as its entry in `info.calls`. */
  getRawInput: unknown;
}

const batchCache = new WeakMap<object, (ContextCarrier | undefined)[] | null>();

/**
 * The batch header's entries, parsed once per request; for the request's only call (`alone`) parsed without
 * keeping them, since no other call will ask. `null` when the header is absent or malformed. An entry is the
 * operation's carrier (`{}` when it had none), or `undefined` for `null` (older clients: "as the standard
 * headers") and anything that is not a carrier.
 */
function batchCarriers(headers: CarrierInput, alone: boolean): (ContextCarrier | undefined)[] | null {
  if (!isObject(headers)) return null;
  if (alone) return readBatchHeader(headers);
  const cached = batchCache.get(headers);
  if (cached !== undefined) return cached;
  const parsed = readBatchHeader(headers);
  batchCache.set(headers, parsed);
  return parsed;
}

/** The call's index in its batch: `batchIndex`, or (before tRPC 11.10) its place in `info.calls`. */
function batchIndexOf(call: CallSlot, calls: { getRawInput?: unknown }[] | undefined): number | undefined {
  if (call.batchIndex !== undefined || !calls) return call.batchIndex;
  const at = calls.findIndex((item) => item.getRawInput === call.getRawInput);
  return at >= 0 ? at : undefined;
}

/** Where this call's caller context may be: its own slot, the request's headers, the connection's params. */
export function carriersOf(call: CallSlot, request: TraceContextRequest | undefined): OperationCarriers {
  const info = request?.info;
  const calls = infoCalls(info);
  const index = batchIndexOf(call, calls);
  const connection = isObject(info) ? toContextCarrier(info.connectionParams) : undefined;
  const fromFrame = takeFrameCarrier(index);
  // A WebSocket: its createContext ran once for the connection, with no calls.
  if (fromFrame || (calls && calls.length === 0)) {
    return { operation: fromFrame, shared: true, headers: request?.headers, connection };
  }
  const entries = request?.headers ? batchCarriers(request.headers, calls?.length === 1) : null;
  const shared = (calls !== undefined && calls.length > 1) || (entries !== null && entries.length > 1);
  let operation: ContextCarrier | undefined;
  // An entry past the end of the list: the client had no room for it, and says "no context".
  if (entries && index !== undefined) operation = index < entries.length ? entries[index] : {};
  // A subscription URL (httpSubscriptionLink) is one operation's slot.
  else if (!shared) operation = urlCarrier(info);
  return { operation, shared, headers: request?.headers, connection };
}
