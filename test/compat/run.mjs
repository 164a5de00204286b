#!/usr/bin/env node
// Compatibility suite: installs each dependency variant (variants.mjs) once into the cache folder, reinstalling
// only when its spec changes; packs the built package with `npm pack` and unpacks the tarball into every
// variant; then runs each cell of the matrix (cells.mjs) as its own process, two at a time. Prints
// PASS/FAIL/UNSUPPORTED per cell, writes results.json in the cache folder (the input of table.mjs), and exits
// non-zero when a supported cell fails.
//
//   node test/compat/run.mjs [--only=SUBSTRING] [--jobs=N] [--ref=COMMIT]
//   --only   run the cells whose id contains SUBSTRING (results go to results-only.json)
//   --ref    pack that commit instead of the work tree (e.g. HEAD while others edit the tree)
//   COMPAT_CACHE=DIR  the cache folder (default ~/.cache/otel-rpc-context-compat)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cells } from './cells.mjs';
import { variants } from './variants.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
// Outside the repository on purpose: under it, Node's walk-up module resolution would reach the repo's own
// node_modules and hide a dependency a variant lacks. Kept across runs and clones (CI reuses it).
const cache = resolve(process.env.COMPAT_CACHE ?? join(homedir(), '.cache', 'otel-rpc-context-compat'));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const jobs = Number(args.jobs ?? 2);
const started = performance.now();
const log = (...a) => console.log(...a);
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** Installs a variant unless the same spec is installed already; returns its folder. */
function ensureVariant(name) {
  const spec = variants[name];
  const dir = join(cache, 'v', name);
  const pkg = { name: `compat-${name}`, private: true, type: 'module', dependencies: spec.dependencies };
  const hash = createHash('sha256')
    .update(JSON.stringify([pkg, spec.legacyPeerDeps ?? false]))
    .digest('hex');
  const stamp = join(dir, '.installed');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return dir;
  const t = performance.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const flags = ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', '--no-save'];
  if (spec.legacyPeerDeps) flags.push('--legacy-peer-deps');
  try {
    sh('npm', flags, { cwd: dir });
  } catch (error) {
    // One retry: a registry hiccup should not fail the whole run.
    log(`npm install for variant ${name} failed, retrying once: ${error.message.split('\n').slice(-3).join(' ')}`);
    sh('npm', flags, { cwd: dir });
  }
  writeFileSync(stamp, hash);
  log(`installed variant ${name} in ${secs(performance.now() - t)}`);
  return dir;
}

/**
 * The browser cells need Debian's Chromium (no browser download works here). Installs it when missing and
 * running as root, e.g. on a fresh CI machine; returns its version, or undefined (those cells then fail).
 */
function ensureChromium() {
  const bin = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(bin) && process.getuid?.() === 0 && !process.env.CHROMIUM_PATH) {
    const t = performance.now();
    const apt = (...a) =>
      spawnSync('apt-get', a, { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (apt('install', '-y', '--no-install-recommends', 'chromium').status !== 0) {
      apt('update');
      apt('install', '-y', '--no-install-recommends', 'chromium');
    }
    log(`installed Debian chromium in ${secs(performance.now() - t)}`);
  }
  if (!existsSync(bin)) return undefined;
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.match(/[\d.]+/)?.[0];
}

/**
 * Builds and packs the package, returning the tarball and its unpacked folder. With --ref=<commit> it packs
 * that commit (exported to a scratch folder that borrows the repo's node_modules) instead of the work tree.
 */
function packPackage() {
  const out = join(cache, 'pack');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  let from = root;
  if (args.ref) {
    from = join(cache, 'src');
    rmSync(from, { recursive: true, force: true });
    mkdirSync(from, { recursive: true });
    sh('sh', ['-c', `git -C "${root}" archive "${args.ref}" | tar -x -C "${from}"`]);
    symlinkSync(join(root, 'node_modules'), join(from, 'node_modules'));
  }
  // prepack runs the build, so the tarball holds exactly what `npm publish` would.
  const json = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', out, '--loglevel=error'], { cwd: from }));
  const tarball = join(out, json[0].filename);
  sh('tar', ['xzf', tarball, '-C', out]);
  return { tarball, unpacked: join(out, 'package') };
}

/** Puts the packed package into a variant's node_modules, as `npm install <tarball>` would (it has no deps). */
function installPackage(dir, unpacked) {
  const target = join(dir, 'node_modules', 'otel-rpc-context');
  rmSync(target, { recursive: true, force: true });
  cpSync(unpacked, target, { recursive: true });
  const cellsDir = join(dir, 'compat-cells');
  rmSync(cellsDir, { recursive: true, force: true });
  cpSync(join(here, 'cells'), cellsDir, { recursive: true });
}

function runCell(cell, env) {
  return new Promise((resolveCell) => {
    const t = performance.now();
    const { cmd, argv, cwd, timeout = 90_000 } = cell.command(env);
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, ...cell.env?.(env), COMPAT_ROOT: root, COMPAT_CACHE: cache },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also ends what it started (workerd, Chromium).
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      out += `\ntimed out after ${secs(timeout)}`;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - t;
      const lines = out.trim().split('\n');
      const last = lines.at(-1) ?? '';
      let status = code === 0 ? 'pass' : code === 3 ? 'unsupported' : 'fail';
      if (status !== 'fail' && !/^(ok|unsupported):/.test(last)) status = 'fail';
      resolveCell({ status, detail: last.replace(/^(ok|unsupported):\s*/, ''), output: out, ms });
    });
  });
}

