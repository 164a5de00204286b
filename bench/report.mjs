// Turns the raw results of bench/run.mjs into BENCHMARKS.md and the README's bench section.
// Re-render without re-running: node bench/report.mjs bench/results.json > BENCHMARKS.md
// The README section alone:       node bench/report.mjs --readme bench/results.json
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, summary } from './lib/stats.mjs';

const TARGET_NO_SPANS = 0.98;
const TARGET_SPANS = 0.95;
const TARGET_CORE_NS = 1500;
/**
 * Heap growth per operation, above the baseline's, that counts as growth with operations. What an
 * operation could leave behind (a closure, a map entry with its key, a span) takes 32 bytes or more;
 * a one-off step of 2 MiB (pools, caches) over 90,000 operations stays below it.
 */
const TARGET_HEAP_BYTES_PER_OP = 32;
const OURS = ['ours-nospans', 'ours-spans'];
const isAnchor = (suite, variant) =>
  variant !== 'baseline' && !OURS.includes(variant) && !suite.variants[variant]?.control;
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
const spread = (s, digits = 2) => `${fmt(s.median, digits)} (${fmt(s.p25, digits)}–${fmt(s.p75, digits)})`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Per-round paired figures of `variant` against the same round's baseline. */
export function paired(records, variant) {
  const base = new Map((records.baseline ?? []).map((r) => [r.round, r]));
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

function verdictsFor(results, analysis) {
  const verdicts = [];
  const core = analysis.core?.pair?.sdk;
  if (core) {
    verdicts.push({
      target: 'core pair ≤ 1.5 µs',
      text: `core getContext + attachContext: ${int(core.ns.median)} ns per pair (target ≤ ${int(TARGET_CORE_NS)} ns)`,
      met: core.ns.median <= TARGET_CORE_NS,
    });
  }
  for (const suiteName of ['trpc', 'graphql']) {
    const suite = results.suites[suiteName];
    const scenarios = analysis[suiteName];
    if (!scenarios) continue;
    for (const [scenario, variants] of Object.entries(scenarios)) {
      const label = suite.scenarios[scenario].label;
      for (const [variant, target] of [
        ['ours-nospans', TARGET_NO_SPANS],
        ['ours-spans', TARGET_SPANS],
      ]) {
        const v = variants[variant];
        if (!v?.ratio) continue;
        const profile = suite.profiles?.[scenario]?.[variant];
        const implied = profile ? 1 - profile.share : undefined;
        const profiled = profile
          ? `; profile: our code is ${fmt(100 * profile.share, 1)}% of the main thread's work (${fmt(profile.oursUs, 1)} µs/op), implied ratio ${fmt(implied, 3)} ${implied >= target ? '✓' : '✗'}; the OpenTelemetry/Node calls in it alone are ${fmt(100 * profile.callsShare, 1)}% (ratio ${fmt(1 - profile.callsShare, 3)} if our own code cost nothing)`
          : '';
        verdicts.push({
          suite: suiteName,
          scenario,
          kind: variant,
          value: v.ratio.median,
          implied,
          impliedMet: implied === undefined ? undefined : implied >= target,
          target: variant === 'ours-nospans' ? '`spans: false` ≥ 0.98' : 'with spans ≥ 0.95',
          text: `${label}, ${suite.variants[variant].label}: ${fmt(v.ratio.median)} of baseline (IQR ${fmt(v.ratio.p25)}–${fmt(v.ratio.p75)}; CPU-time ratio ${fmt(v.cpuRatio.median)}${profiled}; target ≥ ${target})`,
          met: v.ratio.median >= target,
        });
      }
      const ours = variants['ours-spans'];
      if (!ours?.ratio) continue;
      for (const [anchor, a] of Object.entries(variants)) {
        if (!isAnchor(suite, anchor) || !a.ratio) continue;
        const share = Number.isFinite(a.joined)
          ? `; its operations in the caller's trace: ${Math.round(a.joined * 100)}%`
          : '';
        verdicts.push({
          suite: suiteName,
          scenario,
          kind: 'anchor',
          anchor: suite.variants[anchor].short ?? suite.variants[anchor].label,
          value: a.ratio.median,
          joined: a.joined,
          target: 'with spans, less overhead than each anchor',
          text: `${label}: ours with spans ${fmt(1 - ours.ratio.median)} overhead vs ${suite.variants[anchor].label} ${fmt(1 - a.ratio.median)}${share}`,
          met: ours.ratio.median > a.ratio.median,
        });
      }
    }
  }
  const gql = analysis.graphql;
  if (gql?.fields1k && gql?.fields5k) {
    for (const variant of OURS) {
      const a = gql.fields1k[variant];
      const b = gql.fields5k[variant];
      if (!a?.overheadUs || !b?.overheadUs) continue;
      const growth = b.overheadUs.median - a.overheadUs.median;
      const noise = (b.overheadUs.p75 - b.overheadUs.p25) / 2;
      const p1 = results.suites.graphql.profiles?.fields1k?.[variant];
      const p5 = results.suites.graphql.profiles?.fields5k?.[variant];
      const profiled =
        p1 && p5
          ? `; profile of our code: ${fmt(p1.oursUs, 1)} µs/op at 1,000 fields → ${fmt(p5.oursUs, 1)} µs/op at 5,000 (×${fmt(p5.oursUs / p1.oursUs)}; ×5 would mean a cost per resolver)`
          : '';
      verdicts.push({
        kind: 'flat',
        target: 'resolver-heavy overhead flat',
        text: `${results.suites.graphql.variants[variant].label}: overhead ${fmt(a.overheadUs.median, 1)} µs/op at 1,000 fields, ${fmt(b.overheadUs.median, 1)} µs/op at 5,000 (growth ${fmt(growth, 1)} µs vs noise ±${fmt(noise, 1)} µs; CPU ${fmt(a.cpuOverheadUs.median, 1)} → ${fmt(b.cpuOverheadUs.median, 1)} µs${profiled})`,
        // The profile resolves µs; the throughput difference only resolves hundreds of µs here.
        met: p1 && p5 ? p5.oursUs <= 2 * p1.oursUs : growth <= Math.max(noise, 0),
      });
    }
  }
  for (const suite of Object.values(results.suites)) {
    for (const [scenario, byVariant] of Object.entries(suite.memory ?? {})) {
      const base = byVariant.baseline;
      if (!base) continue;
      for (const variant of OURS) {
        const samples = byVariant[variant];
        if (!samples) continue;
        const extra = slope(samples) - slope(base);
        verdicts.push({
          target: 'no heap growth with operations',
          text: `${suite.scenarios[scenario].label}, ${suite.variants[variant]?.label ?? variant}: heap ${mib(samples.at(-1).heapUsed)} after ${int(samples.at(-1).ops)} ops (baseline ${mib(base.at(-1).heapUsed)}); growth ${fmt(slope(samples), 1)} B/op vs baseline ${fmt(slope(base), 1)} B/op`,
          met: extra <= TARGET_HEAP_BYTES_PER_OP,
        });
      }
    }
  }
  return verdicts;
}

function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function renderReport(results) {
  const analysis = analyse(results);
  const verdicts = verdictsFor(results, analysis);
  const { machine, versions, config } = results;
  const lines = [];
  const push = (...chunks) => {
    for (const chunk of chunks) lines.push(chunk, '');
  };

  push(
    '# Benchmarks',
    `Written by \`npm run bench\` (bench/run.mjs) on ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC in ${results.durationS} s; ` +
      `otel-rpc-context ${versions.self.version} at commit \`${versions.self.commit}\`${versions.self.srcDirty ? ' (with uncommitted changes in src/)' : ''}. ` +
      'Every figure below comes from that run; the raw per-round measurements are in [bench/results.json](bench/results.json). ' +
      'Do not edit by hand: rerun `npm run bench`.',
  );
  if (config.quick) push('> **Quick smoke run (`BENCH_QUICK=1`): tiny counts, the figures mean nothing.**');

  const mark = (v) => {
    if (v === undefined) return '–';
    const measured = v.met ? `${fmt(v.value)} ✓` : `**${fmt(v.value)} ✗**`;
    if (v.implied === undefined) return measured;
    return `${measured} · profile ${fmt(v.implied, 3)} ${v.impliedMet ? '✓' : '✗'}`;
  };
  const matrix = [];
  for (const suiteName of ['trpc', 'graphql']) {
    const suite = results.suites[suiteName];
    for (const scenario of Object.keys(suite?.scenarios ?? {})) {
      const mine = verdicts.filter((v) => v.suite === suiteName && v.scenario === scenario);
      const anchors = mine.filter((v) => v.kind === 'anchor');
      const beaten = anchors.filter((v) => v.met).length;
      const all = beaten === anchors.length;
      matrix.push([
        suite.scenarios[scenario].short ?? suite.scenarios[scenario].label,
        mark(mine.find((v) => v.kind === 'ours-nospans')),
        mark(mine.find((v) => v.kind === 'ours-spans')),
        anchors.length === 0
          ? '–'
          : `${all ? '' : '**'}${beaten} of ${anchors.length} ${all ? '✓' : '✗**'} (${anchors.map((v) => `${fmt(v.value)} ${v.anchor} [${Number.isFinite(v.joined) ? Math.round(100 * v.joined) : '–'}%]`).join(', ')})`,
      ]);
    }
  }
  push(
    '## Targets',
    "Throughput as a share of the baseline (median over rounds), then the ratio the CPU profile implies (1 − our share of the main thread's work, see [Where our time goes](#where-our-time-goes-cpu-profile)); ✓ met, ✗ missed. " +
      "In brackets after each anchor: the share of its operations that ran in their own caller's trace (ours: 100% everywhere; see the *in caller's trace* columns). " +
      'The A/A row of each results table shows how far two identical processes drift apart on this machine: where that spread is wider than the gap to a target, the profile is the more precise figure. Spreads, CPU-time ratios and the other targets in the list below the table.',
    table(
      ['scenario', '`spans: false` ≥ 0.98', 'with spans ≥ 0.95', 'with spans ahead of each anchor (anchor ratios)'],
      matrix,
    ),
    table(
      ['', 'target', 'measured'],
      verdicts.map((v) => [v.met ? 'met' : '**missed**', v.target, v.text]),
    ),
  );

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
          'load average (1 min) before / after',
          `${fmt(results.loadAverage.before[0])} / ${fmt(results.loadAverage.after[0])}`,
        ],
        ...Object.entries(versions.packages).map(([name, version]) => [`\`${name}\``, version]),
      ],
    ),
  );

  push(
    '## Method',
    [
      `- **One process per variant.** Each (suite, variant) pair runs in its own Node.js process with the client and the server in it, talking over loopback (127.0.0.1). Auto-instrumentation patches modules at load, so variants cannot share a process. All processes start first and stay up; the parent tells one at a time what to run, so only one is busy at any moment.`,
      `- **Interleaved rounds.** ${config.rounds} rounds; in every round each scenario runs once in every variant, in an order that rotates from round to round. Before the rounds each process is warmed up, and each scenario is sized so that one measurement takes about ${config.targetMs} ms in the baseline; every variant then runs the same number of operations.`,
      `- **Ratios within a round.** A variant's throughput is divided by the baseline's throughput in the same round; the tables give the median of those ratios over the rounds with the interquartile range in parentheses. The CPU-time ratio is the same with the process's CPU time per operation (user + system) instead of wall time: it is less sensitive to other load on the machine. Overhead in µs is the per-round difference in wall time per operation.`,
      `- **The same SDK everywhere.** Every variant registers \`NodeTracerProvider\` from \`@opentelemetry/sdk-trace-node\` (AsyncLocalStorage context manager, W3C trace context + baggage propagators, always-on sampling) with a \`BatchSpanProcessor\` whose exporter counts spans and drops them: span creation and ending are measured, serialisation and network export (the same per span whoever makes it) are not. Every operation starts inside a sampled span, as after a user's click, so there is a real context to propagate.`,
      "- **Propagation is checked, not assumed.** Operations come from 64 callers in turn, each a sampled span in its own trace (the ten operations of a batch come from ten callers), and send their caller's trace id in their input. Every procedure, resolver and subscription event on the server checks that it runs in that trace; the column *in caller's trace* gives the share that did. Spans per operation are counted by the exporter.",
      `- **Closed loop.** Single calls run 4 at a time, batches 2 at a time, the resolver-heavy queries 2 at a time, subscriptions one at a time (${results.suites.trpc ? 'each of 1,000 events' : ''}). The core pair runs in a tight synchronous loop inside an active span.`,
      `- **Memory.** After the rounds, the baseline and our two variants run ${int(config.memoryOps)} more operations of each memory scenario (calls in batches of 10; subscription events) and report \`heapUsed\` after a forced full GC at ${config.memoryCheckpoints.map(int).join(', ')} operations. Growth per operation is the Theil–Sen slope of the heap over those checkpoints (the median of the slopes between every two of them: pools and caches step the heap up or down by a MiB or two now and then, a leak raises every slope); more than ${TARGET_HEAP_BYTES_PER_OP} B per operation above the baseline's slope counts as growth (what an operation could leave behind, a closure, a map entry with its key, a span, takes at least that; a one-off step of 2 MiB over 90,000 operations stays below it).`,
      '- An A/A run of the baseline against itself swings by several percent on a 2-core machine; read differences of a few percent against the interquartile ranges.',
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
          'the same, plus one CLIENT span per operation and one SERVER span per procedure/operation',
        ],
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

  for (const [suiteName, suite] of Object.entries(results.suites)) {
    const scenarios = analysis[suiteName];
    if (suiteName === 'core') {
      push(
        '## Core',
        table(
          ['scenario', 'ns per operation, median (IQR)', 'CPU µs per operation'],
          Object.entries(scenarios).map(([scenario, variants]) => [
            suite.scenarios[scenario].label,
            spread(variants.sdk.ns, 0),
            fmt(variants.sdk.cpuUs.median, 3),
          ]),
        ),
      );
      continue;
    }
    push(`## ${suiteName === 'trpc' ? 'tRPC' : 'GraphQL (graphql-yoga + Apollo Client)'}`);
    push(
      'Throughput as a ratio to the baseline of the same round: median (interquartile range).',
      table(
        ['variant', ...Object.keys(scenarios).map((s) => suite.scenarios[s].label)],
        Object.keys(suite.variants).map((variant) => [
          suite.variants[variant].label,
          ...Object.values(scenarios).map((variants) =>
            variant === 'baseline'
              ? `${int(variants.baseline?.opsPerS.median)} ops/s`
              : variants[variant]?.ratio
                ? spread(variants[variant].ratio)
                : '–',
          ),
        ]),
      ),
    );
    for (const [scenario, variants] of Object.entries(scenarios)) {
      push(
        `### ${suite.scenarios[scenario].label}`,
        `${int(suite.opsPerMeasurement[scenario])} operations per measurement, ${variants.baseline?.ratio?.n ?? 0} rounds.`,
        table(
          [
            'variant',
            'ops/s',
            'throughput ratio',
            'min–max',
            'CPU-time ratio',
            'overhead µs/op',
            'CPU overhead µs/op',
            'spans/op',
            "in caller's trace",
          ],
          Object.entries(variants).map(([variant, v]) => [
            suite.variants[variant]?.label ?? variant,
            int(v.opsPerS.median),
            variant === 'baseline' ? '1' : spread(v.ratio),
            variant === 'baseline' ? '' : `${fmt(v.ratio.min)}–${fmt(v.ratio.max)}`,
            variant === 'baseline' ? '1' : spread(v.cpuRatio),
            variant === 'baseline' ? `(${fmt(v.wallUs.median, 1)} µs/op)` : spread(v.overheadUs, 1),
            variant === 'baseline' ? `(${fmt(v.cpuUs.median, 1)} µs/op)` : spread(v.cpuOverheadUs, 1),
            fmt(v.spansPerOp, 2),
            Number.isFinite(v.joined) ? `${Math.round(v.joined * 100)}%` : '–',
          ]),
        ),
      );
    }
  }

  const memoryRows = [];
  for (const suite of Object.values(results.suites)) {
    for (const [scenario, byVariant] of Object.entries(suite.memory ?? {})) {
      for (const [variant, samples] of Object.entries(byVariant)) {
        memoryRows.push([
          suite.scenarios[scenario].label,
          suite.variants[variant]?.label ?? variant,
          ...samples.map((s) => (s.heapUsed / 2 ** 20).toFixed(1)),
          fmt(slope(samples), 1),
        ]);
      }
    }
  }
  if (memoryRows.length > 0) {
    push(
      '## Memory',
      'Heap used (`heapUsed`, MiB) after a forced full GC, after the given number of operations beyond the benchmark rounds.',
      table(
        ['scenario', 'variant', ...config.memoryCheckpoints.map((c) => `${int(c / 1000)}k`), 'growth B/op'],
        memoryRows,
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
          `${fmt(100 * p.share, 1)}%`,
          `${fmt(100 * p.callsShare, 1)}%`,
          fmt(1 - p.share, 3),
          fmt(p.oursUs, 1),
          fmt(p.wallUs, 1),
          int(p.samples),
          p.byFunction
            .slice(0, 4)
            .map((row) => `${fmt(row.us)} ${row.where.replace(/\|/g, '\\|')}`)
            .join('<br>'),
        ]);
      }
    }
  }
  if (profileRows.length > 0) {
    push(
      '## Where our time goes (CPU profile)',
      "After the rounds, each of our variants runs every scenario once more (about 2 s) under the V8 sampling profiler, one sample per 500 µs (at 100 µs the sampler's own stack walks slow a deep GraphQL execution by half and skew the shares). " +
        "Each sample goes to the nearest frame up its stack that is not OpenTelemetry or Node.js internals; when that frame is otel-rpc-context's, " +
        'the sample is our cost, including the OpenTelemetry calls we make (inject, extract, `context.with`, spans). ' +
        '*Share* is our samples over all non-idle samples of the main thread (garbage collection counts in the whole, not in our part); ' +
        '*of which OTel/Node calls* is the part of it spent inside the OpenTelemetry API/SDK and Node.js (inject, extract, `context.with`, AsyncLocalStorage, spans): the floor that remains however lean our own code gets. ' +
        'so *implied ratio* = 1 − share is the throughput ratio a CPU-bound server would see without our code. ' +
        'Samples are counted, not timed (a gap between samples spans whatever stopped the sampler); µs are the share of samples times the measured wall time per operation, with the profiler running. ' +
        'Client and server run in one process here, so the share covers both sides of each operation.',
      table(
        [
          'scenario',
          'variant',
          'share',
          'of which OTel/Node calls',
          'implied ratio',
          'ours µs/op',
          'wall µs/op (profiled)',
          'samples',
          'top functions (µs/op, file in src/)',
        ],
        profileRows,
      ),
    );
  }

  const failed = Object.entries(results.suites).flatMap(([suiteName, suite]) =>
    Object.entries(suite.failed ?? {}).map(([variant, f]) => [suiteName, f.label ?? variant, f.reason]),
  );
  if (failed.length > 0) push('## Variants that did not run', table(['suite', 'variant', 'reason'], failed));

  const markdown = `${lines.join('\n').trimEnd()}\n`;
  return { markdown, readmeSection: renderReadmeSection(results, analysis), verdicts, analysis };
}

