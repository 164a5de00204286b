// Real Chromium (Debian's, driven by playwright-core): a page bundled with esbuild runs the core API or a
// client link (tRPC traceContextLink, Apollo TraceContextLink) against tRPC and Yoga servers on the page's
// own loopback origin. argv: <esbuild folder> <playwright-core folder> core | trpc | apollo
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { trpcRouter, yogaServer } from './apps.mjs';
import { check, done, fail, registerPropagation, requireImplemented } from './lib.mjs';

const [esbuildDir, playwrightDir, mode] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server;
let browser;
try {
  check(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium)`);
  if (mode !== 'core') await requireImplemented(mode === 'trpc' ? 'otel-rpc-context/trpc' : 'otel-rpc-context/apollo');
  registerPropagation();
  const esbuild = createRequire(join(esbuildDir, 'noop.js'))('esbuild');
  const { chromium } = createRequire(join(playwrightDir, 'noop.js'))('playwright-core');
  const bundle = await esbuild.build({
    entryPoints: [new URL('./browser-entry.mjs', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    // Server-only code paths in apps.mjs, never reached in the page.
    external: ['graphql-yoga', 'otel-rpc-context/yoga'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const js = bundle.outputFiles[0].text;

  const { createHTTPHandler } = await import('@trpc/server/adapters/standalone');
  const trpc = createHTTPHandler({
    router: await trpcRouter(),
    basePath: '/trpc/',
    createContext: ({ req, info }) => ({ req, info }),
  });
  const yoga = await yogaServer();
  server = createServer((req, res) => {
    if (req.url.startsWith('/trpc/')) return trpc(req, res);
    if (req.url.startsWith('/graphql')) return yoga(req, res);
    if (req.url.startsWith('/bundle.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(js);
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>compat</title><script type="module" src="/bundle.js"></script>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // No zygote: its double-forked helpers would outlive the run as unreaped zombies.
      '--no-zygote',
    ],
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?mode=${mode}`);
  await page.waitForFunction(() => window.__compat !== undefined, null, { timeout: 20_000 });
  const result = await page.evaluate(() => window.__compat);
  const version = browser.version();
  await browser.close();
  server.close();
  check(result.ok, `${result.detail}\n${errors.join('\n')}`);
  done(`${result.detail} (Chromium ${version}, ${Math.round(js.length / 1024)} KiB bundle)`);
} catch (error) {
  await browser?.close();
  server?.close();
  fail(error);
}
