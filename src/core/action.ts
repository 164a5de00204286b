// User actions: the context a client link gives an operation that starts with no context of its own.
//
// Browser context managers forget the active context across a native `await`, so an operation that a
// framework starts after one of its own awaits (TanStack Query's mutationFn, an invalidation refetch) reaches
// the link with an empty context. An action is the fallback for exactly those operations, and only for those
// it can vouch for:
// - a user action (startAction) claims the task that started it, and the tasks its own operations' results
//   resume it in. A claim lives for the microtasks of that one task and never survives into another task, so
//   a timer or another click, which always run as tasks of their own, can never see it.
// - a page action (startPageAction) is ambient: any context-less operation in a task no user action claims
//   joins it while it is open. It ends once no operation has started for `idleTimeout` ms.
// Every action ends at the latest `timeout` ms after it started.
import { type Context, context, type Span } from '@opentelemetry/api';
import { ActionScope, actionFor, actionsOpen, claimTask, openPageAction } from './action-scope.js';
import { isObject } from './carrier.js';

/**
 * Why an action ended, as passed to {@link ActionOptions.onEnd}: `'ended'` ({@link Action.end}), `'settled'`
 * (every operation it gave a parent to settled, where the link reports it), `'idle'` (a page action with no
 * new operation for `idleTimeout` ms), `'timeout'`, or `'replaced'` (a newer page action).
 *
 * @example
 * ```ts
 * startAction(span, {
 *   onEnd: (reason) => {
 *     span.setAttribute('app.action.end', reason);
 *     span.end();
 *   },
 * });
 * ```
 */
export type ActionEndReason = 'ended' | 'settled' | 'idle' | 'timeout' | 'replaced';

/**
 * Options for {@link startAction}. Every field is optional.
 *
 * @example
 * ```ts
 * startAction(span, { timeout: 5_000, onEnd: () => span.end() });
 * ```
 */
export interface ActionOptions {
  /**
   * Milliseconds after its start at which the action ends by itself, however busy it is: the bound on how
   * long it can give operations a parent. Values that are not a finite number ≥ 0 mean the default.
   * @default 10_000
   */
  timeout?: number;
  /**
   * Called once when the action ends, with the reason: `'ended'` ({@link Action.end}), `'settled'` (its
   * operations settled), `'idle'` (page actions), `'timeout'` or `'replaced'` (a newer page action). The place
   * to end the action's span. An exception it throws is reported through `diag` and goes no further.
   * @default none
   */
  onEnd?: (reason: ActionEndReason) => void;
}

/**
 * Options for {@link startPageAction}: those of {@link ActionOptions} plus an idle bound.
 *
 * @example
 * ```ts
 * startPageAction(pageSpan, { idleTimeout: 500, onEnd: () => pageSpan.end() });
 * ```
 */
export interface PageActionOptions extends ActionOptions {
  /**
   * Milliseconds without a new operation after which the page action ends (measured from its start, then
   * from each operation it gives a parent to). Values that are not a finite number ≥ 0 mean the default.
   * @default 1_000
   */
  idleTimeout?: number;
}

/**
 * An open user or page action: the context client links fall back to when an operation starts with no
 * span and no baggage in the active context (see {@link startAction}).
 *
 * @example
 * ```ts
 * const action = startAction(span, { onEnd: () => span.end() });
 * await save();
 * action.run(() => queryClient.invalidateQueries()); // after a task boundary: run it in the action
 * action.end();
 * ```
 */
export interface Action {
  /** The action's context: its parent context (with its span), which its operations get as their parent. */
  readonly context: Context;
  /** `true` once the action has ended; it then gives no operation a parent any more. */
  readonly ended: boolean;
  /**
   * Runs `fn` with {@link Action.context} active and returns what it returns. While the action is open, the
   * current task's later microtasks (what `fn` starts after its own awaits) fall back to it too. Use it for
   * follow-up work that starts in another task: after a timer, a response the links did not deliver, an event.
   */
  run<T>(fn: () => T): T;
  /** Ends the action now (reason `'ended'`). Ending twice does nothing. */
  end(): void;
}

