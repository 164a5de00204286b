// The lifetime rules of user and page actions, without a network: the browser's StackContextManager (which
// forgets the active context across every `await`), real spans, and the links' two calls (callerContext when
// an operation starts, resumeCaller when it delivers) made by hand.
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { StackContextManager } from '@opentelemetry/sdk-trace-web';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Action } from '../src/core/action.js';
import { callerContext, resumeCaller } from '../src/core/action-scope.js';
import { mutationCacheActions, startAction, startPageAction } from '../src/index.js';

const tracer = new BasicTracerProvider().getTracer('action-test');
const open: Action[] = [];

beforeAll(() => {
  context.disable();
  context.setGlobalContextManager(new StackContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterEach(() => {
  for (const action of open.splice(0)) action.end();
});
// Each test starts in a task of its own, as an event handler does (a claim of the previous test's task
// would otherwise still be there: vitest starts the next test in the same task's microtasks).
beforeEach(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));

function span(name: string): Span {
  return tracer.startSpan(name, {}, ROOT_CONTEXT);
}
function click(name: string, options = {}): { span: Span; action: Action } {
  const s = span(name);
  const action = startAction(s, options);
  open.push(action);
  return { span: s, action };
}
/** The span id an operation starting now would get as its parent, or 'root'. */
function parentOfOperation(): string {
  return trace.getSpan(callerContext())?.spanContext().spanId ?? 'root';
}
const id = (s: Span) => s.spanContext().spanId;
/** A framework's internal chain of awaits (TanStack Query's mutate → mutationFn is a few of these). */
async function awaits(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}
/** The next task: what a timer, a network response or another click runs in. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('no action open', () => {
  it('returns the active context itself', () => {
    expect(callerContext()).toBe(ROOT_CONTEXT);
    const ctx = trace.setSpan(ROOT_CONTEXT, span('caller'));
    expect(context.with(ctx, callerContext)).toBe(ctx);
  });
});

describe('a user action', () => {
  it('gives operations its span across the awaits of the task that started it', async () => {
    const { span: s } = click('click');
    expect(parentOfOperation()).toBe(id(s));
    await awaits(40);
    expect(context.active()).toBe(ROOT_CONTEXT); // the context manager forgot it
    expect(parentOfOperation()).toBe(id(s));
  });

  it('never reaches into another task: a timer poll started while it is open stays a root', async () => {
    const { span: s } = click('click');
    const poll = new Promise<string>((resolve) => setTimeout(() => resolve(parentOfOperation()), 0));
    const interval = await new Promise<string[]>((resolve) => {
      const seen: string[] = [];
      const timer = setInterval(() => {
        seen.push(parentOfOperation());
        if (seen.length === 3) {
          clearInterval(timer);
          resolve(seen);
        }
      }, 1);
    });
    expect(await poll).toBe('root');
    expect(interval).toEqual(['root', 'root', 'root']);
    // …while the action is still open and its own task's continuations still see it.
    expect(open[0]?.ended).toBe(false);
    await nextTask();
    expect(parentOfOperation()).toBe('root');
    open[0]?.run(() => expect(parentOfOperation()).toBe(id(s)));
  });

  it('a long chain of awaits ends unattributed, never in another task', async () => {
    click('click');
    await awaits(2_000);
    expect(parentOfOperation()).toBe('root');
  });

  it('two overlapping clicks each keep their own operations, across their results', async () => {
    const first = click('first');
    const firstOp = callerContext();
    await nextTask();
    const second = click('second');
    const secondOp = callerContext();
    await awaits(5);
    expect(parentOfOperation()).toBe(id(second.span));
    // The results arrive in separate tasks, second first.
    await nextTask();
    resumeCaller(trace.setSpan(secondOp, span('client: second')), false);
    await awaits(20);
    expect(parentOfOperation()).toBe(id(second.span));
    await nextTask();
    resumeCaller(trace.setSpan(firstOp, span('client: first')), false);
    await awaits(20);
    expect(parentOfOperation()).toBe(id(first.span));
    await nextTask();
    expect(parentOfOperation()).toBe('root');
  });

  it('when two actions resume in the same task, an operation there gets neither', async () => {
    const first = click('first');
    const firstOp = callerContext();
    await nextTask();
    click('second');
    const secondOp = callerContext();
    await nextTask();
    resumeCaller(firstOp, false);
    expect(parentOfOperation()).toBe(id(first.span));
    resumeCaller(secondOp, false);
    expect(parentOfOperation()).toBe('root');
    await awaits(3);
    expect(parentOfOperation()).toBe('root');
  });

  it('two actions opened in one task (nested handlers of one event) share it with neither', async () => {
    const button = click('click: button');
    expect(parentOfOperation()).toBe(id(button.span));
    click('submit: form');
    expect(parentOfOperation()).toBe('root');
    await awaits(3);
    expect(parentOfOperation()).toBe('root');
    // Each still has its own context for what runs in it explicitly.
    expect(button.action.run(() => parentOfOperation())).toBe(id(button.span));
  });

  it("the caller's own span or baggage always wins", async () => {
    click('click');
    const own = trace.setSpan(ROOT_CONTEXT, span('own'));
    expect(context.with(own, callerContext)).toBe(own);
    const baggage = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ tenant: { value: 'acme' } }));
    expect(context.with(baggage, callerContext)).toBe(baggage);
  });

  it('ends after its timeout, then gives no parent and cannot be resumed', async () => {
    const onEnd = vi.fn();
    const { span: s, action } = click('click', { timeout: 20, onEnd });
    const op = callerContext();
    await sleep(40);
    expect(action.ended).toBe(true);
    expect(onEnd).toHaveBeenCalledExactlyOnceWith('timeout');
    resumeCaller(op, false);
    expect(parentOfOperation()).toBe('root');
    // run() still runs in its context (the caller asked for it), but claims nothing after the first await.
    await action.run(async () => {
      expect(parentOfOperation()).not.toBe('root');
      expect(parentOfOperation()).toBe(id(s));
      await null;
      expect(parentOfOperation()).toBe('root');
    });
  });

  it('ends once the operations it gave a parent to have settled, after their continuations', async () => {
    const onEnd = vi.fn();
    const { span: s, action } = click('click', { onEnd });
    const mutation = callerContext();
    await nextTask();
    resumeCaller(mutation, true);
    // The mutation's success callback starts the refetch in this task's microtasks.
    await awaits(10);
    const refetch = callerContext();
    expect(trace.getSpan(refetch)?.spanContext().spanId).toBe(id(s));
    await nextTask();
    expect(onEnd).not.toHaveBeenCalled();
    resumeCaller(refetch, true);
    await nextTask();
    expect(onEnd).toHaveBeenCalledExactlyOnceWith('settled');
    expect(action.ended).toBe(true);
  });

  it('end() ends it once and calls onEnd once; an onEnd that throws goes no further', async () => {
    const onEnd = vi.fn(() => {
      throw new Error('boom');
    });
    const { action } = click('click', { onEnd });
    expect(() => action.end()).not.toThrow();
    action.end();
    expect(onEnd).toHaveBeenCalledExactlyOnceWith('ended');
    expect(parentOfOperation()).toBe('root');
  });

  it('ignores bad input: not a span or context, nonsense options', async () => {
    for (const parent of [null, undefined, 42, 'span', {}, [], { spanContext: 1 }, Object.create(null)]) {
      const action = startAction(parent as unknown as Span, { timeout: -1, onEnd: 'x' as never });
      open.push(action);
      expect(action.context.getValue).toBeTypeOf('function');
      // Nothing usable as a parent: the action's context holds no span and no baggage.
      expect(trace.getSpan(action.context)).toBeUndefined();
      expect(propagation.getBaggage(action.context)).toBeUndefined();
      expect(parentOfOperation()).toBe('root');
    }
    for (const options of [null, 5, 'x', { timeout: Number.NaN }, { timeout: '5' }, { timeout: 2 ** 40 }]) {
      const action = startAction(span('odd options'), options as never);
      open.push(action);
      expect(action.ended).toBe(false);
    }
    const polluted = JSON.parse('{"__proto__": {"timeout": 1}, "onEnd": null}');
    const action = startAction(span('polluted'), polluted);
    open.push(action);
    await sleep(5);
    expect(action.ended).toBe(false);
    expect(() => resumeCaller(ROOT_CONTEXT, true)).not.toThrow();
  });

  it('a context as parent: its values travel, and the action itself is not visible on the wire', () => {
    const parent = trace.setSpan(ROOT_CONTEXT, span('parent'));
    const action = startAction(parent);
    open.push(action);
    const carrier: Record<string, string> = {};
    propagation.inject(callerContext(), carrier);
    expect(carrier.traceparent).toContain(trace.getSpan(parent)!.spanContext().traceId);
    const { traceId, spanId } = trace.getSpan(parent)!.spanContext();
    expect(carrier.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    expect(Object.keys(carrier)).toEqual(['traceparent']);
  });
});

describe('a page action', () => {
  it('gives every context-less operation a parent while open, then ends when idle', async () => {
    const onEnd = vi.fn();
    const page = span('page load');
    const action = startPageAction(page, { idleTimeout: 30, onEnd });
    open.push(action);
    // Hook queries start in render tasks of their own.
    await nextTask();
    expect(parentOfOperation()).toBe(id(page));
    await sleep(10);
    expect(parentOfOperation()).toBe(id(page));
    await sleep(60);
    expect(onEnd).toHaveBeenCalledExactlyOnceWith('idle');
    expect(parentOfOperation()).toBe('root');
  });

  it('a click claims its own task over the page; ambiguous tasks get neither', async () => {
    const page = span('page');
    open.push(startPageAction(page));
    await nextTask();
    const { span: s } = click('click');
    const clickOp = callerContext();
    await awaits(3);
    expect(parentOfOperation()).toBe(id(s));
    await nextTask();
    expect(parentOfOperation()).toBe(id(page));
    const other = click('other');
    await nextTask();
    resumeCaller(clickOp, false);
    resumeCaller(other.action.context, false);
    expect(parentOfOperation()).toBe('root');
  });

  it('a route change replaces the open page action', async () => {
    const onEnd = vi.fn();
    const first = startPageAction(span('page: /'), { onEnd });
    open.push(first);
    const route = span('route: /posts');
    open.push(startPageAction(route));
    expect(onEnd).toHaveBeenCalledExactlyOnceWith('replaced');
    await nextTask();
    expect(parentOfOperation()).toBe(id(route));
  });
});

describe('mutationCacheActions', () => {
  /** What TanStack Query 5 does in Mutation.execute, with the awaits that lose the context. */
  async function mutate(callbacks: ReturnType<typeof mutationCacheActions>, onSuccess: () => void) {
    const mutation = {};
    await callbacks.onMutate({}, mutation);
    await null;
    const op = callerContext(); // mutationFn → the link
    await nextTask(); // the response
    await callbacks.onSuccess({}, {}, undefined, mutation);
    await null;
    onSuccess(); // the user's onSuccess: invalidateQueries → refetch → the link
    return op;
  }

  it("resumes the mutation's action in its success callbacks, in the response's task", async () => {
    const callbacks = mutationCacheActions();
    const { span: s } = click('click: save');
    let refetchParent = '';
    const op = await mutate(callbacks, () => {
      refetchParent = parentOfOperation();
    });
    expect(trace.getSpan(op)?.spanContext().spanId).toBe(id(s));
    expect(refetchParent).toBe(id(s));
  });

  it('a mutation started outside any action stays a root, as does its refetch', async () => {
    const callbacks = mutationCacheActions();
    click('an unrelated click, still open');
    await nextTask();
    let refetchParent = '';
    const op = await mutate(callbacks, () => {
      refetchParent = parentOfOperation();
    });
    expect(trace.getSpan(op)).toBeUndefined();
    expect(refetchParent).toBe('root');
  });

  it('ignores what is not a mutation', () => {
    const callbacks = mutationCacheActions();
    click('click');
    for (const bad of [null, undefined, 1, 'm']) {
      expect(() => callbacks.onMutate({}, bad as never)).not.toThrow();
      expect(() => callbacks.onSuccess({}, {}, undefined, bad as never)).not.toThrow();
      expect(() => callbacks.onError(new Error('x'), {}, undefined, bad as never)).not.toThrow();
    }
  });
});
