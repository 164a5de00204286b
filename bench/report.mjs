// Turns the raw results of bench/run.mjs into BENCHMARKS.md and the README's bench section.
// Re-render without re-running: node bench/report.mjs bench/results.json > BENCHMARKS.md
// The README section alone:       node bench/report.mjs --readme bench/results.json
//
// Which figures go where: the README's table gives the stable ones, the CPU-time ratio (median over
// interleaved rounds) and the profile's µs of our code per operation; wall-clock medians and spreads are
// only in BENCHMARKS.md. Every ratio is printed with the A/A control's spread beside it, and a
// `spans: false` figure that comes out worse than its with-spans figure is flagged, never shown as a result.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, summary } from './lib/stats.mjs';

const TARGET_NO_SPANS = 0.98;
const TARGET_SPANS = 0.95;
const TARGET_CORE_NS = 1500;
/** Our code per operation with `spans: false`, and above the SDK floor with spans (µs, profile). */
const TARGET_OURS_US = 3;
/**
 * Heap growth per operation, above the baseline's, that counts as growth with operations. What an
 * operation could leave behind (a closure, a map entry with its key, a span) takes 32 bytes or more;
 * a one-off step of 2 MiB (pools, caches) over 90,000 operations stays below it.
 */
const TARGET_HEAP_BYTES_PER_OP = 32;
/** A one-off heap step (pools, caches) that a run with few operations must not mistake for growth. */
const HEAP_STEP_BYTES = 2 * 2 ** 20;
const OURS = ['ours-nospans', 'ours-spans'];
/** Ours with spans and a MeterProvider registered (metrics on): compared with 'ours-spans', never an anchor. */
const METRICS = 'ours-metrics';
/**
 * The OpenTelemetry floor in situ (bench/lib/floor.mjs): propagation alone, and with the two spans; role
 * 'floor', never an anchor. Their profile µs are floor.mjs's own, the figure ours is to be compared with.
 */
const FLOOR = { nospans: 'floor', spans: 'floor-spans' };
/** What the short table's OTel floor columns are. */
const FLOOR_LEGEND =
  '*OTel floor*: the same app with a link and a middleware or plugin of our shape that make only the OpenTelemetry calls per-operation propagation needs (one inject, one extract, one `context.with`; with spans, also one CLIENT and one SERVER span) and nothing else: what any propagation of each operation costs here, ratio · µs of its code per operation.';
/** The Variants table's rows for the OTel floor variants (bench/lib/floor.mjs). */
const FLOOR_VARIANT_ROWS = [
  [
    'OTel floor, `spans: false`',
    "the OpenTelemetry calls a propagated operation needs, of our shape, and nothing else (bench/lib/floor.mjs). tRPC: a link that injects `context.active()` into a fresh carrier on `op.context`, the HTTP links' `headers` sending the first operation's carrier, and a middleware that extracts from the request's headers and runs `next` in `context.with`. GraphQL: an `ApolloLink` that injects into the operation's headers (one `batchKey` for all, so a batch stays one request with its first operation's headers) and the empty plugin above whose execute and subscribe wrappers extract from the request's headers and run in `context.with`. Exactly one inject, one extract and one `context.with` per operation (once per subscription, whose carrier the SSE and WebSocket transports do not send)",
  ],
  [
    'OTel floor, spans',
    'the same, plus a CLIENT span started under the caller (its context injected) and ended on the result or error, and a SERVER span under the extracted context (the handler runs in it) ended when the call or execution settles; span names only, no attributes',
  ],
];

const COUNTED = [
  ['inject', '`propagation.inject`'],
  ['extract', '`propagation.extract`'],
  ['with', '`context.with`'],
  ['startSpan', '`tracer.startSpan`'],
];

/** A variant's part in the comparison; results written before roles were recorded get them by name. */
function roleOf(suite, variant) {
  const recorded = suite.variants[variant]?.role;
  if (recorded) return recorded;
  if (variant === 'baseline') return 'baseline';
  if (suite.variants[variant]?.control) return 'control';
  if (OURS.includes(variant)) return 'ours';
  if (variant === METRICS) return 'metrics';
  if (variant === 'empty') return 'empty';
  if (Object.values(FLOOR).includes(variant)) return 'floor';
  return 'anchor';
}
const variantsWith = (suite, role) => Object.keys(suite.variants).filter((v) => roleOf(suite, v) === role);
const rpcSuites = (results) => Object.keys(results.suites).filter((name) => name !== 'core');

/**
 * Heap growth per operation: the Theil–Sen slope (median of the slopes between every two checkpoints) of
 * heapUsed over operations. Pools and caches make the heap step up or down by a MiB or two now and then;
 * a median slope ignores such a step, a leak raises every slope.
 */
function slope(samples) {
  const slopes = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      slopes.push((samples[j].heapUsed - samples[i].heapUsed) / (samples[j].ops - samples[i].ops));
    }
  }
  return median(slopes);
}

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const int = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');
const spread = (s, digits = 2) =>
  s && Number.isFinite(s.median) ? `${fmt(s.median, digits)} (${fmt(s.p25, digits)}–${fmt(s.p75, digits)})` : '–';
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const pct = (value, digits = 1) => (Number.isFinite(value) ? `${(100 * value).toFixed(digits)}%` : '–');
const mdCell = (text) => String(text).replace(/\|/g, '\\|');

/** Per-round paired figures of `variant` against the same round's `reference` (the baseline unless said). */
export function paired(records, variant, reference = 'baseline') {
  const base = new Map((records[reference] ?? []).map((r) => [r.round, r]));
  const rows = [];
  for (const r of records[variant] ?? []) {
    const b = base.get(r.round);
    if (!b) continue;
    const wall = r.wallNs / r.ops;
    const baseWall = b.wallNs / b.ops;
    const cpu = r.cpuUs / r.ops;
    const baseCpu = b.cpuUs / b.ops;
    rows.push({
      ratio: baseWall / wall,
      cpuRatio: baseCpu / cpu,
      overheadUs: (wall - baseWall) / 1000,
      cpuOverheadUs: cpu - baseCpu,
    });
  }
  return {
    ratio: summary(rows.map((x) => x.ratio)),
    cpuRatio: summary(rows.map((x) => x.cpuRatio)),
    overheadUs: summary(rows.map((x) => x.overheadUs)),
    cpuOverheadUs: summary(rows.map((x) => x.cpuOverheadUs)),
  };
}

function perVariant(runs) {
  return {
    opsPerS: summary(runs.map((r) => r.ops / (r.wallNs / 1e9))),
    wallUs: summary(runs.map((r) => r.wallNs / r.ops / 1000)),
    cpuUs: summary(runs.map((r) => r.cpuUs / r.ops)),
    ns: summary(runs.map((r) => r.wallNs / r.ops)),
    spansPerOp: median(runs.map((r) => r.spans / r.ops)),
    joined: median(runs.map((r) => (r.joined ?? Number.NaN) / r.ops)),
    /** Duration-histogram records per operation, where a MeterProvider was registered (else NaN). */
    histogramRecordsPerOp: median(runs.map((r) => (r.histogramRecords ?? Number.NaN) / r.ops)),
  };
}

