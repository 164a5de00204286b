// Importing one integration must not pull in another's framework: a Yoga server does not install Apollo
// Client, a browser bundle with the Apollo link must not carry Yoga or graphql.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Every runtime (non-`import type`) module specifier reachable from an entry file, following local imports. */
function runtimeImports(entry: string, seen = new Set<string>()): Set<string> {
  const found = new Set<string>();
  if (seen.has(entry)) return found;
  seen.add(entry);
  const text = readFileSync(join(src, entry), 'utf8');
  for (const match of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    const [, , typeOnly, specifier] = match;
    if (typeOnly || !specifier) continue;
    if (specifier.startsWith('.')) {
      const local = join(dirname(entry), specifier).replace(/\.js$/, '.ts');
      for (const nested of runtimeImports(local, seen)) found.add(nested);
    } else found.add(specifier);
  }
  return found;
}

describe('entry point isolation', () => {
  it('otel-rpc-context/yoga needs only @opentelemetry/api at runtime', () => {
    expect([...runtimeImports('yoga.ts')]).toEqual(['@opentelemetry/api']);
  });

  it('otel-rpc-context/apollo needs @opentelemetry/api and @apollo/client/core (in Apollo Client 3 and 4), nothing of Yoga or tRPC', () => {
    expect([...runtimeImports('apollo.ts')].sort()).toEqual(['@apollo/client/core', '@opentelemetry/api']);
  });

  it('otel-rpc-context/urql needs @opentelemetry/api and @urql/core, nothing of Apollo, Yoga, tRPC or wonka', () => {
    expect([...runtimeImports('urql.ts')].sort()).toEqual(['@opentelemetry/api', '@urql/core']);
  });
});
