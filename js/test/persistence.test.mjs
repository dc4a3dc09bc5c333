// The persistent queue: a reload mid-queue loses nothing and duplicates nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appUrl, isTrack, openApp, received, rig, sleep, storedEvents } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

function assertOnce(messages, names) {
  for (const name of names) {
    const got = messages.filter(isTrack(name));
    assert.equal(got.length, 1, `${name} delivered exactly once (got ${got.length})`);
  }
  const ids = messages.map((m) => m.messageId);
  assert.equal(new Set(ids).size, ids.length, 'no messageId twice');
}

const queuedKeys = async (page) => (await storedEvents(page)).length;

test('reload with events queued: delivered once (beacon on pagehide), not re-sent after the reload', async () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  const context = await r.browser.newContext();
  const options = { autoPageViews: false, tracking: { flush_interval: 60 } };
  const page = await openApp(r, context, options);
  await page.evaluate(() => {
    for (let i = 0; i < 5; i++) ff.track(`queued_${i}`, { i });
  });
  assert.equal(await queuedKeys(page), 5, 'the queue is persisted');
  await page.reload();
  await page.evaluate(() => window.ffReady);
  await r.collector.waitFor((s) => s.messages.filter((m) => m.event?.startsWith('queued_')).length >= 5, 10_000, '5 events');
  await page.evaluate(() => ff.flush());
  await sleep(300);
  assertOnce(received(r), [0, 1, 2, 3, 4].map((i) => `queued_${i}`));
  assert.equal(await queuedKeys(page), 0, 'nothing left in storage');
  await context.close();
});

test('reload while the collector fails: events stay stored and are delivered once after the reload', async () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  let refused = 0;
  r.collector.state.respond = () => {
    refused++;
    return { status: 503 };
  };
  const context = await r.browser.newContext();
  const options = {
    autoPageViews: false,
    tracking: { flush_interval: 0.05 },
    delivery: { backoff_base: 0.05, backoff_cap: 0.2 },
  };
  const page = await openApp(r, context, options);
  await page.evaluate(() => {
    for (let i = 0; i < 4; i++) ff.track(`failing_${i}`);
  });
  await r.collector.waitFor(() => refused >= 2, 10_000, 'two refused attempts');
  const before = await page.evaluate(() => ff.stats());
  assert.ok(before.retried >= 4, `retried: ${JSON.stringify(before)}`);
  assert.equal(await queuedKeys(page), 4);

  // The collector is down: the pagehide flush must not fire-and-forget a beacon.
  const refusedAtReload = refused;
  r.collector.state.respond = () => ({ status: 503 });
  await page.goto('about:blank');
  await sleep(300);
  const beaconsWhileDown = r.collector.state.requests.filter((q) => q.headers['sec-fetch-mode'] === 'no-cors').length;
  assert.equal(beaconsWhileDown, 0, 'no beacon while delivery is failing');

  r.collector.state.respond = null;
  await page.goto(appUrl(r, options));
  await page.evaluate(() => window.ffReady);
  // The new page adopts the old page's partition a moment after it starts (host.ts `adoptSoon`).
  await page.waitForFunction(() => ff.stats().restored > 0, null, { timeout: 5_000 });
  const restored = await page.evaluate(() => ff.stats().restored);
  assert.equal(restored, 4, 'the new page restored the 4 stored events');
  await r.collector.waitFor((s) => s.messages.filter((m) => m.event?.startsWith('failing_')).length >= 4, 10_000, '4 events');
  await page.evaluate(() => ff.flush());
  await sleep(300);
  assertOnce(received(r), [0, 1, 2, 3].map((i) => `failing_${i}`));
  assert.ok(refused >= refusedAtReload);
  assert.equal(await queuedKeys(page), 0);
  await context.close();
});
