// Several tabs share one localStorage: no event is sent twice, none is lost.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApp, received, rig, sleep } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

function assertNoDuplicates() {
  const ids = r.collector.state.messages.map((m) => m.messageId);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(dupes, [], 'a messageId arrived twice');
}

const names = (prefix) => received(r, (m) => m.event?.startsWith(prefix)).map((m) => m.event).sort();

test('two tabs tracking, reloading and flushing at the same time: no duplicates, none lost', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const options = { tracking: { flush_interval: 0.3 } };
  const [a, b] = await Promise.all([openApp(r, context, options), openApp(r, context, options)]);
  const track = (page, tab) =>
    page.evaluate((tab) => {
      for (let i = 0; i < 10; i++) ff.track(`${tab}_${i}`);
    }, tab);
  await Promise.all([track(a, 'a'), track(b, 'b')]);
  await Promise.all([a.reload(), b.reload()]);
  await Promise.all([a.evaluate(() => window.ffReady), b.evaluate(() => window.ffReady)]);
  await Promise.all([track(a, 'a2'), track(b, 'b2')]);
  await Promise.all([a.evaluate(() => ff.flush()), b.evaluate(() => ff.flush())]);
  const expected = ['a', 'b', 'a2', 'b2'].flatMap((t) => [...Array(10).keys()].map((i) => `${t}_${i}`)).sort();
  await r.collector.waitFor(() => names('').filter((n) => expected.includes(n)).length >= 40, 10_000, '40 events');
  await sleep(500);
  assertNoDuplicates();
  assert.deepEqual(names('').filter((n) => expected.includes(n)), expected);
  assert.equal(received(r, (m) => m.type === 'page').length, 4, 'one page view per load');
  await context.close();
});

test("a tab that dies with events queued: exactly one later tab adopts and sends them", async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const options = {
    autoPageViews: false,
    tracking: { flush_interval: 0.05 },
    delivery: { backoff_base: 0.05, backoff_cap: 0.2 },
  };
  const survivor = await openApp(r, context, options);
  r.collector.state.respond = () => ({ status: 503 });
  const dying = await openApp(r, context, options);
  await dying.evaluate(() => {
    for (let i = 0; i < 5; i++) ff.track(`orphan_${i}`);
  });
  await sleep(300);
  await dying.close({ runBeforeUnload: true }); // collector failing: no beacon, events stay stored
  r.collector.state.respond = null;
  await sleep(200);
  assert.deepEqual(names('orphan_'), [], 'nothing delivered while the collector was down');

  // Two new tabs start at the same moment; only one may adopt the orphaned partition.
  const [c, d] = await Promise.all([openApp(r, context, options), openApp(r, context, options)]);
  await Promise.all([c.evaluate(() => ff.flush()), d.evaluate(() => ff.flush()), survivor.evaluate(() => ff.flush())]);
  await r.collector.waitFor(() => names('orphan_').length >= 5, 10_000, 'orphaned events');
  await sleep(500);
  assertNoDuplicates();
  assert.deepEqual(names('orphan_'), ['orphan_0', 'orphan_1', 'orphan_2', 'orphan_3', 'orphan_4']);
  const restored = await Promise.all([c, d, survivor].map((p) => p.evaluate(() => ff.stats().restored)));
  assert.deepEqual(restored.sort(), [0, 0, 5], `exactly one tab restored them: ${restored}`);
  await context.close();
});

test("a consent grant in one tab is not undone by another tab's stale state", async () => {
  const context = await r.browser.newContext();
  const options = { consent: { mode: 'opt_in' }, autoPageViews: false };
  const [a, b] = await Promise.all([openApp(r, context, options), openApp(r, context, options)]);
  await a.evaluate(() => ff.consent.grant(['analytics']));
  // Tab B still holds the state it loaded (no choice) and saves it on identify.
  await b.evaluate(() => ff.identify('user_tabs', { plan: 'pro' }));
  await sleep(100);
  const c = await openApp(r, context, options);
  const state = await c.evaluate(() => ({ consent: ff.consent.get().analytics, user: ff.userId() }));
  assert.deepEqual(state, { consent: 'granted', user: 'user_tabs' });
  await context.close();
});
