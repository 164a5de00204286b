// Where TraceContextLink puts an operation's carrier: its `extensions` and/or the headers of its context, as
// `carrierSlots` decides from whether Apollo's HttpLink will send the operation as GET.
import type { ContextCarrier } from '../../core/carrier.js';
import { carrierSlots } from '../client-carrier.js';
import { withTraceContextExtension } from '../shared.js';
import type { LinkConfig } from './options.js';

/** What the link reads of an operation: the part Apollo Client 3 and 4 have in common. */
export interface OperationLike {
  query: { definitions?: readonly unknown[]; loc?: { source?: { body?: string } } | null };
  operationName?: string | null;
  /** Apollo Client 4 only; on 3 the type is read from the document. */
  operationType?: string;
  variables?: unknown;
  extensions: Record<string, unknown>;
  getContext(): Record<string, unknown>;
  setContext(update: (previous: Record<string, unknown>) => Record<string, unknown>): void;
}

/** Marks, in an operation's context, that `propagate` said no: `traceContextBatchKey` batches it apart. */
export const NO_CARRIER = Symbol.for('otel-rpc-context.apollo.noCarrier');

/** Whether the terminating `HttpLink` will send this operation as GET, judged the way it judges. */
function isGet(operation: OperationLike, type: string, useGETForQueries: boolean): boolean {
  const method = (operation.getContext() as { fetchOptions?: { method?: unknown } }).fetchOptions?.method;
  if (typeof method === 'string') return method.toUpperCase() === 'GET';
  // Only queries: a subscription routed to GraphQLWsLink or SSE by a split link never goes as GET.
  return useGETForQueries && type === 'query';
}

/**
 * Puts `carrier` on the operation: in `extensions` and/or its context's `headers`. `undefined` (`propagate`
 * said no) puts nothing there and marks the operation {@link NO_CARRIER}.
 */
export function attachCarrier(
  operation: OperationLike,
  type: string,
  carrier: ContextCarrier | undefined,
  config: LinkConfig,
): void {
  if (carrier === undefined) {
    operation.setContext(() => ({ [NO_CARRIER]: true }));
    return;
  }
  const slots = carrierSlots(carrier, isGet(operation, type, config.useGETForQueries), config);
  if (slots.extensions) {
    // A fresh object: the caller's `extensions` may be shared with other operations. Always set, `{}`
    // included: in a batch, an operation's own slot is authoritative.
    operation.extensions = withTraceContextExtension(operation.extensions, carrier);
  }
  if (!slots.extensions && !slots.headers) return;
  operation.setContext((previous) => {
    const update: Record<string, unknown> = {};
    // Apollo Client 3's HttpLink and BatchHttpLink leave `extensions` out unless asked (4 sends them).
    const http = previous.http as { includeExtensions?: boolean } | undefined;
    if (slots.extensions && http?.includeExtensions !== true) update.http = { ...http, includeExtensions: true };
    if (slots.headers) update.headers = { ...(previous.headers as Record<string, string> | undefined), ...carrier };
    return update;
  });
}
