// Persisted formats, version 1: a localStorage snapshot written by footfall 0.1.0 in Chromium (the
// golden fixture tests/fixtures/persisted/v1/browser/, see the README there) — queue chunks of two
// tabs' partitions, the shared state with identity, session and consent choices, the last known
// privacy settings — is read by this version: every queued event arrives once with its fields,
// identity and consent are restored; also when a newer version added fields this one does not know
// (the rollback direction). A change that breaks this needs a migration and a v2 fixture, never an
// edit of v1.
//
// The generator the fixture was made with is the last test, skipped unless FOOTFALL_FIXTURE_OUT
// names a directory to write (never an existing one).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openApp, received, rig, sleep, storedEvents } from './support/app.mjs';
import { repoDir } from './support/server.mjs';

const fixtureDir = join(repoDir, 'tests/fixtures/persisted/v1/browser');
const prefix = 'footfall.wk_test.';
/** The options the snapshot was written with (and is read with). */
const options = { autoPageViews: false, consent: { mode: 'opt_in' }, tracking: { flush_interval: 3600 } };

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

const readJson = (name) => JSON.parse(readFileSync(join(fixtureDir, name), 'utf8'));

/** The stored messages of a snapshot's queue chunks (`q.<tab>.<seq>` keys). */
function queuedIn(snapshot) {
  return Object.entries(snapshot)
    .filter(([k]) => k.startsWith(`${prefix}q.`))
    .flatMap(([, v]) => JSON.parse(v))
    .map((item) => item.message);
}

function reset() {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  r.collector.state.respond = null;
  r.collector.state.settings = null; // 404: the stored settings stay in force
}

/** Opens the app on `snapshot` (written to localStorage before the SDK loads) and checks that every
 * queued message arrives once, as stored, and that identity, consent and settings are restored. */
async function deliverSnapshot(snapshot) {
  reset();
  const expected = readJson('expected.json');
  const queued = queuedIn(snapshot);
  assert.deepEqual(
    queued.map((m) => m.messageId).sort(),
    [...expected.messageIds].sort(),
    'the snapshot holds the fixture',
  );
  const context = await r.browser.newContext();
  await context.addInitScript((items) => {
    if (sessionStorage.getItem('seeded')) return;
    sessionStorage.setItem('seeded', '1');
    for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v);
  }, snapshot);
  // The fixture's events were enqueued in November 2026: `max_age` (default 12 h) must not expire them.
  const page = await openApp(r, context, { ...options, delivery: { max_age: 1e10 } });
  await r.collector.waitFor(
    (s) => expected.messageIds.every((id) => s.messages.some((m) => m.messageId === id)),
    15_000,
    'every queued event of both partitions',
  );
  await page.evaluate(() => ff.flush());
  await sleep(300);
  const got = received(r);
  for (const stored of queued) {
    const arrived = got.filter((m) => m.messageId === stored.messageId);
    assert.equal(arrived.length, 1, `${stored.messageId} once`);
    const { sentAt, ...rest } = arrived[0];
    assert.ok(sentAt, 'sentAt added per attempt');
    assert.deepEqual(rest, stored, `${stored.messageId} as stored`);
  }
  const state = await page.evaluate(() => ({
    anonymousId: ff.anonymousId(),
    userId: ff.userId(),
    sessionId: ff.sessionId(),
    consent: ff.consent.get(),
  }));
  assert.equal(state.anonymousId, expected.anonymousId);
  assert.equal(state.userId, expected.userId);
  assert.equal(state.consent.analytics, 'granted');
  assert.equal(state.consent.marketing, 'denied');
  // New events: the restored identity, consent and privacy settings (`secret` is denied).
  await page.evaluate(async () => {
    ff.track('after upgrade', { secret: 1, k: 'v' });
    ff.track('campaign', {}, { category: 'marketing' });
    await ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some((m) => m.event === 'after upgrade'), 10_000, 'the new event');
  await sleep(200);
  const fresh = received(r, (m) => m.event === 'after upgrade');
  assert.equal(fresh.length, 1);
  assert.equal(fresh[0].anonymousId, expected.anonymousId);
  assert.equal(fresh[0].userId, expected.userId);
  assert.deepEqual(fresh[0].properties, { k: 'v' }, 'the stored settings deny `secret`');
  assert.equal(received(r, (m) => m.event === 'campaign').length, 0, 'marketing stays denied');
  assert.deepEqual(await storedEvents(page), [], 'nothing left queued');
  await context.close();
  return got;
}

