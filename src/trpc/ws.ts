// The WebSocket field, one wire slot: `traceContextEncoder` adds it to each outgoing message (encode) and, on
// the server, hands each incoming frame's carriers to the middleware (decode).
import { type ContextCarrier, isObject, toContextCarrier } from '../core/carrier.js';
import { claimCarrier, startTrackingOperations } from './ws-pending.js';

/** The top-level field of a WebSocket message that carries the operation's carrier. */
export const WS_FIELD = 'traceContext';

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

/** {@link TraceContextEncoderOptions} resolved to their defaults. */
export interface EncoderConfig<TFrame> {
  encoder: WebSocketEncoder<TFrame>;
}

/** Resolves {@link TraceContextEncoderOptions} once, when the encoder is created. */
export function resolveEncoderOptions<TFrame>(options: TraceContextEncoderOptions<TFrame>): EncoderConfig<TFrame> {
  return { encoder: (options.encoder ?? jsonEncoder) as WebSocketEncoder<TFrame> };
}

/** Encode: the message with its operation's carrier as {@link WS_FIELD}, or as it is when none is pending. */
function withCarrier(message: unknown): unknown {
  if (!isObject(message) || Array.isArray(message)) return message;
  const carrier = claimCarrier(message);
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

/** Decode: puts the carriers of a decoded frame's messages where {@link takeFrameCarrier} finds them. */
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
  const inner = resolveEncoderOptions(options).encoder;
  startTrackingOperations();
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
