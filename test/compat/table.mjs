#!/usr/bin/env node
// Writes the support table of docs/compatibility.md from a compat results file, between <!-- section:compat -->
// and <!-- /section:compat -->, touching nothing else (README.md has a short summary that links to it), and keeps a copy of the results in test/compat/results.json.
//
//   node test/compat/table.mjs [results.json]   (default: the last run's, in the compat cache folder)
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const cache = resolve(process.env.COMPAT_CACHE ?? join(homedir(), '.cache', 'otel-rpc-context-compat'));
const source = process.argv[2] ?? join(cache, 'results.json');
const summary = JSON.parse(readFileSync(source, 'utf8'));

const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const mark = { pass: '✅ pass', fail: '❌ fail', unsupported: '➖ not supported' };
const count = (s) => summary.results.filter((r) => r.status === s).length;

const lines = [
  '',
  'Every cell is a test that ran against the packed tarball (`npm pack`, unpacked into a project of its own',
  'with exactly the listed versions), or is marked not supported with the reason. `npm run test:compat` runs',
  'them (installs are cached per variant in `~/.cache/otel-rpc-context-compat`) and `npm run compat:table`',
  'writes this table from its results (into this file, between its section markers). On the 2-core CI machine',
  'a cold run (empty caches, every package downloaded) takes about 80 s, a warm one about 30 s.',
  '`npm run test:compat -- --only=chromium` runs the cells whose id contains `chromium`; the ids are in the',
  'details below the table.',
  '',
  `Last run ${summary.generated.slice(0, 10)}, package ${summary.package}: ${count('pass')} passed, ` +
    `${count('fail')} failed, ${count('unsupported')} not supported, ${summary.seconds} s in all.`,
  '',
  '| Area | Versions | What the test does | Result |',
  '| --- | --- | --- | --- |',
];
for (const r of summary.results) {
  const result = r.status === 'pass' ? mark.pass : `${mark[r.status]}: ${cell(r.detail)}`;
  lines.push(`| ${cell(r.area)} | ${cell(r.versions)} | ${cell(r.what)} | ${result} |`);
}

lines.push(
  '',
  '<details><summary>What each cell saw (exact versions)</summary>',
  '',
  ...summary.results.map((r) => `- \`${r.id}\` (${r.status}, ${r.seconds} s): ${cell(r.detail)}`),
  '',
  '</details>',
);

const readmePath = join(root, 'docs', 'compatibility.md');
const readme = readFileSync(readmePath, 'utf8');
const open = '<!-- section:compat -->';
const close = '<!-- /section:compat -->';
const start = readme.indexOf(open);
const end = readme.indexOf(close);
if (start < 0 || end < start) throw new Error('docs/compatibility.md has no compat section markers');
const next = `${readme.slice(0, start + open.length)}\n${lines.join('\n')}\n${readme.slice(end)}`;
writeFileSync(readmePath, next);
if (resolve(source) !== join(here, 'results.json')) {
  writeFileSync(join(here, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`);
}
console.log(`docs/compatibility.md compat section: ${summary.results.length} cells`);