export function analyse(results) {
  const out = {};
  for (const [suiteName, suite] of Object.entries(results.suites)) {
    const scenarios = {};
    for (const [scenario, records] of Object.entries(suite.records)) {
      const variants = {};
      for (const variant of Object.keys(records)) {
        variants[variant] = { ...perVariant(records[variant]), ...(records.baseline ? paired(records, variant) : {}) };
      }
      scenarios[scenario] = variants;
    }
    out[suiteName] = scenarios;
  }
  return out;
}

/** How far the A/A control strays from 1: the larger of its median's distance and its IQR's half-widths. */
function noiseOf(aa) {
  if (!aa || !Number.isFinite(aa.median)) return Number.NaN;
  return Math.max(Math.abs(aa.median - 1), aa.p75 - aa.median, aa.median - aa.p25);
}

/** Sampling error of a profile's µs (the count of our samples is Poisson): one standard error. */
function profileError(p) {
  if (!p) return Number.NaN;
  const samples = p.oursSamples ?? p.share * p.samples;
  return samples > 0 ? p.oursUs / Math.sqrt(samples) : Number.NaN;
}

/** The SDK floor per traced operation (µs): two spans with inject, extract and `context.with`. */
// The core loops' figures are wall time per operation in a tight synchronous loop, as the profile's µs
// (share of samples × wall time) that the floor is subtracted from. Their CPU time also counts V8's
// helper threads (parallel GC), so it can exceed the wall time there.
const floorPairUs = (analysis) => (analysis.core?.floor?.sdk?.ns.median ?? Number.NaN) / 1000;
const coreNs = (variants) => variants?.sdk?.ns.median ?? Number.NaN;

/**
 * Everything the tables say about one scenario, computed once so that no two tables can disagree: the
 * A/A spread, our CPU-time ratios and profile figures, the SDK floor for it, and whether `spans: false`
 * came out worse than with spans (and if so, whether by less than the noise).
 */
function view(results, analysis, suiteName, scenario) {
  const suite = results.suites[suiteName];
  const variants = analysis[suiteName][scenario];
  const control = variantsWith(suite, 'control').find((v) => variants[v]?.cpuRatio);
  const aa = control ? variants[control].cpuRatio : undefined;
  const aaWall = control ? variants[control].ratio : undefined;
  const noise = noiseOf(aa);
  const profiles = suite.profiles?.[scenario] ?? {};
  const ours = {};
  for (const variant of [...OURS, ...variantsWith(suite, 'metrics')]) {
    const v = variants[variant];
    const p = profiles[variant];
    ours[variant] = {
      cpuRatio: v?.cpuRatio,
      us: p?.oursUs,
      usError: profileError(p),
      spansPerOp: v?.spansPerOp,
      profile: p,
    };
  }
  const nospans = ours['ours-nospans'];
  const spans = ours['ours-spans'];
  // Two spans (one CLIENT, one SERVER) per traced operation; per subscription event, a fraction of that.
  const floorUs = floorPairUs(analysis) * ((spans.spansPerOp ?? Number.NaN) / 2);
  let ratioFlag;
  if (nospans.cpuRatio && spans.cpuRatio && nospans.cpuRatio.median < spans.cpuRatio.median) {
    const gap = spans.cpuRatio.median - nospans.cpuRatio.median;
    ratioFlag = { gap, withinNoise: !(gap > noise) };
  }
  let profileFlag;
  if (Number.isFinite(nospans.us) && Number.isFinite(spans.us) && nospans.us > spans.us) {
    const gap = nospans.us - spans.us;
    // A profile too short to have an error (no samples of ours) cannot tell either: read as noise.
    profileFlag = { gap, withinNoise: !(gap > 2 * Math.hypot(nospans.usError, spans.usError)) };
  }
  return { suite, variants, control, aa, aaWall, noise, ours, floorUs, ratioFlag, profileFlag };
}

/** A floor variant's CPU-time ratio and its own µs/op (profile of bench/lib/floor.mjs), for one scenario's `view`. */
function floorCell(v, scenario, variant) {
  if (roleOf(v.suite, variant) !== 'floor') return '–';
  const ratio = v.variants[variant]?.cpuRatio;
  const us = v.suite.profiles?.[scenario]?.[variant]?.oursUs;
  if (!ratio && !Number.isFinite(us)) return '–';
  return `${ratio ? fmt(ratio.median) : '–'} · ${Number.isFinite(us) ? `${fmt(us, 1)} µs` : '–'}`;
}

const label = (suite, scenario) => suite.scenarios[scenario].short ?? suite.scenarios[scenario].label;
const aaText = (v) => (v.aa ? `A/A ${spread(v.aa)}` : 'no A/A');

