// The privacy control plane end to end with the browser SDK in Chromium and the real collector
// (`footfall serve`): a privacy team flips `anonymize_ip`, adds a property to the deny list and
// switches consent to `opt_in` through the admin API; within one settings refresh interval what
// the page *sends* (recorded from the browser's own requests) reflects every change, a raw HTTP
// client is held to the same settings by the collector, and the audit log lists the three
// changes. The native SDK's half of the scenario is collector/tests/privacy_e2e.rs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch } from './support/browser.mjs';
import { startRealCollector } from './support/collector-bin.mjs';
import { startStatic } from './support/server.mjs';
import { sleep } from './support/app.mjs';

const writeKey = 'wk_privacy_e2e';
const adminToken = 'admin_privacy_e2e';
// The project starts permissive: SDKs do not anonymize IPs, no deny list, opt-out consent.
const config = `projects:\n  - id: default\n    write_keys: [${writeKey}]\n    privacy:\n      anonymize_ip: false\n`;
let collector, site, browser;

before(async () => {
  [collector, site, browser] = await Promise.all([startRealCollector({ writeKey, adminToken, config }), startStatic(), launch()]);
});
after(async () => {
  await browser?.close();
  await Promise.all([site?.close(), collector?.close()]);
});

async function admin(method, path, body) {
  const res = await fetch(`${collector.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-footfall-actor': 'priya' },
    body: body && JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

async function until(what, check, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('three privacy changes reach the browser SDK within one refresh, raw clients and the audit log', async () => {
  const context = await browser.newContext();
  // Every message the page sends, as sent (batches go as text/plain JSON).
  const sent = [];
  context.on('request', (q) => {
    if (q.url().startsWith(`${collector.url}/v1/batch`)) sent.push(...JSON.parse(q.postData()).batch);
  });
  const named = (event) => sent.filter((m) => m.event === event);
  const options = {
    writeKey,
    endpoint: collector.url,
    autoPageViews: false,
    privacy: { anonymize_ip: false },
    tracking: { flush_interval: 0.05 },
    delivery: { settings_refresh: 0.5 },
  };
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${site.url}/pages/app.html?options=${encodeURIComponent(JSON.stringify(options))}`);
  await page.evaluate(() => window.ffReady);
  const checkout = () =>
    page.evaluate(() => {
      ff.track('checkout', { email: 'ada@example.com', plan: 'pro' });
      return ff.flush();
    });

  await checkout();
  await until('the first checkout', () => named('checkout').length === 1);
  const [first] = named('checkout');
  assert.equal(first.properties.email, 'ada@example.com');
  assert.notEqual(first.context.anonymizeIp, true, 'IPs not anonymized before the change');

  await admin('PUT', '/v1/admin/projects/default/privacy', { anonymize_ip: true });
  await admin('PUT', '/v1/admin/projects/default/privacy', { property_deny_list: ['email'] });
  await admin('PUT', '/v1/admin/projects/default/privacy', { consent_mode: 'opt_in' });
  const changedAt = Date.now();

  // Within one refresh interval (0.5 s) the page is in opt_in mode; the deadline leaves slack for
  // a loaded machine (a page that only read settings at load would never get there).
  await until('the page to apply opt_in', async () => (await page.evaluate(() => ff.consent.get())).analytics === 'pending', 5000);
  assert.ok(Date.now() - changedAt < 5000);
  await page.evaluate(() => {
    ff.track('before_choice', { email: 'ada@example.com' });
    return ff.flush();
  });
  await sleep(300);
  assert.deepEqual(named('before_choice'), [], 'nothing sent before the user opts in');
  assert.equal((await page.evaluate(() => ff.stats())).pendingConsent, 1);

  await page.evaluate(() => ff.consent.grant(['analytics']));
  await checkout();
  await until('the second checkout', () => named('checkout').length === 2 && named('before_choice').length === 1);
  for (const m of [named('checkout')[1], named('before_choice')[0]]) {
    assert.equal(m.properties.email, undefined, `denied property removed by the SDK: ${JSON.stringify(m)}`);
    assert.equal(m.context.anonymizeIp, true, 'the collector is told to truncate the address');
    assert.equal(m.context.consent.categoryPreferences.analytics, true);
  }
  assert.equal(named('checkout')[1].properties.plan, 'pro');
  await context.close();

  // The collector stored the page's events and refused none of them.
  const dead = await admin('GET', '/v1/admin/dead_letters?project=default');
  assert.deepEqual(dead.dead_letters, [], JSON.stringify(dead));

  // A raw HTTP client that ignores the settings is held to them.
  const ts = new Date(Date.now() - 1000).toISOString();
  const consented = { consent: { categoryPreferences: { analytics: true } } };
  const res = await fetch(`${collector.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${writeKey}:`)}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      batch: [
        { type: 'track', event: 'raw', messageId: 'raw-1', anonymousId: 'raw', timestamp: ts, properties: { email: 'x@y.z' }, context: consented },
        { type: 'track', event: 'raw', messageId: 'raw-2', anonymousId: 'raw', timestamp: ts },
        { type: 'track', event: 'raw', messageId: 'raw-3', anonymousId: 'raw', timestamp: ts, context: consented },
      ],
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(
    body.rejected.map((r) => [r.index, r.reason]),
    [
      [0, 'denied_property'],
      [1, 'no_consent'],
    ],
  );
  assert.equal(body.accepted, 1);

  // The audit log: the three changes, who made them, old and new values.
  const audit = await admin('GET', '/v1/admin/audit?project=default');
  const changes = audit.entries
    .filter((e) => e.action === 'privacy.update')
    .flatMap((e) => e.details.changes.map((c) => ({ actor: e.actor, field: c.field, old: c.old, new: c.new })));
  const byField = Object.fromEntries(changes.map((c) => [c.field, c]));
  assert.deepEqual(byField.anonymize_ip, { actor: 'admin:priya', field: 'anonymize_ip', old: false, new: true });
  assert.deepEqual(byField.property_deny_list, { actor: 'admin:priya', field: 'property_deny_list', old: [], new: ['email'] });
  assert.deepEqual(byField.consent_mode, { actor: 'admin:priya', field: 'consent_mode', old: 'opt_out', new: 'opt_in' });
  assert.equal(changes.length, 3, JSON.stringify(changes));
});
