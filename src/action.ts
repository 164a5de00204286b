// The context a client link gives an operation when it starts. Issue 17 (user actions across framework
// awaits) fills in the fallback; every client link calls this one function instead of context.active().
import { type Context, context } from '@opentelemetry/api';

/** The caller's context for an operation starting now: the active context. */
export function callerContext(): Context {
  return context.active();
}
