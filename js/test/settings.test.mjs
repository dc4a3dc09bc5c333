// The privacy team's settings in the browser, against the recording collector (which serves
// GET /v1/settings from `state.settings`): fetched at load as a CORS-simple GET with ?writeKey=,
// applied before the first batch, revalidated by the HTTP cache (If-None-Match → 304), a change
// applied to queued events, persisted only once storage is allowed, and used on the next load.
// The end-to-end test against the real collector and its admin API is privacy.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTrack, openApp, received, rig, sleep, storedEvents } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

const settingsRequests = () => r.collector.state.requests.filter((q) => q.path === '/v1/settings');

function reset(settings) {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  r.collector.state.settings = settings;
}

test('fetched at load as a CORS-simple GET and applied before the first batch leaves', async () => {
  reset({ body: { property_deny_list: ['email'], url_param_deny_list: ['promo'] }, etag: '"v1"' });
  const context = await r.browser.newContext();
  const requests = [];
  context.on('request', (q) => q.url().startsWith(r.collector.url) && requests.push(q));
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.01 } });
  await page.evaluate(() => {
    ff.track('signup', { email: 'ada@example.com', url: 'https://shop.example/?promo=x&q=1', plan: 'pro' });
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('signup')), 10_000, 'signup');
  const signup = received(r, isTrack('signup'))[0];
  assert.deepEqual(signup.properties, { url: 'https://shop.example/?q=1', plan: 'pro' });
  const [get] = settingsRequests();
  assert.equal(get.method, 'GET');
  assert.equal(get.headers.authorization, undefined, 'no Authorization header');
  const url = requests.find((q) => q.url().includes('/v1/settings')).url();
  assert.equal(new URL(url).searchParams.get('writeKey'), 'wk_test');
  assert.equal(requests.filter((q) => q.method() === 'OPTIONS').length, 0, 'no preflight');
  await context.close();
});

test('revalidated every settings_refresh; a switch to opt_in purges queued events at once', async () => {
  reset({ body: {}, etag: '"v1"' });
  const context = await r.browser.newContext();
  const options = { autoPageViews: false, tracking: { flush_interval: 60 }, delivery: { settings_refresh: 0.5 } };
  const page = await openApp(r, context, options);
  await r.collector.waitFor(() => settingsRequests().length >= 2, 10_000, 'a second settings request');
  const second = settingsRequests()[1];
  assert.equal(second.headers['if-none-match'], '"v1"', 'the HTTP cache revalidates');
  assert.equal(second.status, 304);

  await page.evaluate(() => {
    ff.track('queued_1');
    ff.track('queued_2');
  });
  assert.equal((await storedEvents(page)).length, 2);
  r.collector.state.settings = { body: { consent_mode: 'opt_in' }, etag: '"v2"' };
  const n = settingsRequests().length;
  await r.collector.waitFor(() => settingsRequests().some((q, i) => i >= n && q.status === 200), 10_000, 'the new settings');
  let stats;
  for (let i = 0; i < 40; i++) {
    stats = await page.evaluate(() => ff.stats());
    if (stats.dropped.consent === 2) break;
    await sleep(50);
  }
  assert.equal(stats.dropped.consent, 2, `queued events purged: ${JSON.stringify(stats)}`);
  assert.equal((await storedEvents(page)).length, 0, 'and gone from storage');
  assert.deepEqual(await page.evaluate(() => ff.consent.get()), { necessary: 'granted', analytics: 'pending', marketing: 'pending' });
  await page.evaluate(() => {
    ff.track('after_switch');
    return ff.flush();
  });
  assert.equal((await page.evaluate(() => ff.stats())).pendingConsent, 1, 'new events wait for consent');
  await sleep(200);
  assert.equal(received(r).length, 0, 'nothing was sent');
  await context.close();
});