async function main() {
  mkdirSync(cache, { recursive: true });
  const selected = cells.filter((c) => !args.only || c.id.includes(args.only));
  const needed = new Set(selected.flatMap((c) => [c.variant, ...(c.uses ?? [])]));
  needed.add('nodes');
  const dirs = {};
  const tInstall = performance.now();
  for (const name of Object.keys(variants)) {
    if (needed.has(name)) dirs[name] = ensureVariant(name);
  }
  const installMs = performance.now() - tInstall;
  // Folders of variants that no longer exist in variants.mjs.
  for (const name of existsSync(join(cache, 'v')) ? readdirSync(join(cache, 'v')) : []) {
    if (!(name in variants)) rmSync(join(cache, 'v', name), { recursive: true, force: true });
  }
  const tPack = performance.now();
  const pack = packPackage();
  for (const name of Object.keys(dirs))
    if (name !== 'nodes' && name !== 'runtimes') installPackage(dirs[name], pack.unpacked);
  log(
    `variants ready in ${secs(installMs)}, packed ${pack.tarball.split('/').pop()} in ${secs(performance.now() - tPack)}`,
  );

  const nodeBin = (major) => join(dirs.nodes, 'node_modules', `node${major}`, 'bin', 'node');
  const nodeVersions = Object.fromEntries(
    [20, 22, 24].map((m) => [m, sh(nodeBin(m), ['--version']).trim().replace(/^v/, '')]),
  );
  const runtimeVersions = {};
  if (dirs.runtimes) {
    for (const name of ['bun', 'deno', 'workerd']) {
      const out = sh(join(dirs.runtimes, 'node_modules', '.bin', name), ['--version']);
      runtimeVersions[name] = out.match(/\d[\d.-]+/)?.[0] ?? out.trim();
    }
  }
  const chromiumVersion = selected.some((c) => c.needs === 'chromium') ? ensureChromium() : undefined;
  const env = { dirs, nodeBin, nodeVersions, runtimeVersions, chromiumVersion, root, cache, pack, here };

  const results = [];
  const queue = [...selected];
  const worker = async () => {
    for (let cell = queue.shift(); cell; cell = queue.shift()) {
      let result;
      const reason = cell.unsupported?.(env);
      if (reason) result = { status: 'unsupported', detail: reason, output: '', ms: 0 };
      else result = await runCell(cell, env);
      const label = { pass: 'PASS', fail: 'FAIL', unsupported: 'UNSUPPORTED' }[result.status];
      log(`${label.padEnd(11)} ${cell.id.padEnd(34)} ${secs(result.ms).padStart(6)}  ${result.detail}`);
      if (result.status === 'fail') log(result.output.replace(/^/gm, '    | '));
      results.push({
        id: cell.id,
        area: cell.area,
        versions: typeof cell.versions === 'function' ? cell.versions(env) : cell.versions,
        what: cell.what,
        status: result.status,
        detail: result.detail,
        seconds: Number((result.ms / 1000).toFixed(2)),
      });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  results.sort(
    (a, b) => selected.indexOf(cells.find((c) => c.id === a.id)) - selected.indexOf(cells.find((c) => c.id === b.id)),
  );

  const count = (s) => results.filter((r) => r.status === s).length;
  const summary = {
    generated: new Date().toISOString(),
    package: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    results,
  };
  const resultsFile = join(cache, args.only ? 'results-only.json' : 'results.json');
  writeFileSync(resultsFile, `${JSON.stringify(summary, null, 2)}\n`);
  log(`\nresults written to ${resultsFile}; total ${secs(performance.now() - started)}`);
  log(`compat: ${count('pass')} passed, ${count('fail')} failed, ${count('unsupported')} skipped`);
  process.exitCode = count('fail') > 0 ? 1 : 0;
}

await main();