function verdictsFor(results, analysis) {
  const verdicts = [];
  const core = analysis.core?.pair?.sdk;
  if (core) {
    verdicts.push({
      target: 'core pair ≤ 1.5 µs',
      text: `core getContext + attachContext: ${int(coreNs(analysis.core.pair))} ns per pair (target ≤ ${int(TARGET_CORE_NS)} ns)${analysis.core.raw?.sdk ? `; the raw API's inject + extract + \`context.with\` alone: ${int(coreNs(analysis.core.raw))} ns` : ''}`,
      met: coreNs(analysis.core.pair) <= TARGET_CORE_NS,
    });
  }
  const floorPair = floorPairUs(analysis);
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const scenario of Object.keys(analysis[suiteName] ?? {})) {
      const v = view(results, analysis, suiteName, scenario);
      const name = suite.scenarios[scenario].label;
      const base = { suite: suiteName, scenario };
      const { 'ours-nospans': nospans, 'ours-spans': spans } = v.ours;
      // The same figure for the OTel floor of the same scenario, where it was measured: what no propagation beats.
      const floorRatio = (variant) => {
        const ratio = v.variants[variant]?.cpuRatio;
        return roleOf(suite, variant) === 'floor' && ratio ? `; the OTel floor alone: ${fmt(ratio.median)}` : '';
      };
      const floorUsText = (variant) => {
        const us = suite.profiles?.[scenario]?.[variant]?.oursUs;
        return roleOf(suite, variant) === 'floor' && Number.isFinite(us)
          ? `; the OTel floor's own code: ${fmt(us, 1)} µs/op`
          : '';
      };
      // `spans: false` worse than with spans: said, with whether the gap is within the noise.
      const flag = (f, worse) =>
        f
          ? ` (${worse} by ${f.gapText}: ${f.withinNoise ? 'within noise, not a result' : 'MORE than the noise: rerun'})`
          : '';
      if (nospans.profile) {
        verdicts.push({
          ...base,
          kind: 'nospans-us',
          target: '`spans: false`: our code ≤ 3 µs/op (profile)',
          value: nospans.us,
          text: `${name}: ${fmt(nospans.us, 1)} ± ${fmt(nospans.usError, 1)} µs/op, of which OpenTelemetry/Node calls ${fmt(nospans.profile.callsShare * (nospans.us / nospans.profile.share), 1)} µs${flag(v.profileFlag && { ...v.profileFlag, gapText: `${fmt(v.profileFlag.gap, 1)} µs` }, 'above with spans')}${floorUsText(FLOOR.nospans)}`,
          met: nospans.us <= TARGET_OURS_US,
        });
      }
      if (nospans.cpuRatio) {
        verdicts.push({
          ...base,
          kind: 'nospans-ratio',
          target: '`spans: false`: CPU-time ratio ≥ 0.98',
          value: nospans.cpuRatio.median,
          text: `${name}: ${spread(nospans.cpuRatio)} beside ${aaText(v)}${flag(v.ratioFlag && { ...v.ratioFlag, gapText: fmt(v.ratioFlag.gap) }, 'below with spans')}${floorRatio(FLOOR.nospans)}`,
          met: nospans.cpuRatio.median >= TARGET_NO_SPANS,
        });
      }
      if (spans.profile) {
        const above = spans.us - v.floorUs;
        verdicts.push({
          ...base,
          kind: 'spans-us',
          target: 'with spans: our code ≤ 3 µs/op above the SDK floor (profile)',
          value: above,
          text: `${name}: ${fmt(spans.us, 1)} ± ${fmt(spans.usError, 1)} µs/op, SDK floor ${fmt(v.floorUs, 2)} µs/op (${fmt(spans.spansPerOp, 3)} spans/op × ${fmt(floorPair, 2)} µs per two spans), ${fmt(above, 1)} µs above it${floorUsText(FLOOR.spans)}`,
          met: Number.isFinite(above) ? above <= TARGET_OURS_US : undefined,
        });
      }
      if (spans.cpuRatio) {
        verdicts.push({
          ...base,
          kind: 'spans-ratio',
          target: 'with spans: CPU-time ratio ≥ 0.95',
          value: spans.cpuRatio.median,
          text: `${name}: ${spread(spans.cpuRatio)} beside ${aaText(v)}${floorRatio(FLOOR.spans)}`,
          met: spans.cpuRatio.median >= TARGET_SPANS,
        });
      }
      if (!spans.cpuRatio) continue;
      for (const anchor of variantsWith(suite, 'anchor')) {
        const a = v.variants[anchor];
        if (!a?.cpuRatio) continue;
        verdicts.push({
          ...base,
          kind: 'anchor',
          anchor,
          target: 'with spans, a higher CPU-time ratio than each anchor',
          text: `${name}: ours with spans ${fmt(spans.cpuRatio.median)} vs ${suite.variants[anchor].label} ${fmt(a.cpuRatio.median)} (${aaText(v)}); its operations in the caller's trace: ${pct(a.joined, 0)}`,
          met: spans.cpuRatio.median > a.cpuRatio.median,
        });
      }
    }
  }
  for (const gql of Object.values(results.suites)) {
    for (const [small, large] of [
      ['fields1k', 'fields5k'],
      ['fields1kGateway', 'fields5kGateway'],
    ]) {
      if (!gql.profiles?.[small] || !gql.profiles[large]) continue;
      for (const variant of OURS) {
        const p1 = gql.profiles[small][variant];
        const p5 = gql.profiles[large][variant];
        if (!p1 || !p5) continue;
        const growth = p5.oursUs - p1.oursUs;
        const error = 2 * Math.hypot(profileError(p1), profileError(p5));
        // Exact call counts, where counted, decide: the profile's µs also move with how cold the caches are.
        const c1 = gql.counts?.[small]?.[variant];
        const c5 = gql.counts?.[large]?.[variant];
        const calls = (c) => c.counts.functions / c.ops;
        const counted = c1?.counts.functions !== undefined && c5?.counts.functions !== undefined;
        const callsText = counted
          ? `; our function calls ${fmt(calls(c1), 1)} → ${fmt(calls(c5), 1)} per op (counted: a cost per resolver adds one or more per field)`
          : '';
        verdicts.push({
          kind: 'flat',
          target: 'no growth with resolver count',
          text: `${gql.scenarios[small].label.replace(/, query resolving [\d,]+ fields/, '')}, ${gql.variants[variant].label}: our code ${fmt(p1.oursUs, 1)} µs/op at 1,000 fields → ${fmt(p5.oursUs, 1)} µs/op at 5,000 (growth ${fmt(growth, 1)} µs vs profile noise ±${fmt(error, 1)} µs; a cost per resolver would grow ×5)${callsText}`,
          met: counted ? calls(c5) - calls(c1) < 1 : growth <= Math.max(1, error),
        });
      }
    }
  }
  for (const row of memoryRows(results)) {
    if (row.variant === 'baseline' || !row.base) continue;
    verdicts.push({
      kind: 'heap',
      target: 'heap flat over the operations',
      text: `${row.scenarioLabel}, ${row.variantLabel}: ${mib(row.samples[0].heapUsed)} → ${mib(row.samples.at(-1).heapUsed)} over ${int(row.ops)} ops; growth ${fmt(row.growth, 1)} B/op vs baseline ${fmt(row.baseGrowth, 1)} B/op (counts as growth above +${fmt(row.tolerance, 0)} B/op)`,
      met: row.growth - row.baseGrowth <= row.tolerance,
    });
  }
  return verdicts;
}

/** Heap runs per scenario and variant, with the growth each is judged by. */
function memoryRows(results) {
  const rows = [];
  for (const suite of Object.values(results.suites)) {
    for (const [scenario, byVariant] of Object.entries(suite.memory ?? {})) {
      const base = byVariant.baseline;
      const order = ['baseline', ...OURS, METRICS];
      const variants = Object.keys(byVariant).sort((a, b) => order.indexOf(a) - order.indexOf(b));
      for (const variant of variants) {
        const samples = byVariant[variant];
        if (!samples?.length) continue;
        const span = samples.at(-1).ops - samples[0].ops;
        rows.push({
          scenarioLabel: suite.scenarios[scenario].label,
          variant,
          variantLabel: suite.variants[variant]?.label ?? variant,
          samples,
          ops: samples.at(-1).ops,
          growth: slope(samples),
          base,
          baseGrowth: base ? slope(base) : Number.NaN,
          // A one-off 2 MiB step over a short run must not read as growth.
          tolerance: Math.max(TARGET_HEAP_BYTES_PER_OP, span > 0 ? HEAP_STEP_BYTES / span : Number.POSITIVE_INFINITY),
        });
      }
    }
  }
  return rows;
}

