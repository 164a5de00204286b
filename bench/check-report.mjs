// Self-check of bench/report.mjs on made-up results, without running a benchmark:
//   node bench/check-report.mjs
// It checks the rules of how figures are shown: a busy start is said at the top and keeps the README as it
// was, the A/A spread sits beside the ratios, a `spans: false` figure worse than its with-spans figure is
// flagged (as noise, or as a problem when the gap is wider than the noise), and the bench section is only
// ever written between its markers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBenchSection, renderReport, updateBenchSection } from './report.mjs';

const ROUNDS = 5;
/** Per-round records whose CPU time per operation is `cpu` × a small wobble (the same in every variant). */
const records = (cpu, spans = 0, joined = 1, histograms = undefined) =>
  Array.from({ length: ROUNDS }, (_, round) => {
    const wobble = 1 + 0.01 * (round - 2);
    return {
      round,
      ops: 1000,
      wallNs: cpu * wobble * 1e6,
      cpuUs: cpu * wobble * 1000,
      spans: spans * 1000,
      joined: joined * 1000,
      ...(histograms === undefined ? {} : { histogramRecords: histograms * 1000 }),
    };
  });
const profile = (oursUs) => ({
  ops: 1000,
  wallUs: 100,
  cpuUs: 100,
  samples: 4000,
  oursSamples: 40 * oursUs,
  oursUs,
  busyUs: 100,
  share: oursUs / 100,
  callsShare: oursUs / 200,
  byFunction: [{ where: 'op (trpc/link.js:1)', us: oursUs }],
  byLeaf: [],
});

/** Made-up results: `nospansCpu` and `spansCpu` are our two variants' CPU µs per operation (baseline 100). */
function results({
  quiet = true,
  nospansCpu = 101,
  spansCpu = 103,
  aaCpu = 100,
  nospansUs = 2,
  spansUs = 5,
  metricsCpu,
  metricsUs,
  floor = false,
} = {}) {
  const metrics = metricsCpu !== undefined;
  const variants = {
    baseline: { label: 'baseline', role: 'baseline' },
    'baseline-aa': { label: 'baseline again (A/A)', control: true, role: 'control' },
    'ours-nospans': { label: 'ours, `spans: false`', role: 'ours' },
    'ours-spans': { label: 'ours, with spans', role: 'ours' },
    ...(metrics
      ? {
          'ours-metrics': {
            label: 'ours, with spans and a MeterProvider (metrics on)',
            short: 'ours, spans + metrics',
            role: 'metrics',
          },
        }
      : {}),
    empty: { label: 'empty link + middleware', role: 'empty' },
    ...(floor
      ? {
          floor: { label: 'OTel floor, `spans: false`', short: 'OTel floor, `spans: false`', role: 'floor' },
          'floor-spans': { label: 'OTel floor with spans', short: 'OTel floor, spans', role: 'floor' },
        }
      : {}),
    'http-auto': { label: 'instrumentation-http', short: 'HTTP auto', role: 'anchor' },
  };
  return {
    startedAt: '2026-12-01T00:00:00.000Z',
    durationS: 60,
    machineCheck: {
      quiet,
      reasons: quiet ? [] : ['1-minute load average 3.00 > 0.50 (2 cores)'],
      loadAverage: [quiet ? 0.1 : 3, 0.2, 0.3],
      loadLimit: 0.5,
      steal: 0,
      busy: 0.01,
      sampleMs: 2000,
    },
    loadAverage: { before: [0.1, 0, 0], rounds: [0.2], after: [0.3, 0, 0] },
    config: { quick: false, rounds: ROUNDS, targetMs: 300, memoryOps: 100000, memoryCheckpoints: 10 },
    machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 8, os: 'Linux', node: 'v24.0.0', v8: '13' },
    versions: { self: { version: '0.0.0', commit: 'abc1234', srcDirty: false }, packages: {} },
    suites: {
      core: {
        scenarios: {
          pair: { label: 'pair', opsPerCall: 1 },
          floor: { label: 'floor', opsPerCall: 1 },
        },
        variants: { sdk: { label: 'SDK' } },
        records: { pair: { sdk: records(1.2) }, floor: { sdk: records(4) } },
        opsPerMeasurement: { pair: 1000, floor: 1000 },
      },
      trpc: {
        scenarios: { single: { label: 'tRPC single', short: 'tRPC single', opsPerCall: 1 } },
        variants,
        records: {
          single: {
            baseline: records(100),
            'baseline-aa': records(aaCpu),
            'ours-nospans': records(nospansCpu, 0),
            'ours-spans': records(spansCpu, 2),
            ...(metrics ? { 'ours-metrics': records(metricsCpu, 2, 1, 2) } : {}),
            empty: records(100.5),
            ...(floor ? { floor: records(100.5), 'floor-spans': records(101, 2) } : {}),
            'http-auto': records(130, 2, 0.1),
          },
        },
        opsPerMeasurement: { single: 1000 },
        profiles: {
          single: {
            'ours-nospans': profile(nospansUs),
            'ours-spans': profile(spansUs),
            ...(metrics ? { 'ours-metrics': profile(metricsUs) } : {}),
            ...(floor ? { floor: profile(0.5), 'floor-spans': profile(1.5) } : {}),
          },
        },
        counts: {
          single: { 'ours-spans': { ops: 100, counts: { inject: 100, extract: 100, with: 200, startSpan: 200 } } },
        },
        memory: {},
      },
    },
  };
}