test('a v1 localStorage snapshot: every queued event of both tabs arrives once, identity and consent restored', async () => {
  await deliverSnapshot(readJson('localStorage.json'));
});

test('a v1 snapshot with a newer version’s additions loses nothing', async () => {
  const snapshot = readJson('localStorage.json');
  const stateKey = `${prefix}state`;
  const state = JSON.parse(snapshot[stateKey]);
  state.v = 2;
  state.devices = ['x'];
  state.session.future = { a: 1 };
  snapshot[stateKey] = JSON.stringify(state);
  let tagged = 0;
  for (const key of Object.keys(snapshot).filter((k) => k.startsWith(`${prefix}q.`))) {
    const items = JSON.parse(snapshot[key]);
    for (const item of items) {
      item.attempts = 3; // an item field this version does not know
      item.message.futureField = { x: [1, 2] }; // a message field: sent as is
      tagged++;
    }
    snapshot[key] = JSON.stringify(items);
  }
  assert.ok(tagged > 0);
  snapshot[`${prefix}meta`] = '{"format":2}';
  const got = await deliverSnapshot(snapshot);
  const withField = got.filter((m) => m.futureField?.x?.length === 2);
  assert.equal(withField.length, tagged, 'every message kept the newer field');
});

test('generator: writes the v1 browser fixture', { skip: !process.env.FOOTFALL_FIXTURE_OUT }, async () => {
  const out = process.env.FOOTFALL_FIXTURE_OUT;
  assert.ok(!existsSync(out), `${out} exists: fixtures are never overwritten`);
  reset();
  r.collector.state.respond = () => ({ status: 503 });
  r.collector.state.settings = { body: { property_deny_list: ['secret'] }, etag: '"v1-settings"' };
  const context = await r.browser.newContext();
  const tab1 = await openApp(r, context, options);
  await tab1.evaluate(() => {
    ff.consent.grant(['analytics']);
    ff.consent.deny(['marketing']);
    ff.identify('user-ü-42', { name: 'Zoë Ærøskøbing' });
    ff.track('Bestellung abgeschlossen', {
      städte: ['Zürich', '東京', 'Kraków'],
      emoji: '🙂👍🏽',
      escapes: '"quoted" \\ back\nslash\ttab \u0001 \u2028',
      price: 12.5,
      qty: 3,
      neg: -0.0001,
      nested: { a: { b: [true, false, null, 1e300] } },
    });
    ff.track('campaign', {}, { category: 'marketing' }); // denied: never stored
    ff.page('Startseite', { url: 'https://shop.example/ä?q=ß' });
  });
  await sleep(300);
  const tab2 = await openApp(r, context, options);
  await tab2.evaluate(() => {
    ff.track('from tab 2', { '€': '€' });
    ff.track('large upload', { blob: 'Größe-漢字-🙂 '.repeat(300) });
  });
  await sleep(500);
  const snapshot = await tab1.evaluate(() =>
    Object.fromEntries(Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)])),
  );
  const tabs = new Set(Object.keys(snapshot).filter((k) => k.includes('.q.')).map((k) => k.split('.')[3]));
  assert.equal(tabs.size, 2, `two partitions: ${Object.keys(snapshot)}`);
  const ids = await Promise.all([tab1, tab2].map((p) => p.evaluate(() => [ff.anonymousId(), ff.userId(), ff.sessionId()])));
  assert.deepEqual(ids[0], ids[1], 'the tabs share the identity');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'localStorage.json'), `${JSON.stringify(snapshot, null, 2)}\n`);
  const expected = {
    anonymousId: ids[0][0],
    userId: ids[0][1],
    sessionId: ids[0][2],
    messageIds: queuedIn(snapshot).map((m) => m.messageId),
  };
  writeFileSync(join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
  await context.close();
});
