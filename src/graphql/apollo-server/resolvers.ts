// Apollo Server plugins observe a request but cannot wrap its execution, and graphql-js calls each field's
// resolver from a promise callback it registered itself, outside anything a plugin could make active. So the
// schema's resolvers are wrapped once: each call finds its operation by the GraphQL context value and runs
// inside the operation's context. Module-level, so two plugins (or two servers) on one schema share one wrap.
import { type Context, context as contextApi } from '@opentelemetry/api';
import { isObject } from '../../core/carrier.js';

/** What a wrapped resolver needs of an operation: the context to run in. */
export interface ResolverScope {
  context: Context;
}

/** Operation scopes by the GraphQL context value Apollo Server made for the operation (one per operation). */
export const scopes = new WeakMap<object, ResolverScope>();

type Resolver = (this: unknown, source: unknown, args: unknown, contextValue: unknown, info: unknown) => unknown;

/** Schemas executed inside their operation's context as a whole (`traceContextGateway`): nothing to wrap. */
export const runsInOperationContext = new WeakSet<object>();

const wrappedResolvers = new WeakSet<Resolver>();
const wrappedSchemas = new WeakSet<object>();

function wrap(resolve: Resolver): Resolver {
  // One function per field, made once: per call only a WeakMap lookup, and `context.with` for operations
  // that have a scope. No closure or object is allocated per call.
  const wrapped: Resolver = function (this: unknown, source, args, contextValue, info) {
    const scope = scopes.get(contextValue as object);
    return scope === undefined
      ? resolve.call(this, source, args, contextValue, info)
      : contextApi.with(scope.context, resolve, this, source, args, contextValue, info);
  };
  wrappedResolvers.add(wrapped);
  return wrapped;
}

interface FieldLike {
  resolve?: unknown;
}

/**
 * Wraps, in place, every field resolver of a graphql-js schema (read by shape, so graphql is not imported).
 * Fields without a resolver (graphql-js's default property read) are left alone: they run no code of yours
 * unless a parent returns functions or getters as field values. Idempotent; never throws.
 */
export function wrapSchemaResolvers(schema: unknown): void {
  if (!isObject(schema) || wrappedSchemas.has(schema) || runsInOperationContext.has(schema)) return;
  try {
    const getTypeMap = (schema as { getTypeMap?: unknown }).getTypeMap;
    if (typeof getTypeMap !== 'function') return;
    const typeMap = getTypeMap.call(schema) as Record<string, unknown>;
    for (const name of Object.keys(typeMap)) {
      if (name.startsWith('__')) continue;
      const type = typeMap[name] as { getFields?: unknown } | undefined;
      if (!isObject(type) || typeof type.getFields !== 'function') continue;
      const fields = type.getFields.call(type) as Record<string, FieldLike>;
      for (const fieldName of Object.keys(fields)) {
        const field = fields[fieldName];
        const resolve = field?.resolve;
        if (typeof resolve === 'function' && !wrappedResolvers.has(resolve as Resolver)) {
          (field as FieldLike).resolve = wrap(resolve as Resolver);
        }
      }
    }
    wrappedSchemas.add(schema);
  } catch {
    // A schema we cannot read keeps its resolvers; operations still get their spans.
  }
}