function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Variants of `role` (anchors, metrics) in the order they first appear, over every suite. */
function roleColumns(results, role) {
  const columns = new Map();
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const variant of variantsWith(suite, role)) {
      if (!columns.has(variant)) columns.set(variant, suite.variants[variant].short ?? suite.variants[variant].label);
    }
  }
  return [...columns];
}
const anchorColumns = (results) => roleColumns(results, 'anchor');

/**
 * The short table at the top of BENCHMARKS.md and in the README: per scenario, our CPU-time ratio and
 * profile µs, each anchor's CPU-time ratio and whether it keeps the caller's trace, and the A/A noise.
 */
function glance(results, analysis) {
  const anchors = anchorColumns(results);
  // Ours with metrics on: a column of its own after ours with spans, only in runs that measured it.
  const withMetrics = roleColumns(results, 'metrics');
  // The least any per-operation propagation costs in the same app: shown beside ours where it was measured.
  const floors = roleColumns(results, 'floor').length > 0;
  const rows = [];
  const notes = new Set();
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const scenario of Object.keys(analysis[suiteName] ?? {})) {
      const v = view(results, analysis, suiteName, scenario);
      const cell = (variant) => {
        const o = v.ours[variant];
        if (!o?.cpuRatio) return '–';
        let ratio = `**${fmt(o.cpuRatio.median)}**`;
        let us = Number.isFinite(o.us) ? ` · ${fmt(o.us, 1)} µs` : '';
        if (variant === 'ours-nospans' && v.ratioFlag) {
          ratio += v.ratioFlag.withinNoise ? ' ~' : ' ‼';
          notes.add(v.ratioFlag.withinNoise ? 'ratio-noise' : 'ratio-real');
        }
        if (variant === 'ours-nospans' && v.profileFlag && us) {
          us += v.profileFlag.withinNoise ? ' ~' : ' ‼';
          notes.add(v.profileFlag.withinNoise ? 'us-noise' : 'us-real');
        }
        return `${ratio}${us}`;
      };
      rows.push([
        label(suite, scenario),
        Number.isFinite(v.noise) ? `±${fmt(v.noise)}` : '–',
        cell('ours-nospans'),
        cell('ours-spans'),
        ...withMetrics.map(([variant]) => cell(variant)),
        ...(floors ? [floorCell(v, scenario, FLOOR.nospans), floorCell(v, scenario, FLOOR.spans)] : []),
        ...anchors.map(([anchor]) => {
          const a = v.variants[anchor];
          if (!a?.cpuRatio) return '–';
          const keeps = a.joined >= 0.995;
          return `${fmt(a.cpuRatio.median)} ${keeps ? '✓' : `✗ ${pct(a.joined, 0)}`}`;
        }),
      ]);
    }
  }
  const text = table(
    [
      'scenario',
      'noise (A/A)',
      'ours, `spans: false`',
      'ours, with spans',
      ...withMetrics.map(([, name]) => name),
      ...(floors ? ['OTel floor, `spans: false`', 'OTel floor, spans'] : []),
      ...anchors.map(([, name]) => name),
    ],
    rows,
  );
  const legend = [];
  if (notes.has('ratio-noise') || notes.has('us-noise'))
    legend.push(
      '~ `spans: false` measured worse than with spans, by less than the noise: read the two as equal, not as a result.',
    );
  if (notes.has('ratio-real') || notes.has('us-real'))
    legend.push(
      '‼ `spans: false` measured worse than with spans by more than the noise: a measurement problem (the machine changed during the run); rerun before reading these figures.',
    );
  return { text, legend };
}

