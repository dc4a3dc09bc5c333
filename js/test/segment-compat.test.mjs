// Segment compatibility with the real library: Segment's own Node SDK (`@segment/analytics-node`,
// pinned in devDependencies) pointed at the reference collector (`footfall serve`, $FOOTFALL_BIN,
// a child process with a temporary data dir) through its `host`/`path` options. Every message
// type goes through the library, in several batches; the test asserts the library's requests
// (Basic auth with the write key, JSON batch, no retries) and, field by field, what the
// collector stored (read back through the admin export). Plain Node, no browser.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { startRealCollector } from './support/collector-bin.mjs';

const writeKey = 'wk_segment_compat';
const adminToken = 'admin_segment_compat';
const pinned = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).devDependencies[
  '@segment/analytics-node'
];
let collector;

before(async () => {
  collector = await startRealCollector({ writeKey, adminToken });
});
after(async () => {
  await collector?.close();
});

async function exported(kind, id) {
  const res = await fetch(`${collector.url}/v1/admin/${kind}/${encodeURIComponent(id)}/export`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** An Analytics instance on the collector that records the library's requests and responses. */
function segment(key = writeKey) {
  const analytics = new Analytics({
    writeKey: key,
    host: collector.url,
    path: '/v1/batch',
    flushAt: 4,
    flushInterval: 200,
    maxRetries: 2,
  });
  const requests = [];
  const responses = [];
  const errors = [];
  analytics.on('http_request', (r) => requests.push(r));
  analytics.on('http_response', (r) => responses.push(r));
  analytics.on('error', (e) => errors.push(e));
  return { analytics, requests, responses, errors };
}

const properties = {
  nested: { a: { b: [1, 'two', { c: null }] } },
  list: [1, 2.5, -3, 'x', true],
  unicode: 'héllo ✓ 日本 🎉',
  count: 42,
  ratio: 0.125,
  yes: true,
  no: false,
  nothing: null,
};
const chrome =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

test('every call of @segment/analytics-node is stored as sent', async () => {
  const { analytics, requests, responses, errors } = segment();
  const when = new Date('2026-11-28T10:00:00.123Z');
  analytics.track({
    userId: 'seg_user_1',
    event: 'Order Completed',
    properties,
    timestamp: when,
    messageId: 'seg-track-1',
    context: { ip: '203.0.113.9', userAgent: chrome, locale: 'fr-FR', app: { name: 'shop', version: '1.2' } },
    integrations: { All: false, Mixpanel: true },
  });
  analytics.track({ anonymousId: 'seg_anon_2', event: 'Anonymous Event', properties: { n: 1 }, messageId: 'seg-anon-1' });
  analytics.page({
    userId: 'seg_user_1',
    category: 'Docs',
    name: 'Install',
    properties: { path: '/docs/install' },
    messageId: 'seg-page-1',
  });
  analytics.screen({ userId: 'seg_user_1', name: 'Home', properties: { tab: 2 }, messageId: 'seg-screen-1' });
  analytics.identify({
    userId: 'seg_user_1',
    anonymousId: 'seg_anon_1',
    traits: { email: 'zoe@example.com', name: 'Zoë', address: { city: 'Paris' }, tags: ['a', 'b'] },
    messageId: 'seg-identify-1',
  });
  analytics.group({ userId: 'seg_user_1', groupId: 'org_1', traits: { name: 'Acme', employees: 10 }, messageId: 'seg-group-1' });
  analytics.alias({ userId: 'seg_user_1', previousId: 'seg_old_1', messageId: 'seg-alias-1' });
  await analytics.flush({ timeout: 10_000 });
  // flush() resolves after the collector answered: a 200 means committed, so already exported.
  assert.equal((await exported('users', 'seg_user_1')).length, 6, 'stored when flush() resolves');
  for (let i = 0; i < 10; i++) analytics.track({ userId: 'seg_bulk', event: 'Bulk', properties: { i } });
  await analytics.closeAndFlush({ timeout: 10_000 });

  // The library's side: several batches, Basic auth with the write key, all answered 200, no retry.
  assert.deepEqual(errors, []);
  assert.ok(requests.length >= 4, `17 messages, flushAt 4, one flush(): several batches: ${requests.length}`);
  assert.equal(responses.length, requests.length, 'one response per request (no retries)');
  for (const [i, r] of requests.entries()) {
    assert.equal(r.url, `${collector.url}/v1/batch`);
    assert.equal(r.headers.Authorization, `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`);
    assert.equal(r.headers['X-Retry-Count'], undefined);
    const body = JSON.parse(r.body);
    assert.ok(Array.isArray(body.batch) && body.batch.length >= 1 && typeof body.sentAt === 'string');
    assert.equal(responses[i].status, 200, `batch ${i}`);
  }

  // What the collector stored, field by field.
  const rows = await exported('users', 'seg_user_1');
  const byId = Object.fromEntries(rows.map((r) => [r.message_id, r]));
  assert.deepEqual(Object.keys(byId).sort(), [
    'seg-alias-1',
    'seg-group-1',
    'seg-identify-1',
    'seg-page-1',
    'seg-screen-1',
    'seg-track-1',
  ]);
  const library = { name: '@segment/analytics-node', version: pinned };

  const track = byId['seg-track-1'];
  assert.equal(track.kind, 'track');
  assert.equal(track.event, 'Order Completed');
  assert.equal(track.user_id, 'seg_user_1');
  assert.equal(track.anonymous_id, null);
  assert.deepEqual(track.properties, properties);
  assert.equal(track.original_timestamp, when.toISOString());
  assert.ok(Math.abs(track.ts - when.getTime()) < 60_000, `skew-corrected ts near the Date: ${track.ts}`);
  assert.deepEqual(track.context.library, library);
  assert.deepEqual(track.context.app, { name: 'shop', version: '1.2' });
  assert.equal(track.context.locale, 'fr-FR');
  assert.equal(track.ip, '203.0.113.0', 'context.ip, truncated');
  assert.equal(track.browser, 'Chrome');
  assert.equal(track.device_type, 'desktop');
  assert.equal(track.is_bot, false);

  const page = byId['seg-page-1'];
  assert.equal(page.kind, 'page');
  assert.equal(page.event, 'page_view');
  assert.deepEqual(page.properties, { path: '/docs/install', name: 'Install', category: 'Docs' });

  const screen = byId['seg-screen-1'];
  assert.equal(screen.event, 'screen_view');
  assert.deepEqual(screen.properties, { tab: 2, name: 'Home' });

  const identify = byId['seg-identify-1'];
  assert.equal(identify.event, '$identify');
  assert.equal(identify.anonymous_id, 'seg_anon_1');
  assert.deepEqual(identify.traits, { email: 'zoe@example.com', name: 'Zoë', address: { city: 'Paris' }, tags: ['a', 'b'] });
  assert.equal(identify.is_bot, false, "the library's own user agent is not a bot's");
  assert.equal(identify.browser, null);
  assert.deepEqual(identify.context.library, library);

  const group = byId['seg-group-1'];
  assert.equal(group.event, '$group');
  assert.equal(group.group_id, 'org_1');
  assert.deepEqual(group.traits, { name: 'Acme', employees: 10 });

  const alias = byId['seg-alias-1'];
  assert.equal(alias.event, '$alias');
  assert.equal(alias.properties.previousId, 'seg_old_1');

  // The identify and the alias linked the anonymous and previous ids to the user.
  for (const id of ['seg_anon_1', 'seg_old_1']) {
    const linked = await exported('anonymous_ids', id);
    assert.ok(linked.some((r) => r.message_id === 'seg-track-1'), `${id} is linked to seg_user_1`);
  }

  const [anon] = await exported('anonymous_ids', 'seg_anon_2');
  assert.equal(anon.message_id, 'seg-anon-1');
  assert.equal(anon.user_id, null);
  assert.equal(anon.event, 'Anonymous Event');
  assert.deepEqual(anon.properties, { n: 1 });
  assert.ok(Math.abs(anon.ts - Date.now()) < 60_000);

  const bulk = await exported('users', 'seg_bulk');
  assert.equal(bulk.length, 10);
  assert.deepEqual(bulk.map((r) => r.properties.i).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(bulk.every((r) => typeof r.message_id === 'string' && r.message_id.length > 10), 'the library’s messageIds');
  assert.equal(new Set(bulk.map((r) => r.message_id)).size, 10);
});

test('an unknown write key is refused (401) and reported by the library, not retried', async () => {
  const { analytics, requests, responses, errors } = segment('wk_unknown');
  analytics.track({ userId: 'seg_refused', event: 'Refused' });
  await analytics.closeAndFlush({ timeout: 10_000 });
  assert.equal(requests.length, 1, 'a 401 is not retried');
  assert.equal(responses[0].status, 401);
  assert.equal(errors.length, 1);
  assert.deepEqual(await exported('users', 'seg_refused'), []);
});
