// Client side of the WebSocket field: which operation a message belongs to. tRPC builds the message inside
// `wsLink` from `type`, `path` and `input` only, so the encoder cannot see the operation itself.
import { type ContextCarrier, isObject } from '../core/carrier.js';

interface PendingOp {
  input: unknown;
  carrier: ContextCarrier;
}

/**
 * The link records each operation it starts here (only once an encoder exists); the encoder claims the oldest
 * record with the same type and path, preferring one whose input is the very same value (true whenever no
 * transformer copies the input). tRPC creates messages synchronously, in the order operations start, so for
 * one WebSocket client this is exact. The record is gone when the operation ends or gets its first result, or
 * when an HTTP helper (`traceContextHeaders`, `traceContextUrl`) sends it.
 */
const pending = new Map<string, PendingOp[]>();
const MAX_PENDING = 10_000;
let pendingCount = 0;
let encoderInUse = false;
const messageCarriers = new WeakMap<object, ContextCarrier>();

/** An operation that reaches an HTTP link is no candidate for a WebSocket message any more. */
const httpBound = new WeakMap<object, () => void>();

const pendingKey = (type: string, path: string) => `${type}\0${path}`;

/** Called when a `traceContextEncoder` is created: from then on, operations are recorded. */
export function startTrackingOperations(): void {
  encoderInUse = true;
}

/**
 * Records an operation that may travel over a WebSocket, by its downstream `op.context`; returns the function
 * that forgets it (also called when an HTTP link takes the operation, see {@link sentOverHttp}).
 */
export function trackOperation(
  type: string,
  path: string,
  input: unknown,
  carrier: ContextCarrier,
  opContext: object,
): () => void {
  if (!encoderInUse || pendingCount >= MAX_PENDING) return noop;
  const key = pendingKey(type, path);
  const entry: PendingOp = { input, carrier };
  let list = pending.get(key);
  if (!list) {
    list = [];
    pending.set(key, list);
  }
  list.push(entry);
  pendingCount++;
  let tracked = true;
  const untrack = () => {
    if (!tracked) return;
    tracked = false;
    const current = pending.get(key);
    const index = current ? current.indexOf(entry) : -1;
    if (index < 0 || !current) return;
    current.splice(index, 1);
    pendingCount--;
    if (current.length === 0) pending.delete(key);
  };
  httpBound.set(opContext, untrack);
  return untrack;
}

function noop(): void {}

/** Forgets the operation whose `op.context` an HTTP link is sending. */
export function sentOverHttp(opContext: object): void {
  httpBound.get(opContext)?.();
}

/** The carrier of the operation a WebSocket message belongs to, taken off the pending records (once per message). */
export function claimCarrier(message: Record<string, unknown>): ContextCarrier | undefined {
  const known = messageCarriers.get(message);
  if (known) return known;
  const params = message.params;
  if (typeof message.method !== 'string' || !isObject(params) || typeof params.path !== 'string') return undefined;
  const key = pendingKey(message.method, params.path);
  const list = pending.get(key);
  if (!list || list.length === 0) return undefined;
  let index = list.findIndex((entry) => entry.input === params.input);
  if (index < 0) index = 0;
  const [entry] = list.splice(index, 1);
  pendingCount--;
  if (list.length === 0) pending.delete(key);
  if (!entry) return undefined;
  // The same message object is sent again after a reconnect: remember its carrier.
  messageCarriers.set(message, entry.carrier);
  return entry.carrier;
}
