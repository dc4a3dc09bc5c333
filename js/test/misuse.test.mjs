// Real-world misuse and hostile browsers: `load` called twice, storage that fails, prerendered
// pages, the back/forward cache, sandboxed iframes, hostile arguments and clock jumps. Nothing
// may be lost or duplicated, nothing thrown into the page but the `Error`s of bad argument types,
// and the engine must keep working afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumArgs, recordRequests } from './support/browser.mjs';
import { appUrl, isTrack, openApp, received, rig, sleep, storedEvents } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

const fresh = () => {
  r.collector.state.messages.length = 0;
  r.collector.state.requests.length = 0;
};

/** Collects the page's uncaught errors (a trap or an exception thrown into the page). */
const pageErrors = (page) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
};

const pages = () => received(r, (m) => m.type === 'page');

test('load twice (StrictMode, two script tags, racing calls): one tracker, one page view, one partition', async () => {
  fresh();
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { tracking: { flush_interval: 0.05 }, debug: true });
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const errors = pageErrors(page);
  const result = await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    const options = JSON.parse(new URLSearchParams(location.search).get('options'));
    // Two calls racing each other (neither resolved yet), then one after the first resolved.
    const [a, b] = await Promise.all([Footfall.load(options), Footfall.load(options)]);
    const c = await Footfall.load({ ...options, autoPageViews: false });
    ff.track('once');
    await ff.flush();
    const queues = new Set(Object.keys(localStorage).filter((k) => k.includes('.q.')).map((k) => k.split('.')[3]));
    return { same: a === ff && b === ff && c === ff, partitions: queues.size };
  });
  assert.ok(result.same, 'every load with the same writeKey resolves to the first tracker');
  assert.ok(result.partitions <= 1, `one storage partition, not one per load (${result.partitions})`);
  await sleep(300);
  assert.equal(pages().length, 1, 'one page view, not one per load');
  assert.equal(received(r, isTrack('once')).length, 1);
  assert.equal(warnings.filter((w) => /load: wk_test is loaded already; options ignored/.test(w)).length, 1, 'warned once: options differed');

  // After destroy(), load starts a new tracker (a new page view for the same page).
  const renewed = await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    const options = JSON.parse(new URLSearchParams(location.search).get('options'));
    ff.destroy();
    const next = await Footfall.load(options);
    await next.flush();
    return next !== ff && next.active;
  });
  assert.ok(renewed);
  await sleep(200);
  assert.equal(pages().length, 2);
  assert.deepEqual(errors, []);
  await context.close();
});

test('destroy() then load() (a remount, React StrictMode): the new tracker sends what the old one had queued, once', async () => {
  fresh();
  const context = await r.browser.newContext();
  // Batches wait a minute: the three events are only queued (stored) when the tracker goes.
  const page = await openApp(r, context, { tracking: { flush_interval: 60 }, autoPageViews: false });
  const result = await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    const options = JSON.parse(new URLSearchParams(location.search).get('options'));
    for (let i = 0; i < 3; i++) ff.track('carried', { i });
    ff.destroy();
    const next = await Footfall.load(options);
    await new Promise((wait) => setTimeout(wait, 1_500)); // the adoption waits out 1 s (see `adoptSoon`)
    await next.flush();
    return next.stats();
  });
  await sleep(200);
  assert.deepEqual(
    received(r, isTrack('carried')).map((m) => m.properties.i).sort(),
    [0, 1, 2],
    `the queued events are sent by the next tracker, each once (stats: ${JSON.stringify(result)})`,
  );
  assert.equal((await storedEvents(page)).length, 0, 'and leave the storage');
  await context.close();
});

test('destroy() while a batch is in flight: its answer still clears it, the next tracker does not send it again', async () => {
  fresh();
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { tracking: { flush_interval: 0.05 }, autoPageViews: false });
  // The batch reaches the collector 600 ms late, so its answer comes after destroy().
  await context.route('**/v1/batch', async (route) => {
    await sleep(600);
    await route.continue();
  });
  await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    const options = JSON.parse(new URLSearchParams(location.search).get('options'));
    ff.track('in_flight');
    await new Promise((wait) => setTimeout(wait, 250));
    ff.destroy();
    const next = await Footfall.load(options);
    await new Promise((wait) => setTimeout(wait, 2_000));
    next.track('after');
    await next.flush();
  });
  await sleep(200);
  assert.equal(received(r, isTrack('after')).length, 1);
  assert.equal(received(r, isTrack('in_flight')).length, 1, 'the batch in flight at destroy() is not sent again');
  assert.equal((await storedEvents(page)).length, 0);
  await context.close();
});

