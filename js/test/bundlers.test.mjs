// The packed tarball in the tools real web projects use, in one fresh temporary project (one
// `npm pack`, one install): a Vite 8 production build and dev server (dependency pre-bundling),
// Vite 7's dev server (the documented `optimizeDeps.exclude`), a webpack 5 production build
// (asset modules; `import` and `require`), unit tests under Jest and Vitest with jsdom (the
// no-op tracker: nothing thrown, nothing left running, no unhandled rejection), and Node's
// `require` and `import` (SSR). The pages send to the reference collector (`footfall serve`),
// and the stored events are read back from it; the .wasm must come from the built site (or the
// dev server) — no failed request. The tools are js/'s devDependencies (exact versions).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { launch } from './support/browser.mjs';
import { startRealCollector } from './support/collector-bin.mjs';
import { jsDir, startStatic } from './support/server.mjs';

const writeKey = 'wk_bundlers';
const adminToken = 'admin_bundlers';
const tool = (path) => join(jsDir, 'node_modules', path);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** Runs a command to its end (≤ 60 s), never throwing: {code, out}. */
const runAll = (cmd, args, cwd, env = {}) =>
  new Promise((resolve) => {
    execFile(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }, (e, stdout, stderr) =>
      resolve({ code: e ? (e.code ?? e.signal) : 0, out: `${stdout}\n${stderr}` }),
    );
  });

/** Runs `source` as `file` (.cjs or .mjs) with Node in the consumer project; it must exit 0
 * having printed `done` (its asserts passed). */
async function runNode(file, source) {
  writeFileSync(join(dir, file), source);
  const { code, out } = await runAll(process.execPath, [file], dir);
  assert.equal(code, 0, out);
  assert.match(out, /^done$/m, out);
}

// The app every bundler builds: the options come from the page's query string.
const appSource = `import { Footfall } from 'footfall';
const options = JSON.parse(new URLSearchParams(location.search).get('options'));
window.ffReady = Footfall.load(options).then((ff) => (window.ff = ff));
`;

