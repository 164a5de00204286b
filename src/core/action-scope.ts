// Where an action lives: the state behind startAction and startPageAction (the open actions, the page action,
// which action claimed the current task) and what the client links ask of it (callerContext, resumeCaller).
// A claim lives for the microtasks of one task only; see action.ts for why.
import { type Context, context, createContextKey, diag, propagation, type Span, trace } from '@opentelemetry/api';
import type { Action, ActionEndReason, PageActionOptions } from './action.js';
import { isObject } from './carrier.js';

const ACTION_KEY = /* @__PURE__ */ createContextKey('otel-rpc-context action');
const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_IDLE_TIMEOUT = 1_000;
/** Longer than any timer can wait (2^31 - 1 ms, about 24.8 days). */
const MAX_DELAY = 2_147_483_647;
/**
 * How many microtask turns a claim lasts within its task. TanStack Query 5 reaches `mutationFn` from `mutate()`
 * in 2-3 turns, and an invalidation refetch from a mutation's response in 1-2 (the browser proof passes with
 * 4); 64 leaves room for the awaits of user code before its first request. A turn costs well under a
 * microsecond, and the turns can never outlast the task's own microtasks.
 */
const CLAIM_TURNS = 64;

/** Open actions, of both kinds: 0 keeps {@link callerContext} at the cost of one comparison. */
let openActions = 0;
/** The open page action, if any: the ambient fallback. */
let pageAction: ActionScope | undefined;
/** The action that claimed the current task, or `AMBIGUOUS` when two did. */
let claimant: ActionScope | typeof AMBIGUOUS | undefined;
let claimTurnsLeft = 0;
let claimClearing = false;
const AMBIGUOUS = /* @__PURE__ */ Symbol('ambiguous');

/**
 * Clears the claim once its turns are over, counting them with `await`, the way the user's own code takes them:
 * zone.js replaces the global Promise and runs all of its microtasks within one native turn, but a native `await`
 * keeps native promises (and where a bundler compiles `await` to `.then` chains, both ours and the user's are).
 */
async function clearClaimAfterTurns(): Promise<void> {
  do await undefined;
  while (--claimTurnsLeft > 0);
  claimClearing = false;
  claimant = undefined;
}

/** Makes `action` the claimant of the current task (until its microtasks are done). */
export function claimTask(action: ActionScope): void {
  claimant = claimant === undefined || claimant === action ? action : AMBIGUOUS;
  claimTurnsLeft = CLAIM_TURNS;
  if (!claimClearing) {
    claimClearing = true;
    void clearClaimAfterTurns();
  }
}

function validDelay(value: unknown, fallback: number): number {
  return typeof value === 'number' && value >= 0 && value <= MAX_DELAY ? value : fallback;
}

