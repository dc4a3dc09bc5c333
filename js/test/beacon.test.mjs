// Closing the page right after track(): the event leaves by beacon on pagehide.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTrack, openApp, received, rig } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

test('close right after track() → delivered by sendBeacon (text/plain, no preflight)', async () => {
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 60 } });
  await page.evaluate(() => ff.track('goodbye', { reason: 'closing' }));
  await page.close({ runBeforeUnload: true });
  await r.collector.waitFor((s) => s.messages.some(isTrack('goodbye')), 10_000, 'goodbye');
  const [msg] = received(r, isTrack('goodbye'));
  assert.deepEqual(msg.properties, { reason: 'closing' });
  const request = r.collector.state.requests.find((q) => q.body?.batch?.some(isTrack('goodbye')));
  assert.equal(request.headers['sec-fetch-mode'], 'no-cors', 'sent by navigator.sendBeacon');
  assert.match(request.headers['content-type'], /^text\/plain/);
  assert.equal(request.body.writeKey, 'wk_test');
  assert.ok(request.text.length <= 64 * 1024);
  assert.equal(r.collector.state.requests.filter((q) => q.method === 'OPTIONS').length, 0);
  await context.close();
});

test('page hide with more than the 64 KB beacon quota queued: the rest stays stored for the next page', async () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
  const context = await r.browser.newContext();
  const options = { autoPageViews: false, tracking: { flush_interval: 60, batch_size: 1000 } };
  const page = await openApp(r, context, options);
  await page.evaluate(() => {
    const blob = 'x'.repeat(2000);
    for (let i = 0; i < 100; i++) ff.track('bulk', { i, blob });
  });
  await page.close({ runBeforeUnload: true });
  await r.collector.waitFor((s) => s.messages.filter(isTrack('bulk')).length >= 20, 10_000, 'the first beacon');
  const early = received(r, isTrack('bulk')).length;
  assert.ok(early < 100, `the browser's keepalive quota lets only part go at close (${early})`);

  const next = await openApp(r, context, options);
  await next.evaluate(() => ff.flush());
  await r.collector.waitFor((s) => s.messages.filter(isTrack('bulk')).length >= 100, 15_000, '100 bulk events');
  const bodies = r.collector.state.requests.filter((q) => q.body?.batch?.some(isTrack('bulk')));
  for (const q of bodies.filter((b) => b.headers['sec-fetch-mode'] === 'no-cors')) {
    assert.ok(Buffer.byteLength(q.text) <= 64 * 1024, `beacon body ${q.text.length} bytes`);
  }
  const seen = received(r, isTrack('bulk')).map((m) => m.properties.i).sort((a, b) => a - b);
  assert.deepEqual(seen, [...Array(100).keys()], 'every event exactly once');
  await context.close();
});