/** Renders BENCHMARKS.md's text and the README section from `results` (bench/results.json). */
export function renderReport(results, { linkFrom } = {}) {
  const analysis = analyse(results);
  const verdicts = verdictsFor(results, analysis);
  const { machine, versions, config } = results;
  const check = results.machineCheck;
  const lines = [];
  const push = (...chunks) => {
    for (const chunk of chunks) lines.push(chunk, '');
  };

  push('# Benchmarks');
  if (check && !check.quiet) {
    push(
      `> **This run started on a busy machine (${check.reasons.join('; ')}): other work competed with the bench, so every figure below is suspect, and the README's table was not updated from it.** Rerun \`npm run bench\` on a quiet machine.`,
    );
  } else if (!check) {
    push('> The run that wrote this did not check whether the machine was quiet when it started.');
  }
  if (config.quick) push('> **Quick smoke run (`BENCH_QUICK=1`): tiny counts, the figures mean nothing.**');

  const floorPair = floorPairUs(analysis);
  const { text: glanceTable, legend } = glance(results, analysis);
  push(
    'CPU time per operation as a share of the same app without propagation (1 = no cost; median of interleaved rounds, client and server over loopback in one process), ' +
      'then the time our code takes per operation, client and server together, from a CPU profile of the same scenario. *Noise (A/A)*: how far a second, identical baseline process strayed from 1; ' +
      "differences smaller than that are not results. ✓ the anchor's operations run in their caller's trace; ✗ they do not (the share that did). " +
      FLOOR_LEGEND,
    glanceTable,
    ...(legend.length > 0 ? [legend.join('\n')] : []),
  );
  push(
    `Written by \`npm run bench\` (bench/run.mjs) on ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC in ${results.durationS} s; ` +
      `otel-rpc-context ${versions.self.version} at commit \`${versions.self.commit}\`${versions.self.srcDirty ? ' (with uncommitted changes in src/)' : ''}. ` +
      'Every figure below comes from that run; the raw per-round measurements are in [bench/results.json](bench/results.json). ' +
      'Do not edit by hand: rerun `npm run bench`.',
  );

  // Targets, per scenario, then the list.
  const targetRows = [];
  const mark = (v, digits = 2, suffix = '') =>
    v === undefined || !Number.isFinite(v.value)
      ? '–'
      : v.met === true
        ? `${fmt(v.value, digits)}${suffix} ✓`
        : v.met === false
          ? `**${fmt(v.value, digits)}${suffix} ✗**`
          : `${fmt(v.value, digits)}${suffix}`;
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const scenario of Object.keys(analysis[suiteName] ?? {})) {
      const mine = verdicts.filter((v) => v.suite === suiteName && v.scenario === scenario);
      const find = (kind) => mine.find((v) => v.kind === kind);
      const v = view(results, analysis, suiteName, scenario);
      const empty = variantsWith(suite, 'empty')
        .map((e) => v.variants[e]?.cpuRatio)
        .find(Boolean);
      const calls = (variant) => {
        const c = suite.counts?.[scenario]?.[variant];
        return c ? COUNTED.map(([key]) => fmt(c.counts[key] / c.ops, 2)).join(' / ') : '–';
      };
      targetRows.push([
        label(suite, scenario),
        mark(find('nospans-us'), 1, ' µs'),
        mark(find('nospans-ratio')),
        mark(find('spans-us'), 1, ' µs'),
        mark(find('spans-ratio')),
        Number.isFinite(v.noise) ? `${fmt(v.aa.median)} (±${fmt(v.noise)})` : '–',
        empty ? fmt(empty.median) : '–',
        floorCell(v, scenario, FLOOR.nospans),
        floorCell(v, scenario, FLOOR.spans),
        calls('ours-nospans'),
        calls('ours-spans'),
      ]);
    }
  }
  push(
    '## Targets',
    `Per operation, client and server together. *Our code* is the profile's figure (see [Where our time goes](#where-our-time-goes-cpu-profile)); with spans it is judged above the SDK floor: what the OpenTelemetry SDK alone spends on one CLIENT and one SERVER span with inject, extract and \`context.with\` (${fmt(floorPair, 2)} µs, [Core and SDK floor](#core-and-sdk-floor)), times the operation's share of those spans. ` +
      '*Empty link + middleware/plugin*: the CPU-time ratio of the same app with a link and a middleware (tRPC) or plugin (Envelop) that do nothing, of the same shape as ours: what any such code costs in that framework, before ours adds anything. ' +
      "*OTel floor*: the same app with a link and a middleware/plugin of our shape that make only the OpenTelemetry calls an operation needs (one inject, one extract, one `context.with`; with spans, also one CLIENT and one SERVER span), its CPU-time ratio and the profile's µs/op of that code (bench/lib/floor.mjs): what propagation itself costs in situ, with the same cold caches as ours, the figure our code's µs/op compare with. " +
      '*Calls per op*: how many `propagation.inject` / `propagation.extract` / `context.with` / `tracer.startSpan` our code makes per operation (counted, not sampled: [Calls per operation](#calls-per-operation)). ✓ met, ✗ missed.',
    table(
      [
        'scenario',
        '`spans: false` our code ≤ 3 µs',
        '`spans: false` CPU ratio ≥ 0.98',
        'with spans ≤ 3 µs above floor',
        'with spans CPU ratio ≥ 0.95',
        'A/A (noise)',
        'empty link + middleware/plugin',
        'OTel floor, `spans: false` (ratio · µs/op)',
        'OTel floor, spans (ratio · µs/op)',
        'calls per op, `spans: false`',
        'calls per op, with spans',
      ],
      targetRows,
    ),
    table(
      ['', 'target', 'measured'],
      verdicts.map((v) => [v.met === true ? 'met' : v.met === false ? '**missed**' : 'n/a', v.target, mdCell(v.text)]),
    ),
  );

  // Runs with the metrics variant (ours with spans and a MeterProvider) say more about it.
  const measuredMetrics = roleColumns(results, 'metrics').length > 0;
  // Runs with the OTel floor variants (bench/lib/floor.mjs) describe them; older runs render as they did.
  const measuredFloor = roleColumns(results, 'floor').length > 0;
  const loads = results.loadAverage ?? {};
  const roundLoads = loads.rounds ?? [];
  push(
    '## Machine and versions',
    table(
      ['', ''],
      [
        ['CPU', `${machine.cpu}, ${machine.cores} cores`],
        ['memory', `${machine.memoryGiB} GiB`],
        ['OS', machine.os],
        ['Node.js', `${machine.node} (V8 ${machine.v8})`],
        [
          'machine check before the run',
          check
            ? `${check.quiet ? 'quiet' : `**busy**: ${check.reasons.join('; ')}`}. 1-minute load average ${fmt(check.loadAverage[0])} (limit ${fmt(check.loadLimit)}), CPU steal ${pct(check.steal)} (limit 1%), CPU busy ${pct(check.busy)}, sampled over ${fmt(check.sampleMs / 1000, 0)} s from /proc/stat before the bench started anything`
            : 'not checked',
        ],
        [
          'load average (1 min) before / during the rounds (max) / after',
          `${fmt(loads.before?.[0])} / ${roundLoads.length > 0 ? fmt(Math.max(...roundLoads)) : '–'} / ${fmt(loads.after?.[0])}`,
        ],
        ...Object.entries(versions.packages).map(([name, version]) => [`\`${name}\``, version]),
      ],
    ),
  );

  push(
    '## Method',
    [
      `- **A quiet machine.** Before it starts anything, the bench reads the 1-minute load average and samples CPU steal over 2 s from /proc/stat; a run that starts with a load above ${fmt(check?.loadLimit ?? 0.5)} (0.25 per core) or steal above 1% says so at the top of this file and leaves the README's table alone. A full run waits up to 5 minutes (\`BENCH_WAIT_QUIET\`) for a busy machine to settle first.`,
      `- **One process per variant.** Each (suite, variant) pair runs in its own Node.js process with the client and the server in it, talking over loopback (127.0.0.1). Auto-instrumentation patches modules at load, so variants cannot share a process. All processes start first and stay up; the parent tells one at a time what to run, so only one is busy at any moment.`,
      `- **Interleaved rounds.** ${config.rounds} rounds; in every round each scenario runs once in every variant, in an order that rotates from round to round. Before the rounds each process is warmed up, and each scenario is sized so that one measurement takes about ${config.targetMs} ms in the baseline; every variant then runs the same number of operations.`,
      `- **Ratios within a round.** A variant's CPU time per operation (user + system, the whole process: client and server) is divided into the baseline's in the same round; the tables give the median of those ratios over the rounds with the interquartile range in parentheses. CPU time is the figure the targets use: it does not count the time the process waits for the CPU while other work runs. Wall-clock throughput ratios and overheads are in the per-scenario tables.`,
      '- **The A/A control.** A second, identical baseline process, measured like every variant: its ratio to the baseline would be 1 on a perfectly quiet machine. Its spread is printed beside every ratio; a difference smaller than it is noise.',
      "- **The same SDK everywhere.** Every variant registers `NodeTracerProvider` from `@opentelemetry/sdk-trace-node` (AsyncLocalStorage context manager, W3C trace context + baggage propagators, always-on sampling) with a `BatchSpanProcessor` whose exporter counts spans and drops them: span creation and ending are measured, serialisation and network export (the same per span whoever makes it) are not. Every operation starts inside a sampled span, as after a user's click, so there is a real context to propagate.",
      "- **Propagation is checked, not assumed.** Operations come from 64 callers in turn, each a sampled span in its own trace (the ten operations of a batch come from ten callers), and send their caller's trace id in their input. Every procedure, resolver and subscription event on the server checks that it runs in that trace; the column *in caller's trace* gives the share that did. Spans per operation are counted by the exporter.",
      '- **Closed loop.** Single calls run 4 at a time, batches 2 at a time, the resolver-heavy queries 2 at a time, subscriptions one at a time (each event an operation). The core pair and the SDK floor run in a tight synchronous loop inside an active span.',
      `- **Memory.** After the rounds, the baseline and our ${measuredMetrics ? 'three variants (with spans and metrics on too)' : 'two variants'} run every scenario for up to ${int(config.memoryOps)} more operations (fewer where that would take more than about ${fmt((config.memoryBudgetMs ?? Number.NaN) / 1000, 0)} s in the baseline: the field-heavy queries) and report \`heapUsed\` after a forced full GC at ${config.memoryCheckpoints?.length ?? config.memoryCheckpoints} evenly spaced checkpoints. Growth per operation is the Theil–Sen slope of the heap over those checkpoints (the median of the slopes between every two of them: pools and caches step the heap up or down by a MiB or two now and then, a leak raises every slope); more than ${TARGET_HEAP_BYTES_PER_OP} B per operation above the baseline's slope counts as growth (what an operation could leave behind, a closure, a map entry with its key, a span, takes at least that), or more than a one-off 2 MiB step spread over a shorter run.`,
      '- **Profile and calls.** After the memory runs, our variants run every scenario once more under the V8 sampling profiler ([Where our time goes](#where-our-time-goes-cpu-profile)); then a separate counting process per variant counts the OpenTelemetry calls our code makes ([Calls per operation](#calls-per-operation)).',
    ].join('\n'),
  );

  push(
    '### Variants',
    table(
      ['variant', 'what it does'],
      [
        ['baseline', 'the same app with no propagation and no instrumentation (the SDK is still registered)'],
        [
          'baseline again (A/A)',
          'a second, identical baseline process: how far two identical processes differ on this machine, i.e. the noise floor',
        ],
        ['ours, `spans: false`', 'client link + server middleware/plugin of otel-rpc-context, propagation only'],
        [
          'ours, with spans',
          `the same, plus one CLIENT span per operation and one SERVER span per procedure/operation${measuredMetrics ? '; no MeterProvider is registered, so the duration histograms are no-ops' : ''}`,
        ],
        ...(measuredMetrics
          ? [
              [
                'ours, with spans and a MeterProvider (metrics on)',
                'the same as *ours, with spans*, plus a `MeterProvider` from `@opentelemetry/sdk-metrics` registered globally: the client and server duration histograms record every operation and the SDK aggregates them; its one reader is collected after each measurement and exports nothing ([Metrics](#metrics)). Not an anchor: it is judged against ours with spans',
              ],
            ]
          : []),
        [
          'empty link + middleware (tRPC)',
          'a pass-through link `() => ({ next, op }) => next(op)` and an empty middleware `t.procedure.use(({ next }) => next())`: what tRPC charges for any link and middleware',
        ],
        [
          'empty link + plugin (GraphQL)',
          'a pass-through `ApolloLink` and an Envelop plugin with the hooks ours registers (request parse, context errors, parse, validate, execute, subscribe, and `instrumentation` wrappers of parse, validate, context, execute and subscribe), all doing nothing',
        ],
        ...(measuredFloor ? FLOOR_VARIANT_ROWS : []),
        [
          'instrumentation-http + -undici',
          'HTTP auto-instrumentation: a span per HTTP request on both sides, `traceparent` per request',
        ],
        [
          'instrumentation-graphql + -http + -undici',
          'the above plus the GraphQL auto-instrumentation, resolver spans off. Under Yoga it records parse and validate spans only for the first request of each document (Yoga caches both and executes with its own executor), so in steady state it costs its patches and the HTTP spans',
        ],
        ['`@envelop/opentelemetry`', 'Envelop plugin: one span per operation (resolver spans off); propagates nothing'],
        [
          '`@graphql-hive/plugin-opentelemetry`',
          'Hive plugin: HTTP, operation, parse, validate, context and execute spans; extracts `traceparent` from the HTTP request',
        ],
      ],
    ),
  );

  if (analysis.core) {
    const suite = results.suites.core;
    push(
      '## Core and SDK floor',
      `Tight synchronous loops inside an active span. The SDK floor is the least a traced operation can cost with this SDK: a CLIENT span started under the caller, its context injected into a carrier, extracted, a SERVER span started under it, \`context.with\` around the handler, both spans ended (a \`BasicTracerProvider\` with a span processor that does nothing: no export work at all). Our with-spans figure is judged above it.`,
      table(
        ['scenario', 'ns per operation, median (IQR)', 'CPU µs per operation'],
        Object.entries(analysis.core).map(([scenario, variants]) => [
          suite.scenarios[scenario].label,
          spread(variants.sdk.ns, 0),
          fmt(variants.sdk.cpuUs.median, 3),
        ]),
      ),
    );
  }

  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    const scenarios = analysis[suiteName];
    const title =
      {
        trpc: 'tRPC',
        graphql: 'GraphQL (graphql-yoga + Apollo Client)',
        'apollo-server': 'Apollo Server (Express) + Apollo Client',
      }[suiteName] ?? suiteName;
    push(`## ${title}`);
    const names = Object.keys(scenarios);
    push(
      'CPU-time ratio to the baseline of the same round: median (interquartile range). The A/A row is the noise.',
      table(
        ['variant', ...names.map((s) => suite.scenarios[s].label)],
        Object.keys(suite.variants).map((variant) => [
          suite.variants[variant].label,
          ...names.map((s) =>
            variant === 'baseline'
              ? `${fmt(scenarios[s].baseline?.cpuUs.median, 1)} µs CPU/op`
              : spread(scenarios[s][variant]?.cpuRatio),
          ),
        ]),
      ),
    );
    for (const [scenario, variants] of Object.entries(scenarios)) {
      const v = view(results, analysis, suiteName, scenario);
      push(
        `### ${suite.scenarios[scenario].label}`,
        `${int(suite.opsPerMeasurement[scenario])} operations per measurement, ${variants.baseline?.ratio?.n ?? 0} rounds. ` +
          `A/A control: CPU-time ratio ${spread(v.aa)}, throughput ratio ${spread(v.aaWall)}, so differences within about ±${fmt(v.noise)} are noise.`,
        table(
          [
            'variant',
            `CPU-time ratio (A/A ${spread(v.aa)})`,
            'CPU µs/op',
            'CPU overhead µs/op',
            `throughput ratio (A/A ${spread(v.aaWall)})`,
            'min–max',
            'ops/s',
            'wall overhead µs/op',
            'spans/op',
            "in caller's trace",
          ],
          Object.entries(variants).map(([variant, x]) => [
            suite.variants[variant]?.label ?? variant,
            variant === 'baseline' ? '1' : spread(x.cpuRatio),
            fmt(x.cpuUs.median, 1),
            variant === 'baseline' ? '' : spread(x.cpuOverheadUs, 1),
            variant === 'baseline' ? '1' : spread(x.ratio),
            variant === 'baseline' ? '' : `${fmt(x.ratio.min)}–${fmt(x.ratio.max)}`,
            int(x.opsPerS.median),
            variant === 'baseline' ? `(${fmt(x.wallUs.median, 1)} µs/op)` : spread(x.overheadUs, 1),
            fmt(x.spansPerOp, 3),
            Number.isFinite(x.joined) ? pct(x.joined, 0) : '–',
          ]),
        ),
      );
    }
  }

  const countRows = [];
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const [scenario, byVariant] of Object.entries(suite.counts ?? {})) {
      for (const [variant, c] of Object.entries(byVariant)) {
        countRows.push([
          suite.scenarios[scenario].label,
          suite.variants[variant]?.label ?? variant,
          int(c.ops),
          ...COUNTED.map(([key]) => fmt(c.counts[key] / c.ops, 2)),
          c.counts.functions === undefined ? '–' : fmt(c.counts.functions / c.ops, 1),
        ]);
      }
    }
  }
  if (countRows.length > 0) {
    push(
      '## Calls per operation',
      "How many times per operation (client and server together) our code calls each OpenTelemetry function, counted in a separate process whose global propagator, context manager and tracer provider are wrapped in counting proxies (bench/lib/count.mjs). A call counts as ours when the nearest frame up its stack outside OpenTelemetry and Node.js's async-context machinery is in otel-rpc-context, the rule the profile uses; calls the driver, the app or tRPC/Yoga make are not counted. A propagated operation needs one inject (client) and one extract (server); `context.with` once per side at most; with spans, one `startSpan` per side. *Our function calls*: every call of a function in our compiled files, counted exactly by V8's precise coverage (`Profiler.startPreciseCoverage` with call counts) in the same process: anything of ours that ran per resolver, per field or per batch entry would raise it with the scenario's size (`node bench/profile.mjs <suite> <variant> <scenario> --count` lists the most called).",
      table(
        ['scenario', 'variant', 'ops counted', ...COUNTED.map(([, name]) => name), 'our function calls'],
        countRows,
      ),
    );
  }

  const memory = memoryRows(results);
  if (memory.length > 0) {
    push(
      '## Memory',
      'Heap used (`heapUsed`) after a forced full GC, at the first and last of evenly spaced checkpoints of a run of the given number of operations beyond the benchmark rounds; growth is the Theil–Sen slope over all checkpoints.',
      table(
        ['scenario', 'variant', 'operations', 'heap at first checkpoint', 'heap at last', 'growth B/op', 'vs baseline'],
        memory.map((row) => [
          row.scenarioLabel,
          row.variantLabel,
          int(row.ops),
          mib(row.samples[0].heapUsed),
          mib(row.samples.at(-1).heapUsed),
          fmt(row.growth, 1),
          row.variant === 'baseline'
            ? ''
            : `${fmt(row.growth - row.baseGrowth, 1)} (limit +${fmt(row.tolerance, 0)}) ${row.growth - row.baseGrowth <= row.tolerance ? '✓' : '✗'}`,
        ]),
      ),
    );
  }

  const profileRows = [];
  for (const suite of Object.values(results.suites)) {
    for (const [scenario, byVariant] of Object.entries(suite.profiles ?? {})) {
      for (const [variant, p] of Object.entries(byVariant)) {
        profileRows.push([
          suite.scenarios[scenario].label,
          suite.variants[variant]?.label ?? variant,
          `${fmt(p.oursUs, 1)} ± ${fmt(profileError(p), 1)}`,
          fmt((p.callsShare / p.share) * p.oursUs, 1),
          pct(p.share),
          fmt(p.mainCpuUs ?? p.wallUs, 1),
          int(p.samples),
          p.byFunction
            .slice(0, 4)
            .map((row) => `${fmt(row.us)} ${mdCell(row.where)}`)
            .join('<br>'),
        ]);
      }
    }
  }
  if (profileRows.length > 0) {
    // Results since main-thread CPU time was measured give our µs as a share of it; older ones of the wall time.
    const cpuBased = Object.values(results.suites).some((suite) =>
      Object.values(suite.profiles ?? {}).some((byVariant) =>
        Object.values(byVariant).some((p) => p.mainCpuUs !== undefined),
      ),
    );
    const measuredFloorProfile = Object.values(results.suites).some((suite) =>
      Object.values(suite.profiles ?? {}).some((byVariant) =>
        Object.keys(byVariant).some((variant) => roleOf(suite, variant) === 'floor'),
      ),
    );
    push(
      '## Where our time goes (CPU profile)',
      "After the rounds, each of our variants runs every scenario once more (about 2 s) under the V8 sampling profiler, one sample per 500 µs (at 100 µs the sampler's own stack walks slow a deep GraphQL execution by half and skew the shares). " +
        (measuredFloorProfile
          ? "So do the OTel floor variants, whose samples are charged to bench/lib/floor.mjs instead of otel-rpc-context: their *ours µs/op* is the floor's own cost in the same app. "
          : '') +
        "Each sample goes to the nearest frame up its stack that is not OpenTelemetry or Node.js internals; when that frame is otel-rpc-context's, " +
        'the sample is our cost, including the OpenTelemetry calls we make (inject, extract, `context.with`, spans). ' +
        (cpuBased
          ? "*Ours µs/op* is our share of the main thread's busy samples times its CPU time per operation (with the profiler running), ± one standard error of the sample count: on a loaded machine the sampler keeps ticking while the main thread waits for a core, so wall time would charge us for other processes' time; "
          : '*Ours µs/op* is our share of the samples times the measured wall time per operation (with the profiler running), ± one standard error of the sample count; ') +
        '*of which OTel/Node calls* is the part spent inside the OpenTelemetry API/SDK and Node.js (inject, extract, `context.with`, AsyncLocalStorage, spans). ' +
        '*Share* is our samples over all non-idle samples of the main thread (garbage collection counts in the whole, not in our part). ' +
        'Client and server run in one process here, so the figures cover both sides of each operation.',
      table(
        [
          'scenario',
          'variant',
          'ours µs/op',
          'of which OTel/Node calls µs/op',
          'share',
          cpuBased ? 'main-thread CPU µs/op (profiled)' : 'wall µs/op (profiled)',
          'samples',
          'top functions (µs/op, file in src/)',
        ],
        profileRows,
      ),
    );
  }

  const metrics = metricsSection(results, analysis);
  if (metrics) push(...metrics);

  const failed = Object.entries(results.suites).flatMap(([suiteName, suite]) =>
    Object.entries(suite.failed ?? {}).map(([variant, f]) => [suiteName, f.label ?? variant, f.reason]),
  );
  if (failed.length > 0) push('## Variants that did not run', table(['suite', 'variant', 'reason'], failed));

  const markdown = `${lines.join('\n').trimEnd()}\n`;
  return {
    markdown,
    readmeSection: renderReadmeSection(results, analysis, linkFrom),
    verdicts,
    analysis,
  };
}

