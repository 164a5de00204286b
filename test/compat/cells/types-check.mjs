// Type-checks a tiny consumer project per module-resolution mode against the packed package's declarations.
// argv: <tsc.js> <mode>, mode one of node16-esm, node16-cjs, bundler, node10.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { done, expectedExports, fail, unsupported } from './lib.mjs';

const [tsc, mode] = process.argv.slice(2);
const dir = join(process.cwd(), `types-${mode}`);
try {
  // Entry points that are still placeholders are checked for resolution only.
  const entries = {};
  for (const [specifier, names] of Object.entries(expectedExports)) {
    const mod = await import(specifier);
    entries[specifier] = names.every((n) => n in mod) ? names : [];
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const esm = mode === 'node16-esm' || mode === 'bundler';
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: esm ? 'module' : 'commonjs' }));
  const compilerOptions = {
    bundler: { module: 'preserve', moduleResolution: 'bundler' },
    // TypeScript's default for `module: commonjs`: package.json exports are not read.
    node10: { module: 'commonjs', moduleResolution: 'node10' },
  }[mode] ?? { module: 'node16', moduleResolution: 'node16' };
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        ...compilerOptions,
        target: 'es2022',
        lib: ['es2022', 'dom'],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      },
      files: ['index.ts'],
    }),
  );
  const lines = [];
  let i = 0;
  for (const [specifier, names] of Object.entries(entries)) {
    const alias = `m${i++}`;
    lines.push(`import * as ${alias} from '${specifier}';`);
    // Each public name must be typed (not any): assigning it to a number must be an error.
    for (const name of names)
      lines.push(`// @ts-expect-error ${name} is typed\nexport const ${alias}_${name}: number = ${alias}.${name};`);
    lines.push(`export { ${alias} };`);
  }
  lines.push(
    "import { getContext, attachContext, type ContextCarrier } from 'otel-rpc-context';",
    'const carrier: ContextCarrier = getContext();',
    'export const n: number = attachContext(carrier, () => 1);',
    '// @ts-expect-error the carrier holds strings',
    'export const bad: number = carrier.traceparent;',
  );
  const peers = ['@trpc/server', '@trpc/server/observable', '@trpc/client', '@apollo/client/link', 'graphql-yoga'];
  // Under node10, also whether the peers themselves resolve (if they do not, neither could this package).
  if (mode === 'node10') lines.push(...peers.map((p, n) => `export * as peer${n} from '${p}';`));
  writeFileSync(join(dir, 'index.ts'), `${lines.join('\n')}\n`);
  // skipLibCheck is off so the package's own .d.ts files are checked too; errors inside other packages'
  // declarations (they assume Node or DOM types this bare project leaves out) are not ours and are ignored.
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    if (!output) throw error;
  }
  const ours = output
    .split('\n')
    .filter((line) => /(^|\/)(index\.ts|node_modules\/otel-rpc-context\/[^(]*)\(\d+,\d+\): error/.test(line));
  const unresolved = [...output.matchAll(/Cannot find module '(otel-rpc-context\/\w+)'/g)].map((m) => m[1]);
  if (mode === 'node10' && unresolved.length > 0) {
    unsupported(
      `under moduleResolution node10 (TypeScript's default for module commonjs) the subpath entry points ` +
        `${[...new Set(unresolved)].join(', ')} do not resolve: the package has no typesVersions ` +
        `(${/Cannot find module '@|Cannot find module 'graphql-yoga/.test(output) ? 'some peers do not resolve there either' : `its peers ${peers.join(', ')} all resolve there`}); the root entry point does`,
    );
  }
  if (ours.length > 0)
    fail(new Error(`type errors in the consumer or the package's declarations:\n${ours.join('\n')}`));
  const pending = Object.values(entries).filter((n) => n.length === 0).length;
  if (pending === 3) unsupported(`integration entry points not implemented yet (core types resolve under ${mode})`);
  done(`tsc ${mode}: ${Object.keys(entries).length} entry points resolve with typed exports`);
} catch (error) {
  fail(error.stdout ? `${error.stdout}${error.stderr}` : error);
}
