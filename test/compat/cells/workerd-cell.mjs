// Bundles workerd-worker.mjs with esbuild, serves it with workerd on loopback, and checks it from Node:
// the core API inside workerd, or a tRPC / Yoga server in workerd driven by the client links.
// argv: <esbuild folder> <workerd binary> core | trpc | yoga
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { graphqlFetchCheck, trpcClientCheck } from './apps.mjs';
import { check, done, fail, registerPropagation, requireImplemented } from './lib.mjs';

const [esbuildDir, workerd, mode] = process.argv.slice(2);
const dir = join(process.cwd(), `workerd-${mode}`);
let child;

/** Ends workerd and waits for it, so it is reaped here rather than left as a zombie. */
async function stop() {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill();
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

try {
  if (mode !== 'core') await requireImplemented(mode === 'trpc' ? 'otel-rpc-context/trpc' : 'otel-rpc-context/yoga');
  const esbuild = createRequire(join(esbuildDir, 'noop.js'))('esbuild');
  mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [new URL('./workerd-worker.mjs', import.meta.url).pathname],
    outfile: join(dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['node:*'],
    logLevel: 'error',
  });
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
);
`,
  );
  let log = '';
  child = spawn(workerd, ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => {
    log += d;
  });
  child.stderr.on('data', (d) => {
    log += d;
  });
  const base = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let i = 0; i < 100 && !ready && child.exitCode === null; i++) {
    ready = await fetch(`${base}/ping`).then(
      () => true,
      () => new Promise((resolve) => setTimeout(() => resolve(false), 100)),
    );
  }
  check(ready, `workerd did not start: ${log}`);
  const version = `workerd ${process.env.WORKERD_VERSION ?? ''}`.trim();
  let detail;
  if (mode === 'core') {
    const res = await (await fetch(`${base}/core`)).json();
    check(res.ok === true, `core inside workerd: ${JSON.stringify(res)}`);
    detail = 'getContext/attachContext inside the worker (AsyncLocalStorage via nodejs_compat), across await';
  } else {
    registerPropagation();
    detail =
      mode === 'trpc'
        ? `tRPC fetch adapter in workerd, client on Node: ${await trpcClientCheck(`${base}/trpc`)}`
        : `Yoga in workerd, client on Node: ${await graphqlFetchCheck(`${base}/graphql`)}`;
  }
  await stop();
  done(`${detail} (${version})`);
} catch (error) {
  await stop();
  fail(error);
}
