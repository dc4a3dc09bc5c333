// The packed tarball installs into a fresh project and works from a bundler (esbuild), from a
// plain <script type="module"> (with an import map), from the classic <script> build, and its
// types check with tsc.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launch } from './support/browser.mjs';
import { jsDir, startCollector, startStatic } from './support/server.mjs';

let dir, site, collector, browser;
const bin = (name) => join(jsDir, 'node_modules', '.bin', name);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'footfall-consumer-'));
  const packed = run('npm', ['pack', '--silent', '--pack-destination', dir], jsDir).trim().split('\n').pop();
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', `./${packed}`], dir);

  // 1. bundled with esbuild; the .wasm is copied next to the bundle (documented step).
  mkdirSync(join(dir, 'esm'));
  writeFileSync(
    join(dir, 'app.js'),
    `import { Footfall } from 'footfall';
const options = JSON.parse(new URLSearchParams(location.search).get('options'));
window.ffReady = Footfall.load(options).then((ff) => (window.ff = ff));`,
  );
  run(bin('esbuild'), ['app.js', '--bundle', '--format=esm', '--outfile=esm/app.js', '--log-level=error'], dir);
  copyFileSync(join(dir, 'node_modules/footfall/dist/footfall_bg.wasm'), join(dir, 'esm/footfall_bg.wasm'));
  writeFileSync(join(dir, 'esm/index.html'), '<!doctype html><title>esbuild</title><script type="module" src="app.js"></script>');

  // 2. no bundler: <script type="module"> with an import map, files straight from node_modules.
  mkdirSync(join(dir, 'pages'));
  writeFileSync(
    join(dir, 'pages/module.html'),
    `<!doctype html><title>module</title>
<script type="importmap">{"imports": {"footfall": "/node_modules/footfall/dist/footfall.js"}}</script>
<script type="module">
  import { Footfall } from 'footfall';
  const options = JSON.parse(new URLSearchParams(location.search).get('options'));
  window.ffReady = Footfall.load(options).then((ff) => (window.ff = ff));
</script>`,
  );
  // 3. classic script build, global `Footfall`.
  writeFileSync(
    join(dir, 'pages/global.html'),
    `<!doctype html><title>global</title>
<script src="/node_modules/footfall/dist/footfall.global.js"></script>
<script>
  const options = JSON.parse(new URLSearchParams(location.search).get('options'));
  window.ffReady = Footfall.load(options).then((ff) => (window.ff = ff));
</script>`,
  );

  [site, collector, browser] = await Promise.all([
    startStatic({ '/esm/': join(dir, 'esm'), '/pages/': join(dir, 'pages'), '/node_modules/': join(dir, 'node_modules') }),
    startCollector(),
    launch(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([site?.close(), collector?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the built package and nothing else', () => {
  const files = readdirSync(join(dir, 'node_modules/footfall/dist')).sort();
  assert.deepEqual(files, [
    'footfall.cjs',
    'footfall.global.js',
    'footfall.js',
    'footfall.node.js',
    'footfall_bg.wasm',
    'index.d.cts',
    'index.d.ts',
    'types.d.cts',
    'types.d.ts',
  ]);
  assert.ok(!existsSync(join(dir, 'node_modules/footfall/src')));
  assert.ok(!existsSync(join(dir, 'node_modules/footfall/pkg')));
});

for (const [variant, path] of [
  ['esbuild bundle', '/esm/index.html'],
  ['<script type="module">', '/pages/module.html'],
  ['classic <script>', '/pages/global.html'],
]) {
  test(`works from ${variant}`, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const name = `from_${variant.replace(/\W+/g, '_')}`;
    const options = { writeKey: 'wk_pkg', endpoint: collector.url, autoPageViews: false };
    await page.goto(`${site.url}${path}?options=${encodeURIComponent(JSON.stringify(options))}`);
    await page.evaluate(() => window.ffReady);
    await page.evaluate((name) => {
      ff.track(name, { ok: true });
      return ff.flush();
    }, name);
    await collector.waitFor((s) => s.messages.some((m) => m.event === name), 10_000, name);
    const requests = [];
    page.context().on('request', (q) => requests.push(q.url()));
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('the .d.ts types check in a TypeScript consumer', () => {
  writeFileSync(
    join(dir, 'check.ts'),
    `import { Footfall, type FootfallOptions, type Stats } from 'footfall';
const options: FootfallOptions = {
  writeKey: 'wk',
  endpoint: 'https://collect.example',
  consent: { mode: 'opt_in', categories: ['necessary', 'analytics'] },
  tracking: { batch_size: 50, flush_interval: 2 },
  events: { purchase: { properties: ['purchase_id', 'amount'] } },
  autocapture: true,
};
export async function main(): Promise<Stats | null> {
  const ff = await Footfall.load(options);
  ff.track('feature_used', { feature_name: 'search' });
  ff.trackPurchase({ purchaseId: 'o1', amount: 9.5, currency: 'EUR', items: [] });
  ff.consent.grant(['analytics']);
  const state: 'granted' | 'denied' | 'pending' | undefined = ff.consent.get().analytics;
  void state;
  await ff.flush();
  // @ts-expect-error the event name must be a string
  ff.track(42);
  // @ts-expect-error unknown consent mode
  const bad: FootfallOptions = { writeKey: 'k', consent: { mode: 'sometimes' } };
  void bad;
  return ff.stats();
}
`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'es2020', module: 'es2022', moduleResolution: 'bundler', strict: true, noEmit: true, lib: ['es2021', 'dom'] },
      files: ['check.ts'],
    }),
  );
  run(bin('tsc'), ['-p', 'tsconfig.json'], dir);
});

test('the types resolve for `import` and `require` under TypeScript node16 resolution', () => {
  const use = `export async function main(): Promise<boolean> {
  const ff = await Footfall.load({ writeKey: 'wk', consent: { mode: 'opt_in' } });
  ff.track('feature_used', { feature_name: 'search' });
  return ff.active;
}
`;
  writeFileSync(join(dir, 'esm.mts'), `import { Footfall } from 'footfall';\n${use}`);
  writeFileSync(join(dir, 'cjs.cts'), `import { Footfall } from 'footfall';\n${use}`);
  writeFileSync(join(dir, 'default.cts'), `import Footfall = require('footfall');\nvoid Footfall.default.load;\n`);
  writeFileSync(
    join(dir, 'tsconfig.node16.json'),
    JSON.stringify({
      compilerOptions: { target: 'es2020', module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, lib: ['es2021', 'dom'] },
      files: ['esm.mts', 'cjs.cts', 'default.cts'],
    }),
  );
  run(bin('tsc'), ['-p', 'tsconfig.node16.json'], dir);
});
