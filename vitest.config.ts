import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 has no `exports` map: Vite resolves its `module` field (index.mjs) for our sources, while
    // Node resolves `main` (index.js) for Apollo Server, Yoga and graphql-ws in node_modules. Two copies of
    // graphql then reject each other's schemas ("from another module or realm"). Installed, the package is
    // resolved by Node (or by a bundler) for everything at once, so one copy: the alias makes tests do the same.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'examples/fullstack/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
