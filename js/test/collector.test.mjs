// End to end against the reference collector (`footfall serve`, a child process with a temporary
// data dir): what the browser SDK sends is accepted, stored once per messageId, and attributed to
// the identified person — including the event sent by beacon as the page closed and the events
// queued across a reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch } from './support/browser.mjs';
import { startRealCollector } from './support/collector-bin.mjs';
import { startStatic } from './support/server.mjs';
import { sleep } from './support/app.mjs';

const writeKey = 'wk_browser_e2e';
const adminToken = 'admin_browser_e2e';
let collector, site, browser;

before(async () => {
  [collector, site, browser] = await Promise.all([startRealCollector({ writeKey, adminToken }), startStatic(), launch()]);
});
after(async () => {
  await browser?.close();
  await Promise.all([site?.close(), collector?.close()]);
});

async function exported(userId) {
  const res = await fetch(`${collector.url}/v1/admin/users/${encodeURIComponent(userId)}/export`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('the real collector stores what the browser sends, once, for the identified person', async () => {
  const context = await browser.newContext();
  const requests = [];
  context.on('request', (q) => q.url().startsWith(collector.url) && requests.push(q));
  const options = { writeKey, endpoint: collector.url, tracking: { flush_interval: 60 } };
  const url = `${site.url}/pages/app.html?options=${encodeURIComponent(JSON.stringify(options))}`;
  const page = await context.newPage();
  await page.goto(url);
  await page.evaluate(() => window.ffReady);
  await page.evaluate(() => {
    ff.identify('user_e2e_1', { plan: 'pro' });
    ff.track('real_before_reload', { n: 1 });
  });
  await page.reload(); // queued events leave by beacon on pagehide
  await page.evaluate(() => window.ffReady);
  await page.evaluate(() => {
    ff.trackFeatureUsed('search', '2');
    return ff.flush();
  });
  await page.evaluate(() => ff.track('real_at_close'));
  await page.close({ runBeforeUnload: true });

  let rows = [];
  for (let i = 0; i < 50; i++) {
    rows = await exported('user_e2e_1');
    if (['real_before_reload', 'feature_used', 'real_at_close'].every((e) => JSON.stringify(rows).includes(e))) break;
    await sleep(200);
  }
  const text = JSON.stringify(rows);
  for (const name of ['real_before_reload', 'feature_used', 'real_at_close']) {
    assert.ok(text.includes(`"${name}"`), `${name} stored: ${text.slice(0, 2000)}`);
  }
  const ids = rows.map((r) => r.message_id ?? r.messageId);
  assert.ok(ids.length >= 3 && ids.every(Boolean), `rows carry message ids: ${Object.keys(rows[0] ?? {})}`);
  assert.equal(new Set(ids).size, ids.length, 'each messageId stored once');
  assert.equal(requests.filter((q) => q.method() === 'OPTIONS').length, 0, 'no preflight');
  await context.close();
});
