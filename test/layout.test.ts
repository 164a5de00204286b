// The layout README "How it is built" describes, checked: imports only point down (entry files → their folder →
// the protocol's shared files → src/core/), adapters never import each other, entry files only re-export, and
// no file grows past what a reviewer reads at a glance. Reads src/ as text; nothing runs.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));
/** "About 200 lines" (#16), with room for a TSDoc paragraph. */
const MAX_LINES = 220;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const files = sourceFiles(src).map((file) => {
  const text = readFileSync(file, 'utf8');
  const relative = path.relative(src, file).split(path.sep).join('/');
  // `import … from`, `export … from`, a bare `import '…'` and a dynamic `import('…')`.
  const specifiers = [
    ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'|\bimport\(\s*'([^']+)'/gms),
  ].map((match) => match[1] ?? match[2] ?? match[3] ?? '');
  const ours = specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) =>
      path
        .relative(src, path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')))
        .split(path.sep)
        .join('/'),
    );
  const packages = specifiers.filter((specifier) => !specifier.startsWith('.'));
  return { relative, text, ours, packages };
});

const isEntry = (file: string) => !file.includes('/');
/** `graphql/apollo/link.ts` → `graphql/apollo`; `graphql/client.ts` → `graphql`; `core/x.ts` → `core`. */
const folderOf = (file: string) => path.posix.dirname(file);

/** Each entry file's own folder. */
const ENTRY_FOLDERS: Record<string, string> = {
  'index.ts': 'core',
  'trpc.ts': 'trpc',
  'apollo.ts': 'graphql/apollo',
  'urql.ts': 'graphql/urql',
  'yoga.ts': 'graphql/yoga',
  'apollo-server.ts': 'graphql/apollo-server',
  'graphql-ws.ts': 'graphql/graphql-ws',
};

/** Where a file may import from, by its folder: its own folder, and the layers below it. */
function allowed(file: string): (target: string) => boolean {
  const folder = folderOf(file);
  if (isEntry(file)) {
    // An entry file re-exports its own adapter folder and the shared layers below it, never another adapter.
    const own = ENTRY_FOLDERS[file];
    const shared = own?.startsWith('graphql/') ? ['core', 'graphql', own] : ['core', own];
    return (target) => shared.includes(folderOf(target));
  }
  if (folder === 'core') return (target) => folderOf(target) === 'core';
  if (folder === 'trpc') return (target) => ['core', 'trpc'].includes(folderOf(target));
  if (folder === 'graphql') return (target) => ['core', 'graphql'].includes(folderOf(target));
  if (folder.startsWith('graphql/')) return (target) => ['core', 'graphql', folder].includes(folderOf(target));
  return () => false;
}

describe('src/ layout (README, How it is built)', () => {
  it('finds the layers it checks', () => {
    const folders = new Set(files.map((file) => folderOf(file.relative)));
    expect([...folders].sort()).toEqual([
      '.',
      'core',
      'graphql',
      'graphql/apollo',
      'graphql/apollo-server',
      'graphql/graphql-ws',
      'graphql/urql',
      'graphql/yoga',
      'trpc',
    ]);
    expect(files.filter((file) => isEntry(file.relative)).map((file) => file.relative)).toEqual([
      'apollo-server.ts',
      'apollo.ts',
      'graphql-ws.ts',
      'index.ts',
      'trpc.ts',
      'urql.ts',
      'yoga.ts',
    ]);
  });

  it('imports only point down: core ← trpc and graphql shared ← each GraphQL adapter ← entry files', () => {
    // The reader sees the imports: every adapter reaches the core, every entry file its folder.
    expect(files.find((file) => file.relative === 'graphql/yoga/plugin.ts')?.ours).toContain(
      'graphql/yoga/operations.ts',
    );
    expect(files.find((file) => file.relative === 'trpc.ts')?.ours).toContain('trpc/link.ts');
    const wrong = files.flatMap((file) => {
      const ok = allowed(file.relative);
      return file.ours.filter((target) => !ok(target)).map((target) => `${file.relative} imports ${target}`);
    });
    expect(wrong).toEqual([]);
  });

  it('src/core/ needs nothing but @opentelemetry/api; no file imports a package it does not name as a peer', () => {
    const peers = new Set(
      Object.keys(
        (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { peerDependencies: object })
          .peerDependencies,
      ),
    );
    const packageOf = (specifier: string) =>
      specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');
    const wrong = files.flatMap((file) =>
      file.packages
        .filter((specifier) =>
          folderOf(file.relative) === 'core' ? specifier !== '@opentelemetry/api' : !peers.has(packageOf(specifier)),
        )
        .map((specifier) => `${file.relative} imports ${specifier}`),
    );
    expect(wrong).toEqual([]);
  });

  it('entry files only re-export', () => {
    const wrong = files
      .filter((file) => isEntry(file.relative))
      .filter((file) => {
        const code = file.text
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/^\s*\/\/.*$/gm, '')
          .replace(/export\s+(?:type\s+)?\{[^}]*\}\s+from\s+'[^']+';/g, '');
        return code.trim() !== '';
      })
      .map((file) => file.relative);
    expect(wrong).toEqual([]);
  });

  it(`no file in src/ passes ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file: file.relative, lines: file.text.split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
