/**
 * `otel-rpc-context`: the core. {@link getContext} serializes the active context into a carrier,
 * {@link attachContext} runs a function inside the context a carrier holds; actions give browser clicks a trace.
 * @module
 */
export {
  type Action,
  type ActionEndReason,
  type ActionOptions,
  mutationCacheActions,
  type PageActionOptions,
  startAction,
  startPageAction,
} from './core/action.js';
export { type CarrierInput, type ContextCarrier, type HeadersLike, toContextCarrier } from './core/carrier.js';
export {
  type AttachContextOptions,
  attachContext,
  extractContext,
  type GetContextOptions,
  getContext,
} from './core/context.js';
export type { OperationOutcome, SpanOptions } from './core/span-options.js';
