// Offline: events are kept (in memory and storage) and delivered when the browser is back online.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTrack, openApp, received, rig, sleep, storedEvents } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

test('offline → events kept, delivered once right after reconnecting (no backoff wait)', async () => {
  const context = await r.browser.newContext();
  // A long backoff: only the `online` event (the core's retry_now) can make delivery prompt.
  const options = {
    autoPageViews: false,
    tracking: { flush_interval: 0.05 },
    delivery: { backoff_base: 30, backoff_cap: 60 },
  };
  const page = await openApp(r, context, options);
  await context.setOffline(true);
  await page.evaluate(() => {
    for (let i = 0; i < 3; i++) ff.track(`offline_${i}`);
  });
  await sleep(800);
  const stats = await page.evaluate(() => ff.stats());
  assert.equal(stats.sent, 0);
  assert.ok(stats.retried >= 3, `a failed attempt was made and the events went back: ${JSON.stringify(stats)}`);
  assert.equal(stats.queued + stats.inFlight, 3);
  assert.equal(received(r).filter((m) => m.event?.startsWith('offline_')).length, 0);
  assert.equal((await storedEvents(page)).length, 3, 'kept in storage while offline');

  const reconnected = Date.now();
  await context.setOffline(false);
  await r.collector.waitFor((s) => s.messages.filter((m) => m.event?.startsWith('offline_')).length >= 3, 10_000, 'reconnect delivery');
  const waited = Date.now() - reconnected;
  assert.ok(waited < 5_000, `delivered ${waited} ms after reconnecting, not after the backoff (≥ 30 s)`);
  await page.evaluate(() => ff.flush());
  for (const name of ['offline_0', 'offline_1', 'offline_2']) {
    assert.equal(received(r, isTrack(name)).length, 1, name);
  }
  const order = received(r).filter((m) => m.event?.startsWith('offline_')).map((m) => m.event);
  assert.deepEqual(order, ['offline_0', 'offline_1', 'offline_2'], 'in order');
  await context.close();
});