// A quiet run: the table comes first, with the A/A spread, our CPU-time ratio and profile µs.
{
  const { markdown, readmeSection } = renderReport(results());
  assert.ok(!markdown.includes('started on a busy machine'));
  assert.ok(markdown.indexOf('| scenario | noise (A/A) |') < markdown.indexOf('## Targets'));
  assert.match(
    readmeSection,
    /\| tRPC single \| ±0\.0\d \| \*\*0\.99\*\* · 2\.0 µs \| \*\*0\.97\*\* · 5\.0 µs \| 0\.77 ✗ 10% \|/,
  );
  assert.ok(!readmeSection.includes('ops/s'), 'no wall-clock throughput in the README');
  assert.ok(!readmeSection.includes('~') && !readmeSection.includes('‼'));
  // Calls per operation reach the targets table; the with-spans target is judged above the 4 µs floor.
  assert.match(markdown, /1\.00 \/ 1\.00 \/ 2\.00 \/ 2\.00/);
  assert.match(markdown, /5\.0 ± [\d.]+ µs\/op, SDK floor 4\.00 µs\/op/);
  // A run without the metrics variant (results written before it existed): no Metrics part, no column.
  assert.ok(!markdown.includes('## Metrics') && !markdown.includes('spans + metrics'));
}

// Ours with metrics on: a column of its own beside ours, a Metrics part against ours with spans, never an anchor.
{
  const { markdown, readmeSection, verdicts } = renderReport(results({ metricsCpu: 105, metricsUs: 6 }));
  assert.match(
    readmeSection,
    /\| scenario \| noise \(A\/A\) \| ours, `spans: false` \| ours, with spans \| ours, spans \+ metrics \| HTTP auto \|/,
  );
  assert.match(readmeSection, /\| \*\*0\.97\*\* · 5\.0 µs \| \*\*0\.95\*\* · 6\.0 µs \| 0\.77 ✗ 10% \|/);
  assert.ok(
    verdicts.every((v) => v.anchor !== 'ours-metrics'),
    'ours with metrics is no anchor',
  );
  assert.equal(verdicts.filter((v) => v.kind === 'anchor').length, 1);
  const part = markdown.slice(markdown.indexOf('## Metrics'));
  assert.ok(markdown.includes('## Metrics'));
  // Against the same baseline 0.97 and 0.95; round by round against ours with spans 103/105 = 0.98, +2 µs;
  // profile 5.0 → 6.0 µs; two histogram records per operation.
  assert.match(
    part,
    /\| tRPC single \| ±0\.0\d \| 0\.97 \(0\.97–0\.97\) \| 0\.95 \(0\.95–0\.95\) \| 0\.98 \(0\.98–0\.98\) \| 2\.0 \([\d.]+–[\d.]+\) \| 5\.0 ± [\d.]+ \| 6\.0 ± [\d.]+ \| \+1\.0 ± [\d.]+ \| 2\.000 \|/,
  );
  // Its own row in the suite's CPU-time table and in the profile table.
  assert.match(markdown, /^\| ours, with spans and a MeterProvider \(metrics on\) \| 0\.95 \(0\.95–0\.95\) \|$/m);
  assert.match(markdown, /^\| tRPC single \| ours, with spans and a MeterProvider \(metrics on\) \| 6\.0 ± /m);
}

