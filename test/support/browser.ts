// Real Chromium for tests: Debian's /usr/bin/chromium driven by playwright-core (no browser download), and
// a page entry bundled for the browser with rolldown (Vite's bundler), straight from the TypeScript sources.
import { type Browser, chromium } from 'playwright-core';
import { rolldown } from 'rolldown';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium with the flags this machine needs: no sandbox (root), no network beyond loopback. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
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
}

/**
 * Bundles a page entry (TypeScript, importing `../src/*.js` as the sources do) into one ES module for the
 * browser, production builds of the libraries included.
 */
export async function bundlePage(entry: string): Promise<string> {
  const bundle = await rolldown({
    input: entry,
    platform: 'browser',
    logLevel: 'silent',
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  });
  try {
    const { output } = await bundle.generate({ format: 'esm', codeSplitting: false });
    const chunk = output.find((item) => item.type === 'chunk');
    if (!chunk) throw new Error(`bundling ${entry} produced no chunk`);
    return chunk.code;
  } finally {
    await bundle.close();
  }
}
