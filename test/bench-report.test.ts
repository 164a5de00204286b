// The benchmark report's showing rules (bench/check-report.mjs, on made-up results): a busy start said at the
// top and kept out of the README, the A/A spread beside every ratio, `spans: false` inversions flagged, the OTel
// floor beside ours and in each target's verdict. Run here so `npm test` keeps them true between bench runs.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

it('renders BENCHMARKS.md and the README table by their rules', () => {
  const output = execFileSync(process.execPath, [path.join(root, 'bench', 'check-report.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(output).toContain('bench/report.mjs: all checks passed');
});