/**
 * What recording the duration histograms costs when a MeterProvider is registered: ours with metrics on
 * against ours with spans, both as CPU-time ratios to the same round's baseline, paired round by round with
 * each other, and as the profile's µs of our code. Undefined for runs that did not measure it.
 */
function metricsSection(results, analysis) {
  const rows = [];
  for (const suiteName of rpcSuites(results)) {
    const suite = results.suites[suiteName];
    for (const variant of variantsWith(suite, 'metrics')) {
      for (const scenario of Object.keys(analysis[suiteName] ?? {})) {
        const v = view(results, analysis, suiteName, scenario);
        const spans = v.ours['ours-spans'];
        const metrics = v.ours[variant];
        if (!metrics?.cpuRatio && !metrics?.profile) continue;
        // Round by round against ours with spans: the CPU time metrics add on top of everything else.
        const vsSpans = suite.records[scenario]?.[variant]
          ? paired(suite.records[scenario], variant, 'ours-spans')
          : undefined;
        const gap = metrics.us - spans.us;
        rows.push([
          label(suite, scenario),
          Number.isFinite(v.noise) ? `±${fmt(v.noise)}` : '–',
          spread(spans.cpuRatio),
          spread(metrics.cpuRatio),
          spread(vsSpans?.cpuRatio),
          spread(vsSpans?.cpuOverheadUs, 1),
          Number.isFinite(spans.us) ? `${fmt(spans.us, 1)} ± ${fmt(spans.usError, 1)}` : '–',
          Number.isFinite(metrics.us) ? `${fmt(metrics.us, 1)} ± ${fmt(metrics.usError, 1)}` : '–',
          Number.isFinite(gap)
            ? `${gap >= 0 ? '+' : ''}${fmt(gap, 1)} ± ${fmt(Math.hypot(spans.usError, metrics.usError), 1)}`
            : '–',
          fmt(v.variants[variant]?.histogramRecordsPerOp, 3),
        ]);
      }
    }
  }
  if (rows.length === 0) return undefined;
  return [
    '## Metrics',
    'Every integration records a duration histogram per operation (`rpc.client.call.duration`, `rpc.server.call.duration`, `graphql.client.request.duration`, `graphql.server.request.duration`) through the global `MeterProvider` (option `metrics`, on by default); until an application registers one, the metrics API is a no-op, as in every other variant here. ' +
      '*Ours, spans + metrics* registers a `MeterProvider` from `@opentelemetry/sdk-metrics` whose one reader aggregates every record and is collected after each measurement, exporting nothing (exporter I/O is the same whoever records). ' +
      'The CPU-time ratios are to the same round’s baseline, as everywhere; *metrics vs spans* divides ours with spans’ CPU time per operation by the metrics variant’s in the same round (1 = metrics cost nothing), and *CPU µs/op added* is the difference, median (IQR) over the rounds. ' +
      'The profile columns are our code’s µs per operation (± one standard error), which includes the histogram records our code makes; *histogram records/op* is what the reader collected per operation (one per side of a call; a subscription records once per side, not per event).',
    table(
      [
        'scenario',
        'noise (A/A)',
        'ours, with spans: CPU ratio',
        'ours, spans + metrics: CPU ratio',
        'metrics vs spans, same round',
        'CPU µs/op added',
        'ours µs/op, with spans (profile)',
        'ours µs/op, spans + metrics (profile)',
        'difference µs/op',
        'histogram records/op',
      ],
      rows,
    ),
  ];
}

