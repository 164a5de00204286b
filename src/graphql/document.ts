// Reading a parsed GraphQL document by shape (graphql is never imported for it): which operation it runs,
// and that operation's type and name.

interface DefinitionLike {
  kind?: unknown;
  operation?: unknown;
  name?: { value?: unknown } | null;
}

/**
 * The type (`query`, `mutation`, `subscription`) of the operation a document runs: the definition named
 * `operationName`, else the document's only operation. `undefined` when that cannot be told.
 */
export function documentOperationType(
  document: { definitions?: readonly unknown[] } | null | undefined,
  operationName: string | null | undefined,
): string | undefined {
  const definitions = document?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  let found: DefinitionLike | undefined;
  for (const definition of definitions as DefinitionLike[]) {
    if (definition?.kind !== 'OperationDefinition') continue;
    if (operationName ? definition.name?.value === operationName : true) {
      if (found && !operationName) return undefined; // several operations and no name: the server rejects it
      found = definition;
      if (operationName) break;
    }
  }
  return typeof found?.operation === 'string' ? found.operation : undefined;
}

/** The name of a document's first operation (what urql names an operation by), or `undefined`. */
export function documentOperationName(
  document: { definitions?: readonly unknown[] } | null | undefined,
): string | undefined {
  const definitions = document?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  for (const definition of definitions as DefinitionLike[]) {
    if (definition?.kind !== 'OperationDefinition') continue;
    const name = definition.name?.value;
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  }
  return undefined;
}

interface DocumentLike {
  definitions?: readonly { kind?: string; operation?: string; name?: { value?: string } }[];
}

/**
 * The operation a document runs: the one named `operationName`, or its only operation. A tiny stand-in for
 * graphql's `getOperationAST`, so that the Yoga and graphql-ws entry points import nothing from graphql at runtime.
 */
export function findOperation(document: unknown, operationName: unknown) {
  const definitions = (document as DocumentLike | undefined)?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  const operations = definitions.filter((definition) => definition?.kind === 'OperationDefinition');
  if (typeof operationName === 'string' && operationName) {
    return operations.find((definition) => definition.name?.value === operationName);
  }
  return operations.length === 1 ? operations[0] : undefined;
}
