// Consent before storage: opt_in without consent makes zero requests and zero storage writes;
// a grant releases the waiting events; deny purges queued events.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTrack, openApp, received, rig, sleep, storedEvents } from './support/app.mjs';
import { storageSpy } from './support/spy.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

test('opt_in without consent: zero network requests, zero storage writes; grant releases in order', async () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  const context = await r.browser.newContext();
  await context.addInitScript(storageSpy);
  const requests = [];
  context.on('request', (q) => requests.push(q.url()));
  const options = { consent: { mode: 'opt_in' }, tracking: { flush_interval: 0.05 } };
  const page = await openApp(r, context, options);
  await page.evaluate(async () => {
    ff.track('before_consent_1');
    ff.identify('user_7', { plan: 'free' });
    ff.track('before_consent_2');
    history.pushState({}, '', '/pages/app.html?spa=1');
    await ff.flush();
  });
  await sleep(500);

  const toCollector = requests.filter((u) => u.startsWith(r.collector.url));
  assert.deepEqual(toCollector, [], 'no request to the collector');
  assert.equal(r.collector.state.requests.length, 0);
  const pageRequests = requests.filter((u) => !u.startsWith(r.site.url));
  assert.deepEqual(pageRequests, [], 'no request anywhere but the page itself');
  const storage = await page.evaluate(() => ({
    writes: window.__writes,
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
  }));
  assert.deepEqual(storage, { writes: [], local: 0, session: 0, cookie: '' }, 'nothing written');
  const waiting = await page.evaluate(() => ff.stats().pendingConsent);
  assert.equal(waiting, 5, 'page views, identify and tracks wait in memory');
  assert.deepEqual(await page.evaluate(() => ff.consent.get()), { necessary: 'granted', analytics: 'pending', marketing: 'pending' });

  await page.evaluate(() => ff.consent.grant(['analytics']));
  await r.collector.waitFor((s) => s.messages.some(isTrack('before_consent_2')), 10_000, 'released events');
  const order = received(r).map((m) => (m.type === 'track' ? m.event : m.type));
  assert.deepEqual(order, ['consent_updated', 'page', 'before_consent_1', 'identify', 'before_consent_2', 'page']);
  const audit = received(r, isTrack('consent_updated'))[0];
  assert.equal(audit.context.category, 'necessary');
  const afterGrant = await page.evaluate(() => ({ writes: window.__writes.length, keys: Object.keys(localStorage) }));
  assert.ok(afterGrant.writes > 0, 'storage is used once consent is given');
  assert.ok(afterGrant.keys.some((k) => k.endsWith('.state')));
  await context.close();
});

test('deny purges queued events of that category (memory and storage); others still go', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 60 } });
  await page.evaluate(() => {
    ff.track('ad_click', { n: 1 }, { category: 'marketing' });
    ff.track('ad_view', { n: 2 }, { category: 'marketing' });
    ff.track('search', { n: 3 });
  });
  const queued = () => storedEvents(page);
  assert.equal((await queued()).length, 3);
  await page.evaluate(() => ff.consent.deny(['marketing']));
  const left = await queued();
  assert.equal(left.length, 2, 'the two marketing events left storage (the audit event joined)');
  const categories = left.map((m) => m.message.context.category ?? 'analytics').sort();
  assert.deepEqual(categories, ['analytics', 'necessary'], 'only the search event and the audit event are stored');
  await page.evaluate(() => {
    ff.track('ad_later', {}, { category: 'marketing' });
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('search')), 10_000, 'search');
  const names = received(r).map((m) => m.event);
  assert.deepEqual(names.sort(), ['consent_updated', 'search']);
  const stats = await page.evaluate(() => ff.stats());
  assert.equal(stats.dropped.consent, 3);
  assert.deepEqual(await page.evaluate(() => ff.consent.get().marketing), 'denied');
  await context.close();
});

test('a grant is remembered: the next page load sends at once and uses storage', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const options = { consent: { mode: 'opt_in' }, autoPageViews: false, tracking: { flush_interval: 0.05 } };
  const first = await openApp(r, context, options);
  await first.evaluate(() => ff.consent.grant(['analytics']));
  await first.close();
  const second = await openApp(r, context, options);
  await second.evaluate(() => {
    ff.track('returning_visit');
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('returning_visit')), 10_000, 'returning_visit');
  assert.equal(await second.evaluate(() => ff.consent.get().analytics), 'granted');
  await context.close();
});
