// Global Privacy Control: with navigator.globalPrivacyControl the denied categories never leave.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApp, rig, sleep } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

// "GPC on → nothing sent": no tracked event leaves. The core still emits its `consent_updated`
// audit record (category `necessary`) when the host reports the signal at startup; until the core
// can take startup signals without an audit event (requested), that one record is sent and this
// test pins exactly that.
test('GPC on → nothing tracked is sent (only the necessary consent audit record)', async () => {
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
  const stats = await page.evaluate(() => ff.stats());
  assert.ok(stats.dropped.consent >= 3, `page view and both events dropped for consent: ${JSON.stringify(stats)}`);
  assert.deepEqual(await page.evaluate(() => ff.consent.get()), { necessary: 'granted', analytics: 'denied', marketing: 'denied' });
  const events = r.collector.state.messages.filter((m) => m.event !== 'consent_updated');
  assert.deepEqual(events, [], 'no analytics or marketing event reached the collector');
  const audit = r.collector.state.messages.filter((m) => m.event === 'consent_updated');
  assert.ok(audit.length <= 1);
  for (const m of audit) {
    assert.equal(m.context.category, 'necessary');
    assert.equal(m.properties.gpc, true);
    assert.equal(m.properties.source, 'gpc');
  }
  assert.ok(requests.filter((u) => u.startsWith(r.collector.url)).length <= 1, 'at most the audit request');
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
