// The trust policy (`incoming`): which policy applies to one operation. What each policy does to the
// operation's parent is applied in one place, `operationParent` (server.ts).
import { type Context, diag, type Link } from '@opentelemetry/api';

/**
 * What a server does with a context that arrives from a caller:
 * - `'continue'`: the caller's span is the parent; baggage is passed on. For callers you trust.
 * - `'link'`: a new trace starts; its first span links to the caller's span; baggage is dropped.
 *   For public endpoints: a browser cannot forge your trace ids or force sampling, and the link
 *   still leads from your trace to the caller's.
 * - `'ignore'`: the caller's context is not used at all; the operation runs in the server's own
 *   active context (for example the span your HTTP instrumentation opened).
 */
export type IncomingPolicy = 'continue' | 'link' | 'ignore';

/** A fixed {@link IncomingPolicy}, or a function that decides per request. */
export type IncomingOption<TInfo> = IncomingPolicy | ((info: TInfo) => IncomingPolicy);

/** Where an operation runs and what its server span links to, once the policy has been applied. */
export interface IncomingDecision {
  /** The context to run the operation in (and to parent its server span on). */
  parent: Context;
  /** Links for the server span: the remote span under `'link'`. */
  links: Link[] | undefined;
  /** True when the server span must start a new trace. */
  root: boolean;
}

const warnedDeciders = new WeakSet<object>();

function fallBack(decider: object, reason: string, detail?: unknown): IncomingPolicy {
  if (!warnedDeciders.has(decider)) {
    warnedDeciders.add(decider);
    const message = `otel-rpc-context: the incoming decider ${reason}; using 'link' (said once per decider)`;
    if (detail === undefined) diag.warn(message);
    else diag.warn(message, detail);
  }
  return 'link';
}

/**
 * Resolves an {@link IncomingOption} for one operation. A decider that throws, returns a promise or returns
 * anything but `'continue'`, `'link'` or `'ignore'` gives `'link'`, and says why once through `diag`.
 */
export function resolvePolicy<TInfo>(option: IncomingOption<TInfo> | undefined, info: TInfo): IncomingPolicy {
  if (option === undefined) return 'continue';
  if (typeof option === 'string') return option;
  let chosen: unknown;
  try {
    chosen = option(info);
  } catch (error) {
    return fallBack(option, 'threw', error);
  }
  if (chosen === 'continue' || chosen === 'link' || chosen === 'ignore') return chosen;
  const what =
    chosen !== null && typeof chosen === 'object' && typeof (chosen as { then?: unknown }).then === 'function'
      ? 'returned a promise (it must decide synchronously)'
      : `returned ${JSON.stringify(chosen) ?? String(chosen)}, not 'continue', 'link' or 'ignore'`;
  return fallBack(option, what);
}
