// Builds ESM and CommonJS with tsc alone: the least machinery that gives both formats and declarations.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = (...args) => execFileSync('tsc', args, { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('-p', 'tsconfig.build.json');
tsc('-p', 'tsconfig.build.json', '--module', 'commonjs', '--moduleResolution', 'node10', '--outDir', 'dist/cjs');
// Marks dist/cjs as CommonJS so Node and TypeScript read its .js and .d.ts files as such.
writeFileSync('dist/cjs/package.json', `${JSON.stringify({ type: 'commonjs' })}\n`);
