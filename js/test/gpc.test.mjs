// Global Privacy Control: with navigator.globalPrivacyControl the denied categories never leave.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApp, rig, sleep } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

// "GPC on → nothing sent": the signal is read at startup and applied without an audit event
// (the core's `set_initial_privacy_signals`), so a page with GPC on and every category it denies
// makes no request at all.
test('GPC on → nothing sent: zero requests to the collector', async () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  const context = await r.browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
  });
  const requests = [];
  context.on('request', (q) => requests.push(q.url()));
  const options = { consent: { gpc_categories: ['analytics', 'marketing'] }, tracking: { flush_interval: 0.05 } };
  const page = await openApp(r, context, options);
  await page.evaluate(async () => {
    ff.track('tracked_with_gpc');
    ff.track('ad_with_gpc', {}, { category: 'marketing' });
    await ff.flush();
  });
  await sleep(500);
  await page.evaluate(() => window.dispatchEvent(new Event('pagehide'))); // no beacon either
  await sleep(200);
  const stats = await page.evaluate(() => ff.stats());
  assert.equal(stats.dropped.consent, 3, `page view and both events dropped for consent: ${JSON.stringify(stats)}`);
  assert.equal(stats.enqueued, 0, 'not even an audit record');
  assert.deepEqual(await page.evaluate(() => ff.consent.get()), { necessary: 'granted', analytics: 'denied', marketing: 'denied' });
  assert.deepEqual(requests.filter((u) => u.startsWith(r.collector.url)), [], 'zero requests');
  assert.equal(r.collector.state.requests.length, 0);
  await context.close();
});

test('GPC with the default config denies marketing only', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
  });
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.05 } });
  await page.evaluate(async () => {
    ff.track('ad', {}, { category: 'marketing' });
    ff.track('search');
    await ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some((m) => m.event === 'search'), 10_000, 'search');
  assert.ok(!r.collector.state.messages.some((m) => m.event === 'ad'));
  await context.close();
});
