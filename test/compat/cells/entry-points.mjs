// Imports and requires every entry point of the packed package and checks its public names.
import { createRequire } from 'node:module';
import { check, done, expectedExports, fail, unsupported } from './lib.mjs';

const require = createRequire(import.meta.url);
const pending = [];
try {
  for (const [specifier, names] of Object.entries(expectedExports)) {
    const esm = await import(specifier);
    const cjs = require(specifier);
    if (Object.keys(esm).length === 0 && specifier !== 'otel-rpc-context') {
      pending.push(specifier);
      continue;
    }
    for (const name of names) {
      check(esm[name] !== undefined, `import('${specifier}') exports ${name}`);
      check(cjs[name] !== undefined, `require('${specifier}') exports ${name}`);
    }
  }
  if (pending.length === 3) unsupported(`integration entry points not implemented yet: ${pending.join(', ')}`);
  if (pending.length) fail(new Error(`entry points still empty: ${pending.join(', ')}`));
  done(`import and require of ${Object.keys(expectedExports).length} entry points on Node ${process.versions.node}`);
} catch (error) {
  fail(error);
}