let dir, site, collector, browser, vite, webpack;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'footfall-bundlers-'));
  const packed = run('npm', ['pack', '--silent', '--pack-destination', dir], jsDir).trim().split('\n').pop();
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', `./${packed}`], dir);
  writeFileSync(join(dir, 'app.js'), appSource);
  // What TypeScript/Babel compiled to CommonJS gives webpack.
  writeFileSync(join(dir, 'app-require.cjs'), appSource.replace(/^import (.*) from (.*);$/m, 'const $1 = require($2);'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>vite</title><script type="module" src="./app.js"></script>');

  [vite, webpack] = await Promise.all([
    import(pathToFileURL(tool('vite/dist/node/index.js')).href),
    import(pathToFileURL(tool('webpack/lib/index.js')).href).then((m) => m.default),
  ]);
  [site, collector, browser] = await Promise.all([
    startStatic({ '/vite/': join(dir, 'vite-dist'), '/webpack/': join(dir, 'webpack-dist') }),
    startRealCollector({ writeKey, adminToken }),
    launch(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([site?.close(), collector?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the collector stored for `userId` (its admin export), once `event` is there. */
async function storedEvent(userId, event) {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${collector.url}/v1/admin/users/${encodeURIComponent(userId)}/export`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const rows = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const row = rows.find((r) => r.event === event);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${event} for ${userId} not stored by the collector`);
}

/** Opens `url` (the app), tracks an event as a new user, and checks that the collector stored it
 * with its fields; returns every response the page got (url, status, content type). */
async function trackFrom(url, name) {
  const context = await browser.newContext();
  const responses = [];
  context.on('response', (r) => responses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? '' }));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const options = { writeKey, endpoint: collector.url, autoPageViews: false };
  await page.goto(`${url}?options=${encodeURIComponent(JSON.stringify(options))}`);
  await page.evaluate(() => window.ffReady);
  const userId = `user_${name}`;
  const sent = await page.evaluate(
    ([userId, name]) => {
      ff.identify(userId);
      ff.track(name, { bundler: name, n: 1 });
      return ff.flush().then(() => ({ anonymousId: ff.anonymousId(), url: location.href }));
    },
    [userId, name],
  );
  const row = await storedEvent(userId, name);
  const text = JSON.stringify(row);
  assert.equal(row.kind, 'track', text);
  assert.equal(row.user_id, userId, text);
  assert.equal(row.anonymous_id, sent.anonymousId, text);
  assert.deepEqual(row.properties, { bundler: name, n: 1 }, text);
  assert.equal(row.context?.page?.url, sent.url, text);
  assert.equal(row.context?.library?.name, 'footfall-js', text);
  assert.match(row.message_id ?? '', /^[0-9a-f-]{36}$/, text);
  assert.deepEqual(errors, []);
  await context.close();
  const failed = responses.filter((r) => r.status >= 400 && !r.url.endsWith('/favicon.ico'));
  assert.deepEqual(failed, [], 'no failed request');
  return responses;
}

/** A built site's page requested nothing from node_modules. */
function nothingFromNodeModules(responses) {
  assert.deepEqual(responses.filter((r) => r.url.includes('/node_modules/')), []);
}

/** The one .wasm the page fetched: from `origin`, served as application/wasm. */
function wasmResponse(responses, origin) {
  const wasm = responses.filter((r) => new URL(r.url).pathname.endsWith('.wasm'));
  assert.equal(wasm.length, 1, JSON.stringify(responses));
  assert.ok(wasm[0].url.startsWith(origin), wasm[0].url);
  assert.equal(wasm[0].status, 200);
  assert.match(wasm[0].type, /^application\/wasm/);
  return new URL(wasm[0].url).pathname;
}

test('Vite production build: the .wasm is emitted as an asset and loaded from the built site', async () => {
  await vite.build({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    base: '/vite/',
    build: { outDir: join(dir, 'vite-dist') },
  });
  const assets = readdirSync(join(dir, 'vite-dist/assets'));
  assert.ok(assets.some((f) => /^footfall_bg-.*\.wasm$/.test(f)), `assets: ${assets}`);
  const responses = await trackFrom(`${site.url}/vite/index.html`, 'vite_build');
  const path = wasmResponse(responses, site.url);
  assert.match(path, /^\/vite\/assets\/footfall_bg-[\w-]+\.wasm$/);
  nothingFromNodeModules(responses);
});

test('Vite dev server: the pre-bundled package still finds its .wasm (no config)', async () => {
  const server = await vite.createServer({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    cacheDir: join(dir, 'node_modules/.vite'),
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false },
  });
  try {
    await server.listen();
    const origin = server.resolvedUrls.local[0].replace(/\/$/, '');
    const responses = await trackFrom(`${origin}/`, 'vite_dev');
    // The package really was pre-bundled (the case that breaks `new URL(…, import.meta.url)`).
    assert.ok(responses.some((r) => r.url.includes('/node_modules/.vite/deps/footfall.js')), JSON.stringify(responses));
    const path = wasmResponse(responses, origin);
    assert.equal(path, '/node_modules/footfall/dist/footfall_bg.wasm');
  } finally {
    await server.close();
  }
});

test('Vite 7 dev server: needs `optimizeDeps.exclude` (documented); with it, the .wasm is found', async () => {
  const vite7 = await import(pathToFileURL(tool('vite7/dist/node/index.js')).href);
  // Vite 7 reads port 0 as its default 5173: a free port from the system instead.
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const serve = (optimizeDeps) =>
    vite7.createServer({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      cacheDir: join(dir, 'node_modules/.vite7'),
      optimizeDeps,
      server: { host: '127.0.0.1', port, strictPort: true, hmr: false },
    });
  const origin = `http://127.0.0.1:${port}`;
  // Without it, the pre-bundled copy looks for the .wasm next to itself, where the dev server
  // answers with its index.html: the error says where it looked.
  let server = await serve({ force: true });
  try {
    await server.listen();
    const page = await browser.newPage();
    await page.goto(`${origin}/?options=${encodeURIComponent(JSON.stringify({ writeKey: 'wk_vite7' }))}`);
    const error = await page.evaluate(() => window.ffReady.then(() => 'loaded', (e) => e.message));
    assert.match(error, /^Footfall\.load: cannot load the engine from http:\/\/127\.0\.0\.1:\d+\/node_modules\/\.vite7\/deps\/footfall_bg\.wasm: /);
    await page.close();
  } finally {
    await server.close();
  }
  server = await serve({ exclude: ['footfall'], force: true });
  try {
    await server.listen();
    const responses = await trackFrom(`${origin}/`, 'vite7_dev');
    assert.equal(wasmResponse(responses, origin), '/node_modules/footfall/dist/footfall_bg.wasm');
  } finally {
    await server.close();
  }
});

test('webpack 5 production build: the .wasm is an asset module, from `import` and from `require`', async () => {
  const out = join(dir, 'webpack-dist');
  const compiler = webpack({
    mode: 'production',
    context: dir,
    entry: { app: './app.js', required: './app-require.cjs' },
    output: { path: out },
  });
  const stats = await new Promise((resolve, reject) => compiler.run((e, s) => (e ? reject(e) : resolve(s))));
  await new Promise((resolve) => compiler.close(resolve));
  assert.ok(!stats.hasErrors() && !stats.hasWarnings(), stats.toString({ all: false, errors: true, warnings: true }));
  const files = readdirSync(out);
  assert.equal(files.filter((f) => f.endsWith('.wasm')).length, 1, `emitted: ${files}`);
  for (const entry of ['app', 'required']) {
    writeFileSync(join(out, `${entry}.html`), `<!doctype html><title>webpack</title><script src="${entry}.js"></script>`);
    const responses = await trackFrom(`${site.url}/webpack/${entry}.html`, `webpack_${entry}`);
    assert.match(wasmResponse(responses, site.url), /^\/webpack\/[0-9a-f]+\.wasm$/);
    nothingFromNodeModules(responses);
  }
});

// A unit test of app code that loads Footfall the way pages do, awaited and not (a rejection
// nobody awaits would fail the run as an unhandled rejection).
const unitTest = (imports) => `${imports}
const pending = Footfall.load({ writeKey: 'wk_unit', endpoint: 'http://127.0.0.1:9' }).then((ff) => ff.track('fire_and_forget'));

test('Footfall in a unit test with jsdom: a tracker that does nothing', async () => {
  expect(typeof window).toBe('object');
  const ff = await Footfall.load({ writeKey: 'wk_unit', endpoint: 'http://127.0.0.1:9', consent: { mode: 'opt_in' } });
  expect(ff.active).toBe(false);
  ff.track('unit_tested', { ok: true });
  ff.page();
  ff.identify('user_1', { plan: 'pro' });
  ff.consent.grant(['analytics']);
  await ff.flush();
  expect(ff.stats()).toBe(null);
  expect(() => ff.track(42)).toThrow(/Footfall.track: \`event\` must be a string/);
  await pending;
  expect(localStorage.length).toBe(0);
});
`;

test('Jest (jsdom environment): load and track neither throw nor hang nor leave handles', async () => {
  const project = join(dir, 'jest');
  mkdirSync(project);
  // Jest runs tests as CommonJS (what babel-jest and ts-jest emit): `require('footfall')`.
  writeFileSync(join(project, 'footfall.test.cjs'), unitTest(`const { Footfall } = require('footfall');`));
  writeFileSync(
    join(project, 'jest.config.cjs'),
    `module.exports = { testEnvironment: 'jsdom', rootDir: __dirname, testMatch: ['**/*.test.cjs'] };`,
  );
  const { code, out } = await runAll(
    process.execPath,
    [tool('jest/bin/jest.js'), '--config', join(project, 'jest.config.cjs'), '--ci', '--detectOpenHandles'],
    project,
  );
  assert.equal(code, 0, out);
  assert.match(out, /Tests:\s+1 passed, 1 total/, out);
  assert.doesNotMatch(out, /open handle|did not exit|unhandled/i, out);
});

test('Vitest (jsdom environment): load and track neither throw nor hang nor reject unhandled', async () => {
  const project = join(dir, 'vitest');
  mkdirSync(project);
  writeFileSync(
    join(project, 'footfall.test.js'),
    unitTest(`import { Footfall } from 'footfall';\nimport { expect, test } from 'vitest';`),
  );
  const { code, out } = await runAll(
    process.execPath,
    [tool('vitest/vitest.mjs'), 'run', '--root', project, '--environment', 'jsdom', '--no-color'],
    project,
    { CI: 'true' },
  );
  assert.equal(code, 0, out);
  assert.match(out, /Tests\s+1 passed \(1\)/, out);
  assert.doesNotMatch(out, /Unhandled|error/i, out);
});

test("require('footfall') in Node (CommonJS SSR): the CommonJS build, a no-op tracker", async () => {
  const script = `
const assert = require('node:assert/strict');
assert.match(require.resolve('footfall'), /footfall\\.cjs$/);
const footfall = require('footfall');
assert.equal(footfall.default, footfall.Footfall);
const { Footfall } = footfall;
(async () => {
  const ff = await Footfall.load({ writeKey: 'wk_ssr', endpoint: 'http://127.0.0.1:9' });
  assert.equal(ff.active, false);
  ff.track('rendered_on_server', { a: 1 });
  ff.identify('u1');
  await ff.flush();
  assert.equal(ff.anonymousId(), null);
  assert.throws(() => ff.track(1), /Footfall\\.track: \`event\` must be a string/);
  await assert.rejects(Footfall.load(null), /\`options\` must be an object/);
  console.log('done');
})();
`;
  await runNode('ssr.cjs', script);
});

test("import 'footfall' in Node (ESM SSR): the Node build, a no-op tracker", async () => {
  const script = `
import assert from 'node:assert/strict';
import Default, { Footfall } from 'footfall';
assert.match(import.meta.resolve('footfall'), /footfall\\.node\\.js$/);
assert.equal(Default, Footfall);
const ff = await Footfall.load({ writeKey: 'wk_ssr_esm', endpoint: 'http://127.0.0.1:9' });
assert.equal(ff.active, false);
ff.track('rendered_on_server');
console.log('done');
`;
  await runNode('ssr.mjs', script);
});

test('a DOM made by happy-dom (by its user agent) gets the no-op tracker too', async () => {
  const script = `
const assert = require('node:assert/strict');
globalThis.window = globalThis;
globalThis.document = {};
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'Mozilla/5.0 (X11; Linux x64) AppleWebKit/537.36 (KHTML, like Gecko) HappyDOM/20.0.0' } });
globalThis.fetch = () => { throw new Error('fetch called'); };
const { Footfall } = require('footfall');
Footfall.load({ writeKey: 'wk_happy' }).then((ff) => {
  assert.equal(ff.active, false);
  console.log('done');
});
`;
  await runNode('happy.cjs', script);
});