test('opt_in without consent: no settings request and nothing stored; after a grant both happen', async () => {
  reset({ body: { property_deny_list: ['secret'] }, etag: '"s1"' });
  const context = await r.browser.newContext();
  const requests = [];
  context.on('request', (q) => requests.push(q.url()));
  const options = { consent: { mode: 'opt_in' }, autoPageViews: false, tracking: { flush_interval: 0.05 } };
  const page = await openApp(r, context, options);
  await page.evaluate(() => ff.track('waiting', { secret: 1, ok: 2 }));
  await sleep(400);
  assert.deepEqual(requests.filter((u) => u.startsWith(r.collector.url)), [], 'not even the settings');
  assert.equal(await page.evaluate(() => localStorage.length), 0);

  await page.evaluate(() => ff.consent.grant(['analytics']));
  await r.collector.waitFor((s) => s.messages.some(isTrack('waiting')), 10_000, 'the released event');
  assert.equal(settingsRequests().length, 1);
  assert.deepEqual(received(r, isTrack('waiting'))[0].properties, { ok: 2 }, 'released under the fetched settings');
  const stored = await page.evaluate(() => localStorage.getItem('footfall.wk_test.settings'));
  assert.ok(stored?.includes('"secret"'), `settings stored once allowed: ${stored}`);
  await context.close();
});

test('the next page load uses the stored settings even when the fetch fails', async () => {
  reset({ body: { property_deny_list: ['secret'] }, etag: '"p1"' });
  const context = await r.browser.newContext();
  const options = { autoPageViews: false, tracking: { flush_interval: 0.05 } };
  const first = await openApp(r, context, options);
  await r.collector.waitFor(() => settingsRequests().some((q) => q.status === 200), 10_000, 'settings');
  await first.waitForFunction(() => localStorage.getItem('footfall.wk_test.settings') !== null);
  await first.close();

  r.collector.state.settings = null; // 404 from now on
  const second = await openApp(r, context, options);
  await second.evaluate(() => {
    ff.track('next_load', { secret: 'x', ok: true });
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('next_load')), 10_000, 'next_load');
  assert.deepEqual(received(r, isTrack('next_load'))[0].properties, { ok: true });
  assert.ok(settingsRequests().some((q) => q.status === 404), 'it did try');
  await context.close();
});

test('custom pii_patterns are applied in the browser (RegExp), to queued events too', async () => {
  reset({ body: {}, etag: '"r1"' });
  const context = await r.browser.newContext();
  const options = { autoPageViews: false, tracking: { flush_interval: 60 }, delivery: { settings_refresh: 0.5 } };
  const page = await openApp(r, context, options);
  await r.collector.waitFor(() => settingsRequests().some((q) => q.status === 200), 10_000, 'the first settings');
  const props = { code: 'secret-42', note: 'not secret-42', nested: { list: ['secret-7', 'secret-x'] }, n: 42 };
  await page.evaluate((p) => ff.track('queued_before', p), props);
  assert.equal((await storedEvents(page)).length, 1);

  // The privacy team adds a pattern (and an invalid one: skipped, counted, tracking goes on).
  r.collector.state.settings = { body: { pii_scrubbing: true, pii_patterns: ['^secret-\\d+$', '('] }, etag: '"r2"' };
  let stored;
  for (let i = 0; i < 200; i++) {
    stored = JSON.stringify(await storedEvents(page));
    if (stored.includes('[redacted]')) break;
    await sleep(50);
  }
  assert.ok(stored.includes('[redacted]') && !stored.includes('"secret-42'), `queued event rewritten: ${stored}`);
  const stats = await page.evaluate(() => ff.stats());
  assert.equal(stats.invalidPatterns, 1, JSON.stringify(stats));
  assert.ok(stats.warnings.some((w) => w.includes('pii_patterns[1]')), JSON.stringify(stats.warnings));

  await page.evaluate((p) => {
    ff.track('tracked_after', p);
    return ff.flush();
  }, props);
  await r.collector.waitFor((s) => s.messages.some(isTrack('tracked_after')), 10_000, 'tracked_after');
  for (const name of ['queued_before', 'tracked_after']) {
    const [m] = received(r, isTrack(name));
    assert.deepEqual(
      m.properties,
      { code: '[redacted]', note: 'not secret-42', nested: { list: ['[redacted]', 'secret-x'] }, n: 42 },
      name,
    );
  }
  await context.close();
});