test('localStorage throwing on access (cookies blocked): tracks in memory, counted, a warning, delivered', async () => {
  fresh();
  const context = await r.browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(window, 'localStorage', {
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
  });
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.05 } });
  const errors = pageErrors(page);
  const stats = await page.evaluate(async () => {
    ff.track('no_storage');
    await ff.flush();
    return ff.stats();
  });
  assert.equal(received(r, isTrack('no_storage')).length, 1);
  assert.equal(stats.storeErrors, 1);
  assert.match(stats.warnings.join('\n'), /localStorage is unavailable/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('localStorage full of the site\'s other data (QuotaExceededError): events delivered, counted, a warning', async () => {
  fresh();
  const context = await r.browser.newContext();
  const filler = await context.newPage();
  await filler.goto(`${r.site.url}/pages/app.html?options=${encodeURIComponent('{"writeKey":"other","persistence":"memory"}')}`);
  const full = await filler.evaluate(() => {
    localStorage.clear();
    // Fill to the last byte: big values first, then ever smaller ones.
    let n = 0;
    for (let size = 1 << 20; size >= 16; size >>= 1) {
      try {
        for (;;) localStorage.setItem(`site_${n++}`, 'z'.repeat(size));
      } catch (_) {}
    }
    try {
      localStorage.setItem('probe', 'x'.repeat(64));
      return false;
    } catch (_) {
      return true;
    }
  });
  assert.ok(full, 'storage is full');
  await filler.close();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.05 }, debug: true });
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const errors = pageErrors(page);
  const stats = await page.evaluate(async () => {
    for (let i = 0; i < 30; i++) ff.track('quota', { i, pad: 'p'.repeat(200) });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the storage commit
    await ff.flush();
    return ff.stats();
  });
  assert.equal(received(r, isTrack('quota')).length, 30, 'every event delivered from memory');
  assert.ok(stats.storeErrors >= 1, JSON.stringify(stats));
  assert.match(stats.warnings.join('\n'), /quota/i);
  assert.ok(logs.some((l) => /^\[footfall\] warning: store: .*quota/i.test(l)), 'debug mode prints the warning');
  assert.deepEqual(errors, []);
  await context.close();
});