function renderReadmeSection(results, analysis) {
  const columns = [
    ['ours-nospans', 'ours, `spans: false`'],
    ['ours-spans', 'ours, with spans'],
    ['http-auto', 'HTTP auto-instrumentation'],
    ['graphql-auto', 'instrumentation-graphql + HTTP'],
    ['envelop', '`@envelop/opentelemetry`'],
    ['hive', 'Hive OpenTelemetry plugin'],
  ];
  const rows = [];
  for (const suiteName of ['trpc', 'graphql']) {
    const suite = results.suites[suiteName];
    const scenarios = analysis[suiteName];
    if (!scenarios) continue;
    for (const [scenario, variants] of Object.entries(scenarios)) {
      const cell = (variant) => (variants[variant]?.ratio ? fmt(variants[variant].ratio.median) : '–');
      const ours = (variant) => (variants[variant]?.ratio ? `**${fmt(variants[variant].ratio.median)}**` : '–');
      rows.push([
        suite.scenarios[scenario].short ?? suite.scenarios[scenario].label,
        ours('ours-nospans'),
        ours('ours-spans'),
        ...columns.slice(2).map(([variant]) => cell(variant)),
      ]);
    }
  }
  const core = analysis.core?.pair?.sdk;
  const lines = [
    '## Performance',
    '',
    'Throughput as a share of the same app without propagation (median of interleaved rounds, client and server over loopback,',
    `OpenTelemetry SDK registered in every variant; ${results.machine.cores}-core ${results.machine.cpu.trim()}, Node.js ${results.machine.node}).`,
    '',
    table(['scenario', ...columns.map(([, title]) => title)], rows),
    '',
  ];
  const shares = (variant) =>
    ['trpc', 'graphql'].flatMap((suiteName) =>
      Object.values(results.suites[suiteName]?.profiles ?? {})
        .map((byVariant) => byVariant[variant]?.share)
        .filter(Number.isFinite),
    );
  const range = (values) =>
    values.length === 0 ? undefined : `${fmt(100 * Math.min(...values), 1)}–${fmt(100 * Math.max(...values), 1)}%`;
  const noSpans = range(shares('ours-nospans'));
  const withSpans = range(shares('ours-spans'));
  if (noSpans && withSpans) {
    lines.push(
      `Throughput medians move by several percent between two identical processes on this machine (the A/A rows in BENCHMARKS.md); a CPU profile of the same runs measures our code directly: ${noSpans} of the main thread's work with \`spans: false\`, ${withSpans} with spans, client and server together.`,
      '',
    );
  }
  const raw = analysis.core?.raw?.sdk;
  if (core) {
    const rawText = raw
      ? ` (the same inject, extract and \`context.with\` through the raw OpenTelemetry API: ${int(raw.ns.median)} ns)`
      : '';
    lines.push(`The core pair, \`getContext()\` + \`attachContext()\`, costs ${int(core.ns.median)} ns${rawText}.`, '');
  }
  lines.push(
    'Targets met and missed, spreads, CPU-time figures, where our time goes, memory and every variant: [BENCHMARKS.md](BENCHMARKS.md).',
    '',
    `Reproduce with \`npm run bench\` (about ${Math.max(1, Math.round(results.durationS / 60))} min on this machine; \`BENCH_QUICK=1 npm run bench\` is a one-minute smoke run whose figures mean nothing).`,
  );
  return lines.join('\n');
}

/** Replaces only what lies between the bench section markers; everything else in README stays as it is. */
export function updateReadme(readmePath, section) {
  const start = '<!-- section:bench -->';
  const end = '<!-- /section:bench -->';
  const text = readFileSync(readmePath, 'utf8');
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README has no ${start} … ${end} markers`);
  writeFileSync(readmePath, `${text.slice(0, i + start.length)}\n${section}\n${text.slice(j)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const readmeOnly = args[0] === '--readme';
  const resultsPath = (readmeOnly ? args[1] : args[0]) ?? 'bench/results.json';
  const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
  const { markdown, readmeSection } = renderReport(results);
  process.stdout.write(readmeOnly ? `${readmeSection}\n` : markdown);
}