function startTimer(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(callback, ms);
  // In Node, an open action never keeps the process alive.
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

export class ActionScope implements Action {
  readonly context: Context;
  ended = false;
  /** Operations given this action as parent whose settling the links have not reported yet. */
  pending = 0;
  readonly #onEnd: ((reason: ActionEndReason) => void) | undefined;
  readonly #timeout: ReturnType<typeof setTimeout>;
  readonly #idleTimeout: number | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(parent: unknown, options: PageActionOptions, page: boolean) {
    this.context = toContext(parent).setValue(ACTION_KEY, this);
    this.#onEnd = typeof options.onEnd === 'function' ? options.onEnd : undefined;
    this.#timeout = startTimer(() => this.finish('timeout'), validDelay(options.timeout, DEFAULT_TIMEOUT));
    if (page) {
      this.#idleTimeout = validDelay(options.idleTimeout, DEFAULT_IDLE_TIMEOUT);
      this.#idle = startTimer(() => this.finish('idle'), this.#idleTimeout);
    }
    openActions++;
  }

  run<T>(fn: () => T): T {
    if (!this.ended) claimTask(this);
    return context.with(this.context, fn);
  }

  end(): void {
    this.finish('ended');
  }

  /** An operation starts with this action as its parent. */
  operationStarted(): void {
    this.pending++;
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = startTimer(() => this.finish('idle'), this.#idleTimeout ?? DEFAULT_IDLE_TIMEOUT);
    }
  }

  /** One of its operations settled: once none is left by the end of this task, the action is done. */
  operationSettled(): void {
    if (this.pending === 0 || --this.pending > 0 || this.#idle !== undefined) return;
    // The continuations of this result may start more operations in this task's microtasks.
    startTimer(() => {
      if (this.pending === 0) this.finish('settled');
    }, 0);
  }

  finish(reason: ActionEndReason): void {
    if (this.ended) return;
    this.ended = true;
    openActions--;
    clearTimeout(this.#timeout);
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    if (pageAction === this) pageAction = undefined;
    if (!this.#onEnd) return;
    try {
      this.#onEnd(reason);
    } catch (error) {
      diag.error('otel-rpc-context: an action onEnd callback threw; ignoring it', error);
    }
  }
}

function toContext(parent: unknown): Context {
  if (isObject(parent)) {
    if (typeof parent.spanContext === 'function') return trace.setSpan(context.active(), parent as unknown as Span);
    if (typeof parent.getValue === 'function' && typeof parent.setValue === 'function') {
      return parent as unknown as Context;
    }
  }
  return context.active();
}

/** Whether any action is open: with none, the links' fallback costs one comparison. */
export function actionsOpen(): boolean {
  return openActions > 0;
}

/** Opens the page action, ending the one still open first (reason `'replaced'`). */
export function openPageAction(parent: unknown, options: PageActionOptions): ActionScope {
  pageAction?.finish('replaced');
  pageAction = new ActionScope(parent, options, true);
  return pageAction;
}

/** The action an operation starting now with no context of its own belongs to, if any. */
function currentAction(): ActionScope | undefined {
  if (claimant === AMBIGUOUS) return undefined;
  const action = claimant ?? pageAction;
  return action && !action.ended ? action : undefined;
}

function actionOf(ctx: Context): ActionScope | undefined {
  const action = ctx.getValue(ACTION_KEY);
  return action instanceof ActionScope ? action : undefined;
}

/**
 * The caller's context for an operation starting now: the active context, or, when it holds no span and no
 * baggage, the context of the action this task belongs to (see {@link startAction}). Every client link calls
 * it synchronously when an operation starts.
 */
export function callerContext(): Context {
  const active = context.active();
  if (openActions === 0) return active;
  const action = actionFor(active);
  if (!action) return active;
  action.operationStarted();
  return hasOwnContext(active) ? active : action.context;
}

/** A span or baggage: the caller's own context, which always wins over an action. */
function hasOwnContext(ctx: Context): boolean {
  return trace.getSpan(ctx) !== undefined || propagation.getBaggage(ctx) !== undefined;
}

/** The action an operation starting now in `active` belongs to: the one in its own context, else the fallback. */
export function actionFor(active: Context): ActionScope | undefined {
  if (hasOwnContext(active)) {
    const own = actionOf(active);
    return own && !own.ended ? own : undefined;
  }
  return currentAction();
}

/**
 * For client links: an operation whose caller context was `ctx` (from {@link callerContext}, or a context
 * derived from it) is about to deliver a result (`settled: false`) or its final result, error or completion
 * (`settled: true`). Call it before handing the event on: the operation's action, if still open, claims the
 * current task, so what the caller's code starts on that result (an invalidation refetch, Apollo's
 * `refetchQueries`) joins the action; and the action learns when its operations have settled.
 */
export function resumeCaller(ctx: Context, settled: boolean): void {
  if (openActions === 0) return;
  const action = actionOf(ctx);
  if (!action || action.ended) return;
  claimTask(action);
  if (settled) action.operationSettled();
}
