#!/usr/bin/env node
// track() main-thread cost in Debian's Chromium: Footfall vs posthog-js vs @segment/analytics-next
// in the same page run (median µs per call over 10,000 calls each, interleaved in batches of 100).
// Usage (after js/scripts/build.sh): node js/bench/run.mjs
// Installs the two peers into js/bench/node_modules (dev dependencies of the benchmark only).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../test/support/browser.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const js = join(here, '..');
if (!existsSync(join(here, 'node_modules/posthog-js'))) {
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
}
const out = join(here, 'out');
mkdirSync(out, { recursive: true });
execFileSync(join(js, 'node_modules/.bin/esbuild'), ['entry.js', '--bundle', '--format=esm', '--splitting', '--minify', `--outdir=${out}`, '--log-level=error'], { cwd: here, stdio: 'inherit' });
copyFileSync(join(js, 'dist/footfall_bg.wasm'), join(out, 'footfall_bg.wasm'));
writeFileSync(join(out, 'index.html'), '<!doctype html><title>bench</title><script type="module" src="entry.js"></script>');

// Serves the page cross-origin isolated (5 µs timer resolution) and sinks every SDK request.
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const file = join(out, path === '/' ? 'index.html' : path.slice(1));
  if (req.method === 'GET' && existsSync(file)) {
    const type = file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.html') ? 'text/html' : 'text/javascript';
    res.writeHead(200, { 'content-type': type, ...isolation }).end(await readFile(file));
    return;
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin', ...isolation });
  res.end('{}');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();
try {
  const page = await browser.newPage();
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.fulfill({ status: 204, body: '' }));
  await page.goto(`${base}/`);
  await page.waitForFunction(() => typeof window.runBench === 'function');
  const { crossOriginIsolated, results, footfallStats } = await page.evaluate((sink) => window.runBench(sink), base);
  const ours = results.footfall.median;
  console.log(`Chromium ${browser.version()}, cross-origin isolated: ${crossOriginIsolated}; 10,000 calls per SDK`);
  console.log('');
  console.log('| SDK | median µs / track() (synchronous) | p90 µs | ratio to footfall | median µs incl. deferred work until the next task | ratio |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const oursDeferred = results.footfall.deferred.median;
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${name} | ${r.median.toFixed(2)} | ${r.p90.toFixed(2)} | ${(r.median / ours).toFixed(2)} | ${r.deferred.median.toFixed(2)} | ${(r.deferred.median / oursDeferred).toFixed(2)} |`,
    );
  }
  console.log('');
  console.log(`footfall: enqueued ${footfallStats.enqueued}, sent ${footfallStats.sent}, dropped ${JSON.stringify(footfallStats.dropped)}`);
} finally {
  await browser.close();
  server.close();
}