function renderReadmeSection(results, analysis, linkFrom) {
  const { text, legend } = glance(results, analysis);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const link = path
    .relative(linkFrom ?? root, path.join(root, 'BENCHMARKS.md'))
    .split(path.sep)
    .join('/');
  const lines = [
    '## Performance',
    '',
    `CPU time per operation as a share of the same app without propagation (1 = no cost; median of ${results.config.rounds} interleaved rounds, client and server over loopback, the OpenTelemetry SDK registered in every variant), then the time our code takes per operation, client and server together, from a CPU profile of the same scenario. ` +
      `*Noise (A/A)*: how far a second, identical app process strayed from 1; smaller differences are not results. ✓ the anchor's operations run in their caller's trace, ✗ they do not. ${FLOOR_LEGEND} ${results.machine.cores}-core ${results.machine.cpu.trim()}, Node.js ${results.machine.node}.`,
    '',
    text,
    '',
  ];
  if (legend.length > 0) lines.push(legend.join('\n'), '');
  const core = analysis.core?.pair?.sdk;
  const floor = analysis.core?.floor?.sdk;
  if (core) {
    const raw = analysis.core?.raw?.sdk;
    const rawText = raw
      ? ` (the same inject, extract and \`context.with\` through the raw OpenTelemetry API: ${int(coreNs(analysis.core.raw))} ns)`
      : '';
    const floorText = floor
      ? ` The OpenTelemetry SDK alone spends ${fmt(floorPairUs(analysis), 2)} µs on a traced operation's two spans with that propagation: our with-spans figures are judged above it.`
      : '';
    lines.push(
      `The core pair, \`getContext()\` + \`attachContext()\`, costs ${int(coreNs(analysis.core.pair))} ns${rawText}.${floorText}`,
      '',
    );
  }
  lines.push(
    `Targets, wall-clock medians and their spreads, calls per operation, memory, the empty-middleware variants and every anchor: [BENCHMARKS.md](${link}).`,
    '',
    `Reproduce with \`npm run bench\` on a quiet machine (about ${Math.max(1, Math.round(results.durationS / 60))} min here; \`BENCH_QUICK=1 npm run bench\` is a smoke run whose figures mean nothing).`,
  );
  return lines.join('\n');
}

