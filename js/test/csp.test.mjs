// A page with a strict Content-Security-Policy: the SDK works with what js/README.md says to
// allow (`script-src 'wasm-unsafe-eval'` for the engine, `connect-src` for the collector) and
// raises no violation; without 'wasm-unsafe-eval', `Footfall.load` rejects with an Error saying
// the engine could not be loaded and why, and nothing is sent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appUrl, isTrack, received, rig } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

/** Opens the test app served with `csp` as its Content-Security-Policy header (by the static
 * server: a response fulfilled by the test would lose the page's loopback address space, and
 * Chromium would then refuse its requests to the collector); records the page's CSP violations
 * in `window.violations`. Resolves to the page and whether `load` worked. */
async function openWithCsp(context, csp, options) {
  await context.addInitScript(() => {
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const page = await context.newPage();
  await page.goto(`${appUrl(r, options)}&csp=${encodeURIComponent(csp)}`);
  const loaded = await page.evaluate(() => window.ffReady.then(() => true, () => false));
  return { page, loaded };
}

const policy = (scriptSrc) =>
  `default-src 'none'; script-src ${scriptSrc}; connect-src 'self' ${r.collector.url}; base-uri 'none'`;

test("with script-src 'wasm-unsafe-eval' and the collector in connect-src, events are delivered without a violation", async () => {
  const context = await r.browser.newContext();
  const { page, loaded } = await openWithCsp(context, policy(`'self' 'wasm-unsafe-eval'`), { autoPageViews: false });
  assert.equal(loaded, true, await page.evaluate(() => window.ffError));
  await page.evaluate(() => {
    ff.track('csp_ok', { n: 1 });
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('csp_ok')), 10_000, 'csp_ok');
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  // The page hides: the beacon path is allowed by the same connect-src.
  await page.evaluate(() => ff.track('csp_beacon'));
  await page.close({ runBeforeUnload: true });
  await r.collector.waitFor((s) => s.messages.some(isTrack('csp_beacon')), 10_000, 'csp_beacon');
  assert.equal(received(r, isTrack('csp_ok')).length, 1);
  await context.close();
});

test("without 'wasm-unsafe-eval', load rejects with an Error naming the engine and the cause; nothing is sent", async () => {
  const before = r.collector.state.requests.length;
  const context = await r.browser.newContext();
  const { page, loaded } = await openWithCsp(context, policy(`'self'`), {});
  assert.equal(loaded, false);
  const message = await page.evaluate(() => window.ffError);
  assert.match(message, /^Footfall\.load: cannot load the engine from \S+footfall_bg\.wasm: /, message);
  assert.match(message, /Content Security Policy|unsafe-eval/i, message);
  assert.ok((await page.evaluate(() => window.violations)).some((v) => v.startsWith('script-src')));
  // A later load() tries again rather than repeating a cached failure, and fails the same way.
  const again = await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    return Footfall.load({ writeKey: 'wk_test' }).then(() => 'loaded', (e) => e.message);
  });
  assert.match(again, /^Footfall\.load: cannot load the engine/);
  assert.equal(r.collector.state.requests.length, before, 'no request reached the collector');
  await context.close();
});

test('an engine that cannot be fetched rejects with the URL and the HTTP status', async () => {
  const context = await r.browser.newContext();
  const page = await context.newPage();
  await page.goto(appUrl(r, { wasmUrl: `${r.site.url}/dist/missing.wasm` }));
  const message = await page.evaluate(() => window.ffReady.then(() => 'loaded', (e) => e.message));
  assert.equal(message, `Footfall.load: cannot load the engine from ${r.site.url}/dist/missing.wasm: HTTP 404`);
  await context.close();
});
