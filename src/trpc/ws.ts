import type { ContextCarrier } from '../core/carrier.js';
import { toContextCarrier } from '../core/carrier.js';
import { isObject, WS_FIELD } from './shared.js';

/**
 * The shape of tRPC's `experimental_encoder` (on `createWSClient` and the WebSocket adapter), declared
 * here so that the types also load with tRPC releases that predate it.
 *
 * @example
 * ```ts
 * const encoder: WebSocketEncoder = traceContextEncoder();
 * ```
 */
export interface WebSocketEncoder<TFrame = string> {
  encode(data: unknown): TFrame;
  decode(data: string | ArrayBuffer | Uint8Array): unknown;
}

/**
 * Options for {@link traceContextEncoder}.
 *
 * @example
 * ```ts
 * traceContextEncoder({ encoder: msgpackEncoder }); // binary frames; the field travels inside them
 * ```
 */
export interface TraceContextEncoderOptions<TFrame = string> {
  /** The encoder that turns messages into frames and back. @default JSON text frames, like tRPC's own */
  encoder?: WebSocketEncoder<TFrame>;
}

const jsonEncoder: WebSocketEncoder<string> = {
  encode: (data) => JSON.stringify(data),
  decode: (data) => {
    if (typeof data !== 'string') throw new Error('traceContextEncoder received binary data; JSON uses text frames');
    return JSON.parse(data);
  },
};

interface PendingOp {
  input: unknown;
  carrier: ContextCarrier;
}

/**
 * Client side. tRPC builds the WebSocket message inside `wsLink` from `type`, `path` and `input` only, so
 * the encoder cannot see the operation a message belongs to. The link records each operation it starts
 * here (only once an encoder exists); the encoder claims the oldest record with the same type and path,
 * preferring one whose input is the very same value (true whenever no transformer copies the input).
 * tRPC creates messages synchronously, in the order operations start, so for one WebSocket client this
 * is exact. The record is gone when the operation ends, or when an HTTP link claims it.
 */
const pending = new Map<string, PendingOp[]>();
const MAX_PENDING = 10_000;
let pendingCount = 0;
let encoderInUse = false;
const messageCarriers = new WeakMap<object, ContextCarrier>();

const pendingKey = (type: string, path: string) => `${type}\0${path}`;

/** Records an operation that may travel over a WebSocket; returns the function that forgets it. */
export function trackOperation(type: string, path: string, input: unknown, carrier: ContextCarrier): () => void {
  if (!encoderInUse) return noop;
  if (pendingCount >= MAX_PENDING) return noop;
  const key = pendingKey(type, path);
  const entry: PendingOp = { input, carrier };
  let list = pending.get(key);
  if (!list) {
    list = [];
    pending.set(key, list);
  }
  list.push(entry);
  pendingCount++;
  return () => {
    const current = pending.get(key);
    const index = current ? current.indexOf(entry) : -1;
    if (index < 0 || !current) return;
    current.splice(index, 1);
    pendingCount--;
    if (current.length === 0) pending.delete(key);
  };
}

/** What {@link trackOperation} returns when it recorded nothing. */
export function noop(): void {}

function claim(message: Record<string, unknown>): ContextCarrier | undefined {
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

function withCarrier(message: unknown): unknown {
  if (!isObject(message) || Array.isArray(message)) return message;
  const carrier = claim(message);
  if (!carrier) return message;
  // A copy: tRPC keeps the original message to resend it after a reconnect.
  return { ...message, [WS_FIELD]: carrier };
}

/**
 * Server side. tRPC's WebSocket adapter keeps only `id`, `method` and `params` of a message, and a
 * middleware sees only `batchIndex` of the message in its frame. The adapter decodes a frame and starts
 * every call in it synchronously, so the carriers of a frame are put in an AsyncLocalStorage right after
 * decoding: each call continues in it, and the middleware takes entry `batchIndex`.
 */
interface FrameStore {
  getStore(): (ContextCarrier | undefined)[] | undefined;
  enterWith(store: (ContextCarrier | undefined)[] | undefined): void;
}
let frames: FrameStore | null | undefined;

function frameStore(): FrameStore | null {
  if (frames !== undefined) return frames;
  try {
    // Node-only, and loaded lazily so that browser bundles of the client never see `node:async_hooks`.
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const hooks = proc?.getBuiltinModule?.('node:async_hooks') as
      | { AsyncLocalStorage: new () => FrameStore }
      | undefined;
    frames = hooks ? new hooks.AsyncLocalStorage() : null;
  } catch {
    frames = null;
  }
  return frames;
}

function readFrame(decoded: unknown): void {
  const messages = Array.isArray(decoded) ? decoded : [decoded];
  let carriers: (ContextCarrier | undefined)[] | undefined;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (!isObject(message) || !(WS_FIELD in message)) continue;
    const carrier = toContextCarrier(message[WS_FIELD]);
    if (!carrier) continue;
    carriers ??= new Array(messages.length).fill(undefined);
    carriers[i] = carrier;
  }
  const store = carriers || frames ? frameStore() : null;
  // Also clears what an earlier frame left in this synchronous run.
  if (store && (carriers || store.getStore())) store.enterWith(carriers);
}

/** Takes (once) the carrier that arrived in the current WebSocket frame for the call at `batchIndex`. */
export function takeFrameCarrier(batchIndex: number | undefined): ContextCarrier | undefined {
  if (batchIndex === undefined || !frames) return undefined;
  const carriers = frames.getStore();
  const carrier = carriers?.[batchIndex];
  // Taken once: a nested call with the same index must not pick it up again.
  if (carrier && carriers) carriers[batchIndex] = undefined;
  return carrier;
}

/**
 * The `experimental_encoder` for tRPC WebSockets that gives every query, mutation and subscription its
 * own caller's context, also when a subscription is sent again after a reconnect. Use the same call on
 * both sides: `createWSClient({ url, experimental_encoder: traceContextEncoder() })` and
 * `applyWSSHandler({ wss, router, createContext, experimental_encoder: traceContextEncoder() })`.
 *
 * On the wire each message gains one top-level field, `traceContext` (the W3C carrier). tRPC servers
 * without this encoder drop that field while parsing, so they keep working unchanged. Wrap a binary
 * encoder with `options.encoder`; messages then carry the field inside that encoding.
 *
 * @example
 * ```ts
 * import { createWSClient, wsLink } from '@trpc/client';
 * import { traceContextEncoder, traceContextLink } from 'otel-rpc-context/trpc';
 *
 * const client = createWSClient({ url: 'ws://localhost:3001', experimental_encoder: traceContextEncoder() });
 * const links = [traceContextLink(), wsLink({ client })];
 * ```
 */
export function traceContextEncoder<TFrame = string>(
  options: TraceContextEncoderOptions<TFrame> = {},
): WebSocketEncoder<TFrame> {
  const inner = (options.encoder ?? jsonEncoder) as WebSocketEncoder<TFrame>;
  encoderInUse = true;
  return {
    encode(data) {
      return inner.encode(Array.isArray(data) ? data.map(withCarrier) : withCarrier(data));
    },
    decode(data) {
      const decoded = inner.decode(data);
      try {
        readFrame(decoded);
      } catch {
        // A hostile frame never breaks decoding: its calls just run without a per-operation carrier.
      }
      return decoded;
    },
  };
}