const START = '<!-- section:bench -->';
const END = '<!-- /section:bench -->';

/** Whether `text` holds exactly one well-formed bench section. */
const hasSection = (text) => {
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  return i >= 0 && j > i && text.indexOf(START, i + 1) < 0 && text.indexOf(END, j + 1) < 0;
};

/**
 * The file that holds the bench section markers: README.md, or the Markdown file under docs/ the
 * section moved to. Undefined when no file has them (then nothing is written).
 * @param {string} root the repository root
 */
export function findBenchSection(root) {
  const candidates = [path.join(root, 'README.md')];
  const docs = path.join(root, 'docs');
  if (existsSync(docs)) {
    for (const entry of readdirSync(docs, { recursive: true })) {
      if (String(entry).endsWith('.md')) candidates.push(path.join(docs, String(entry)));
    }
  }
  return candidates.find((file) => existsSync(file) && hasSection(readFileSync(file, 'utf8')));
}

/** Replaces only what lies between the bench section markers; everything else in the file stays as it is. */
export function updateBenchSection(file, section) {
  const text = readFileSync(file, 'utf8');
  if (!hasSection(text)) return false;
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  writeFileSync(file, `${text.slice(0, i + START.length)}\n${section}\n${text.slice(j)}`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const readmeOnly = args[0] === '--readme';
  const resultsPath = (readmeOnly ? args[1] : args[0]) ?? 'bench/results.json';
  const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
  const { markdown, readmeSection } = renderReport(results);
  process.stdout.write(readmeOnly ? `${readmeSection}\n` : markdown);
}
