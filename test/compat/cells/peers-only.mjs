// In a project that installs only the listed peers: the given entry points import and require cleanly, and
// the core works without any other peer. argv: <entry point>...
import { createRequire } from 'node:module';
import { expectedExports } from './exports.mjs';

// lib.mjs needs OTel packages these variants lack on purpose, so the few helpers live here.
const check = (ok, message) => {
  if (!ok) throw new Error(`check failed: ${message}`);
};

const require = createRequire(import.meta.url);
try {
  const specifiers = process.argv.slice(2);
  for (const specifier of specifiers) {
    const esm = await import(specifier);
    const cjs = require(specifier);
    for (const name of expectedExports[specifier]) {
      check(esm[name] !== undefined && cjs[name] !== undefined, `${specifier} exports ${name} (import and require)`);
    }
  }
  const { dependencies } = require('../package.json');
  console.log(`ok: ${specifiers.join(', ')} with only ${Object.keys(dependencies).join(', ')} installed`);
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