// The OTel floor: two Targets columns (CPU-time ratio · floor.mjs's µs/op), its rows in Variants and the
// profile table, never an anchor; a run without it keeps '–' there and no Variants rows.
{
  const { markdown, readmeSection, verdicts } = renderReport(results({ floor: true }));
  assert.match(
    markdown,
    /\| empty link \+ middleware\/plugin \| OTel floor, `spans: false` \(ratio · µs\/op\) \| OTel floor, spans \(ratio · µs\/op\) \|/,
  );
  assert.match(
    markdown,
    /\| 1\.00 \| 1\.00 · 0\.5 µs \| 0\.99 · 1\.5 µs \| – \| 1\.00 \/ 1\.00 \/ 2\.00 \/ 2\.00 \|$/m,
  );
  assert.match(markdown, /^\| OTel floor, `spans: false` \| the OpenTelemetry calls a propagated operation needs/m);
  assert.match(markdown, /^\| tRPC single \| OTel floor with spans \| 1\.5 ± /m);
  assert.ok(markdown.includes('So do the OTel floor variants'));
  // In the short table as columns of its own beside ours, never an anchor's (no ✓/✗: it is not a product).
  assert.match(readmeSection, /\| ours, with spans \| OTel floor, `spans: false` \| OTel floor, spans \| HTTP auto \|/);
  assert.match(readmeSection, /\| 1\.00 · 0\.5 µs \| 0\.99 · 1\.5 µs \| [0-9.]+ [✓✗]/);
  assert.ok(readmeSection.includes('*OTel floor*: the same app'), 'the README says what the floor is');
  // Each target's verdict says what the floor alone measured, so a target no propagation meets shows as such.
  const said = (kind) => verdicts.find((v) => v.kind === kind)?.text ?? '';
  assert.match(said('nospans-ratio'), /; the OTel floor alone: 1\.00$/);
  assert.match(said('nospans-us'), /; the OTel floor's own code: 0\.5 µs\/op$/);
  assert.match(said('spans-ratio'), /; the OTel floor alone: 0\.99$/);
  assert.match(said('spans-us'), /; the OTel floor's own code: 1\.5 µs\/op$/);
  assert.ok(
    verdicts.every((v) => !String(v.anchor ?? '').startsWith('floor')),
    'the floor is no anchor',
  );
  const without = renderReport(results()).markdown;
  assert.match(without, /\| 1\.00 \| – \| – \| – \| 1\.00 \/ 1\.00 \/ 2\.00 \/ 2\.00 \|$/m);
  assert.ok(!without.includes('| OTel floor, `spans: false` |') && !without.includes('So do the OTel floor'));
  const plain = renderReport(results());
  assert.ok(!plain.readmeSection.includes('| OTel floor'), 'no floor columns in a run without it');
  assert.ok(
    plain.verdicts.every((v) => !v.text.includes('OTel floor')),
    'no floor figures in a run without it',
  );
}

// A busy start is said at the very top.
{
  const { markdown } = renderReport(results({ quiet: false }));
  assert.match(markdown, /^# Benchmarks\n\n> \*\*This run started on a busy machine \(1-minute load average 3\.00/);
}

// `spans: false` worse than with spans: within the A/A noise it is flagged as noise, beyond it as a problem.
{
  const noisy = renderReport(results({ aaCpu: 105, nospansCpu: 104, spansCpu: 102 })).readmeSection;
  assert.match(noisy, /\*\*0\.96\*\* ~/);
  assert.match(noisy, /^~ `spans: false` measured worse/m);
  const wrong = renderReport(results({ aaCpu: 100.5, nospansCpu: 110, spansCpu: 102 })).readmeSection;
  assert.match(wrong, /\*\*0\.91\*\* ‼/);
  const profiled = renderReport(results({ nospansUs: 9, spansUs: 5 })).readmeSection;
  assert.match(profiled, /9\.0 µs ‼/);
}

// The bench section is written only between its markers, wherever they are; without them, nowhere.
{
  const root = mkdtempSync(path.join(os.tmpdir(), 'bench-check-'));
  try {
    writeFileSync(path.join(root, 'README.md'), '# x\n');
    assert.equal(findBenchSection(root), undefined);
    assert.equal(updateBenchSection(path.join(root, 'README.md'), 'new'), false);
    assert.equal(readFileSync(path.join(root, 'README.md'), 'utf8'), '# x\n');
    mkdirSync(path.join(root, 'docs'));
    const doc = path.join(root, 'docs', 'performance.md');
    writeFileSync(doc, 'a\n<!-- section:bench -->\nold\n<!-- /section:bench -->\nb\n');
    assert.equal(findBenchSection(root), doc);
    assert.equal(updateBenchSection(doc, 'new'), true);
    assert.equal(readFileSync(doc, 'utf8'), 'a\n<!-- section:bench -->\nnew\n<!-- /section:bench -->\nb\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

console.log('bench/report.mjs: all checks passed');