test('storage cleared by another script mid-session: identity kept, nothing lost, nothing thrown', async () => {
  fresh();
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 30 } });
  const errors = pageErrors(page);
  const result = await page.evaluate(async () => {
    const before = ff.anonymousId();
    ff.track('cleared_1');
    await new Promise((resolve) => setTimeout(resolve, 50)); // stored
    localStorage.clear();
    ff.track('cleared_2');
    await ff.flush();
    return { same: before === ff.anonymousId(), stats: ff.stats() };
  });
  assert.ok(result.same, 'the anonymous id stays for the session');
  assert.equal(received(r, isTrack('cleared_1')).length, 1);
  assert.equal(received(r, isTrack('cleared_2')).length, 1);
  assert.equal(result.stats.queued, 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('prerendered page (document.prerendering, emulated): nothing read, stored or sent until activated; then one page view', async () => {
  // Debian's headless Chromium does not prerender for Speculation Rules (the target page's
  // activationStart stays 0), so the prerendering state is emulated the way Chrome exposes it.
  fresh();
  const context = await r.browser.newContext();
  await context.addInitScript(() => {
    let prerendering = true;
    Object.defineProperty(Document.prototype, 'prerendering', { get: () => prerendering, configurable: true });
    window.activate = () => {
      prerendering = false;
      document.dispatchEvent(new Event('prerenderingchange'));
    };
  });
  const requests = recordRequests(context);
  const page = await context.newPage();
  const errors = pageErrors(page);
  await page.goto(appUrl(r, { tracking: { flush_interval: 0.05 } }));
  await sleep(1500);
  const toCollector = () => requests.filter((u) => u.startsWith(r.collector.url));
  assert.deepEqual(toCollector(), [], 'no request while prerendered');
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), [], 'nothing stored while prerendered');
  assert.equal(await page.evaluate(() => typeof window.ff), 'undefined', 'load resolves only once the page is shown');
  await page.evaluate(() => window.activate());
  await page.evaluate(() => window.ffReady.then(() => ff.flush()));
  await r.collector.waitFor((s) => s.messages.some((m) => m.type === 'page'), 10_000, 'the page view after activation');
  await sleep(200);
  assert.equal(pages().length, 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('back/forward cache: the page comes back, delivery goes on, the restore is one page view (documented)', async () => {
  fresh();
  // Playwright turns the back/forward cache off by default; this browser keeps it on.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: chromiumArgs,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = pageErrors(page);
    // `cacheable`: served `no-cache` rather than `no-store`, which no page in the cache may be.
    await page.goto(`${appUrl(r, { tracking: { flush_interval: 0.05 } })}&cacheable`);
    await page.evaluate(() => {
      window.marker = 'kept';
      window.transitions = [];
      addEventListener('pagehide', (e) => transitions.push(`hide:${e.persisted}`));
      addEventListener('pageshow', (e) => transitions.push(`show:${e.persisted}`));
      return window.ffReady.then(() => {
        ff.track('before_cache');
        return ff.flush();
      });
    });
    await page.goto(`${r.site.url}/example/`);
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForFunction(() => window.transitions?.includes('show:true'), null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.marker), 'kept', 'restored from the back/forward cache');
    await page.evaluate(() => ff.track('after_restore')); // the timer delivers it (no flush)
    await r.collector.waitFor((s) => s.messages.some(isTrack('after_restore')), 10_000, 'after_restore');
    await sleep(300);
    assert.equal(pages().length, 2, 'the load and the restore');
    assert.equal(received(r, isTrack('before_cache')).length, 1);
    assert.equal(received(r, isTrack('after_restore')).length, 1);
    const ids = received(r).map((m) => m.messageId);
    assert.equal(new Set(ids).size, ids.length, 'nothing sent twice');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('sandboxed iframe (no storage, opaque origin): loads, tracks in memory, delivers, nothing thrown', async () => {
  fresh();
  const context = await r.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${r.site.url}/pages/app.html?options=${encodeURIComponent('{"writeKey":"outer","persistence":"memory","autoPageViews":false}')}`);
  await page.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', 'allow-scripts');
    frame.src = src;
    document.body.append(frame);
  }, appUrl(r, { autoPageViews: false, tracking: { flush_interval: 0.05 } }));
  await page.waitForFunction(() => window.frames.length === 1);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await frame.waitForFunction(() => window.ff || window.ffError, null, { timeout: 10_000 });
  const result = await frame.evaluate(async () => {
    if (!window.ff) return { error: window.ffError };
    ff.track('in_sandbox');
    await ff.flush();
    return { stats: ff.stats(), origin: self.origin, href: location.href };
  });
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.origin, 'null', `an opaque origin (${result.href})`);
  assert.equal(received(r, isTrack('in_sandbox')).length, 1);
  assert.equal(result.stats.storeErrors, 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('hostile arguments: bad types throw an Error naming the argument, the rest is dropped or converted and counted; the engine lives on', async () => {
  fresh();
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.05 } });
  const errors = pageErrors(page);
  const outcome = await page.evaluate(async () => {
    const out = {};
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
    async function attempt(name, call) {
      try {
        call();
        out[name] = 'ok';
      } catch (e) {
        out[name] = `${e instanceof Error ? 'Error' : typeof e}: ${e.message}`;
      }
      await tick(); // the queued calls reach the engine
      ff.track(`alive_after_${name}`); // the engine still works
      await tick();
    }
    const circular = { name: 'loop' };
    circular.self = circular;
    let deep = { leaf: true };
    for (let i = 0; i < 200; i++) deep = { d: deep };
    const many = {};
    for (let i = 0; i < 10_000; i++) many[`p${i}`] = i;
    await attempt('too_large', () => ff.track('too_large', { v: 'x'.repeat(40_000) }));
    await attempt('circular', () => ff.track('circular', circular));
    await attempt('bigint', () => ff.track('bigint', { v: 10n }));
    await attempt('symbol', () => ff.track('symbol', { v: Symbol('s'), [Symbol('key')]: 1, kept: 1 }));
    await attempt('function', () => ff.track('function', { v: () => 1, kept: 1 }));
    await attempt('date', () => ff.track('date', { v: new Date(0) }));
    await attempt('non_finite', () => ff.track('non_finite', { a: NaN, b: Infinity, c: -Infinity }));
    await attempt('proto', () => ff.track('proto', JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}')));
    await attempt('many', () => ff.track('many', many));
    // Too deep for the engine's JSON (128 levels), amid a burst: only that call is dropped.
    await attempt('deep_burst', () => {
      ff.track('burst_1');
      ff.track('deep', deep);
      ff.track('burst_2');
    });
    await attempt('deep_with_options', () => ff.track('deep', deep, { timestamp: Date.now() }));
    await attempt('symbol_name', () => ff.track(Symbol('name')));
    await attempt('identify_bigint', () => ff.identify('u1', { n: 1n }));
    await ff.flush();
    return { out, stats: ff.stats(), polluted: {}.polluted ?? Object.prototype.polluted ?? null };
  });
  const { out, stats } = outcome;
  for (const name of ['too_large', 'symbol', 'function', 'date', 'non_finite', 'proto', 'many', 'deep_burst', 'deep_with_options']) {
    assert.equal(out[name], 'ok', `${name}: not thrown (${out[name]})`);
  }
  assert.match(out.circular, /^Error: Footfall\.track: `properties` must be JSON-serializable/);
  assert.match(out.bigint, /^Error: Footfall\.track: `properties` must be JSON-serializable .*BigInt/);
  assert.match(out.symbol_name, /^Error: Footfall\.track: `event` must be a string, got symbol/);
  assert.match(out.identify_bigint, /^Error: Footfall\.identify: `traits` must be JSON-serializable/);
  // Dropped and counted: the 40 KB value and the 10,000 properties (too large), the too-deep
  // calls (with and without options: the same treatment).
  assert.equal(stats.dropped.too_large, 2, JSON.stringify(stats));
  assert.equal(stats.dropped.invalid, 2, JSON.stringify(stats));
  for (const name of ['too_large', 'many', 'deep']) assert.equal(received(r, isTrack(name)).length, 0, name);
  const props = (name) => received(r, isTrack(name))[0]?.properties;
  assert.deepEqual(props('symbol'), { kept: 1 });
  assert.deepEqual(props('function'), { kept: 1 });
  assert.deepEqual(props('date'), { v: '1970-01-01T00:00:00.000Z' });
  assert.deepEqual(props('non_finite'), { a: null, b: null, c: null });
  assert.deepEqual(JSON.stringify(props('proto')), '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
  assert.equal(outcome.polluted, null, 'Object.prototype untouched');
  assert.equal(received(r, isTrack('burst_1')).length, 1, 'the burst around the too-deep call is delivered');
  assert.equal(received(r, isTrack('burst_2')).length, 1);
  for (const name of Object.keys(out)) {
    assert.equal(received(r, isTrack(`alive_after_${name}`)).length, 1, `tracking works after ${name}`);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

for (const [label, skew] of [
  ['back by an hour', -3_600_000],
  ['forward by a day', 86_400_000],
]) {
  test(`clock moved ${label} mid-session: batching neither stalls nor spins`, async () => {
    fresh();
    const context = await r.browser.newContext();
    // Only the wall clock jumps (as when the computer's clock is changed); timers and
    // performance.now() run on.
    await context.addInitScript(() => {
      const real = Date.now;
      window.skew = 0;
      Date.now = () => real() + window.skew;
    });
    const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 1 } });
    const errors = pageErrors(page);
    await page.evaluate(() => ff.track('before_jump'));
    await sleep(200);
    await page.evaluate((s) => {
      window.skew = s;
      ff.track('after_jump');
    }, skew);
    await r.collector.waitFor((s) => s.messages.some(isTrack('after_jump')), 5_000, 'delivery after the jump (no flush)');
    await sleep(2000);
    const stats = await page.evaluate(() => ff.stats());
    const batches = r.collector.state.requests.filter((q) => q.path === '/v1/batch').length;
    assert.ok(batches <= 2, `no busy loop: ${batches} batch requests`);
    assert.equal(received(r, isTrack('after_jump')).length, 1);
    if (skew < 0) {
      assert.equal(received(r, isTrack('before_jump')).length, 1, 'nothing waits out the hour');
    } else {
      // A clock set forward cannot be told from the computer waking up a day later: the event
      // tracked before is older than delivery.max_age (12 h) by the clock, dropped and counted.
      assert.equal(received(r, isTrack('before_jump')).length + (stats.dropped.expired ?? 0), 1, JSON.stringify(stats));
    }
    assert.equal(stats.queued + stats.inFlight, 0, JSON.stringify(stats));
    assert.ok(await page.evaluate(() => ff.sessionId() !== null));
    assert.deepEqual(errors, []);
    await context.close();
  });
}