/**
 * Opens a user action (a click, a key press, a form submit): until it ends, operations that start with no
 * span and no baggage in the active context get `parent` as their parent, in the tRPC, Apollo and urql links
 * of this package, provided they start
 * - in the task that called `startAction` (the event handler and its microtasks: the awaits of TanStack
 *   Query's `mutate`, Apollo's and urql's hooks before they reach the link), or
 * - in a task the action is resumed in: {@link Action.run}, a mutation's callbacks with
 *   {@link mutationCacheActions}, or a result of one of its own operations, where the link reports it.
 *
 * It never claims another task: a timer, a poll, another click or a render runs as a task of its own, so an
 * operation there stays a root (or joins the open page action, see {@link startPageAction}). When two
 * actions resume in the same task, an operation started there gets neither. The action ends with
 * {@link Action.end}, once the operations it gave a parent to have all settled (where the link reports it),
 * or after `options.timeout` ms (default 10 s), whichever comes first.
 *
 * `parent` is the action's span (its context becomes the active context plus the span) or a context.
 * Anything else means the active context. The action starts nothing and records nothing itself.
 *
 * @example
 * ```tsx
 * import { trace } from '@opentelemetry/api';
 * import { startAction } from 'otel-rpc-context';
 *
 * const tracer = trace.getTracer('web');
 * <button
 *   onClick={() => {
 *     const span = tracer.startSpan('click: create post');
 *     startAction(span, { onEnd: () => span.end() });
 *     createPost.mutate({ title }); // TanStack Query: the link sees no context, and falls back to the click
 *   }}
 * />;
 * ```
 */
export function startAction(parent: Span | Context, options: ActionOptions = {}): Action {
  const action = new ActionScope(parent, isObject(options) ? options : {}, false);
  claimTask(action);
  return action;
}

/**
 * Opens a page action for a page load or a route change: until it ends, every operation that starts with no
 * span and no baggage in the active context, in a task no user action claims, gets `parent` as its parent,
 * so the queries that hooks start while the page renders hang under one page span. It replaces the page
 * action still open (which ends with reason `'replaced'`), and ends once no operation has started for
 * `options.idleTimeout` ms (default 1 s), with {@link Action.end}, or after `options.timeout` ms (default
 * 10 s).
 *
 * A page action is ambient: a poll that ticks while it is open joins it too. Keep it to the page's first
 * operations (the defaults do), or end it yourself when the page is ready.
 *
 * @example
 * ```ts
 * import { trace } from '@opentelemetry/api';
 * import { startPageAction } from 'otel-rpc-context';
 *
 * const span = trace.getTracer('web').startSpan('page load: /posts');
 * startPageAction(span, { onEnd: () => span.end() });
 * createRoot(root).render(<App />); // useQuery calls: children of 'page load: /posts'
 * ```
 */
export function startPageAction(parent: Span | Context, options: PageActionOptions = {}): Action {
  const action = openPageAction(parent, isObject(options) ? options : {});
  claimTask(action);
  return action;
}

/**
 * The `MutationCache` callbacks that hand a mutation's action on to its own callbacks: `onMutate` records the
 * action the mutation started in, and `onSuccess` / `onError` resume it, so what the mutation's `onSuccess`,
 * `onError` and `onSettled` callbacks start (typically `invalidateQueries`, whose refetches start after the
 * response, in a task no action claimed) joins the action too. Works with TanStack Query 5; it imports
 * nothing from it.
 *
 * To keep callbacks of your own on the cache, call these first from yours.
 *
 * @example
 * ```ts
 * import { MutationCache, QueryClient } from '@tanstack/react-query';
 * import { mutationCacheActions } from 'otel-rpc-context';
 *
 * const queryClient = new QueryClient({ mutationCache: new MutationCache(mutationCacheActions()) });
 * ```
 */
export function mutationCacheActions(): {
  onMutate(variables: unknown, mutation: object): void;
  onSuccess(data: unknown, variables: unknown, onMutateResult: unknown, mutation: object): void;
  onError(error: unknown, variables: unknown, onMutateResult: unknown, mutation: object): void;
} {
  const actions = new WeakMap<object, ActionScope>();
  const resume = (mutation: unknown) => {
    if (!actionsOpen() || !isObject(mutation)) return;
    const action = actions.get(mutation);
    if (action && !action.ended) claimTask(action);
  };
  return {
    onMutate(_variables, mutation) {
      if (!actionsOpen() || !isObject(mutation)) return;
      const action = actionFor(context.active());
      if (action) actions.set(mutation, action);
    },
    onSuccess: (_data, _variables, _onMutateResult, mutation) => resume(mutation),
    onError: (_error, _variables, _onMutateResult, mutation) => resume(mutation),
  };
}
