// Identity across page loads and subdomains, and debug mode.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumArgs } from './support/browser.mjs';
import { isTrack, openApp, received, rig, sleep } from './support/app.mjs';

let r, mapped;
before(async () => {
  r = await rig();
  // A browser that resolves *.footfall.test to 127.0.0.1, so two subdomains of one site exist.
  mapped = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...chromiumArgs, '--host-resolver-rules=MAP *.footfall.test 127.0.0.1'],
  });
});
after(async () => {
  await mapped?.close();
  await r?.close();
});

test('anonymous id and session survive a reload (localStorage)', async () => {
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false });
  const before = await page.evaluate(() => [ff.anonymousId(), ff.sessionId()]);
  await page.evaluate(() => ff.track('touch_session'));
  await page.reload();
  await page.evaluate(() => window.ffReady);
  const afterReload = await page.evaluate(() => [ff.anonymousId(), ff.sessionId()]);
  assert.equal(afterReload[0], before[0]);
  assert.ok(afterReload[1], 'a live session after the reload');
  await page.evaluate(() => ff.reset());
  assert.notEqual(await page.evaluate(() => ff.anonymousId()), before[0], 'reset() starts a new identity');
  await context.close();
});

test('cookieDomain: two subdomains share one anonymous id; without it they do not', async () => {
  const port = new URL(r.site.url).port;
  const context = await mapped.newContext();
  const open = async (host, extra) => {
    const options = { writeKey: 'wk_test', endpoint: r.collector.url, autoPageViews: false, ...extra };
    const page = await context.newPage();
    await page.goto(`http://${host}.footfall.test:${port}/pages/app.html?options=${encodeURIComponent(JSON.stringify(options))}`);
    await page.evaluate(() => window.ffReady);
    return page;
  };
  const shop = await open('shop', { cookieDomain: '.footfall.test' });
  const id = await shop.evaluate(() => ff.anonymousId());
  const cookie = (await context.cookies()).find((c) => c.name === 'footfall_wk_test');
  assert.ok(cookie, 'identity cookie written');
  assert.equal(cookie.domain, '.footfall.test');
  const blog = await open('blog', { cookieDomain: '.footfall.test' });
  assert.equal(await blog.evaluate(() => ff.anonymousId()), id, 'same id on the other subdomain');
  const docs = await open('docs', {});
  assert.notEqual(await docs.evaluate(() => ff.anonymousId()), id, 'without cookieDomain each origin has its own id');
  await context.close();
});

test('debug: true shows drops and deliveries in the console; debug off prints nothing', async () => {
  r.collector.state.messages.length = 0;
  for (const debug of [true, false]) {
    const context = await r.browser.newContext();
    const page = await context.newPage();
    const lines = [];
    page.on('console', (m) => lines.push(m.text()));
    const options = { writeKey: 'wk_test', endpoint: r.collector.url, debug, autoPageViews: false, tracking: { flush_interval: 0.05, enabled: true }, events: { blocked: { enabled: false } } };
    await page.goto(`${r.site.url}/pages/app.html?options=${encodeURIComponent(JSON.stringify(options))}`);
    await page.evaluate(() => window.ffReady);
    await page.evaluate(() => {
      ff.track('blocked');
      ff.track('allowed');
      return ff.flush();
    });
    await sleep(200);
    const ours = lines.filter((l) => l.startsWith('[footfall]'));
    if (debug) {
      assert.ok(ours.some((l) => /dropped/i.test(l) && /disabled/.test(l)), `a drop is logged: ${ours.join('\n')}`);
      assert.ok(ours.length >= 3, ours.join('\n'));
    } else {
      assert.deepEqual(ours, []);
    }
    assert.equal(await page.evaluate(() => ff.stats().dropped.disabled), 1, 'counted either way');
    await context.close();
  }
  assert.equal(received(r, isTrack('allowed')).length, 2);
});
