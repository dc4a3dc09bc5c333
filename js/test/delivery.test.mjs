// Events arrive at the collector with the right fields, as CORS-simple text/plain requests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appUrl, isTrack, openApp, received, rig, sleep } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('track, identify, page and typed helpers arrive with correct fields', async () => {
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { tracking: { flush_interval: 0.2 } });
  const anonymousId = await page.evaluate(() => {
    ff.track('feature_used', { feature_name: 'search', nested: { n: 1 } });
    ff.trackClick({ elementId: 'buy', elementType: 'button', elementText: 'Buy now' });
    ff.trackPageView();
    ff.trackPageView({ url: 'https://shop.example/a', referrer: 'https://ref.example/', pageName: 'A' }, { ab: 'x' });
    ff.trackPurchase({ purchaseId: 'o1', amount: 9.5, currency: 'EUR' });
    ff.trackError('TypeError', 'boom');
    ff.identify('user_42', { plan: 'pro' });
    ff.track('after_login');
    return ff.anonymousId();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('after_login')), 10_000, 'after_login');

  const [pv] = received(r, (m) => m.type === 'page');
  assert.ok(pv, 'the initial page view arrives');
  assert.match(pv.properties.url, /\/pages\/app\.html/);
  assert.equal(pv.properties.path, '/pages/app.html');
  assert.equal(pv.properties.title, 'Footfall test app');
  assert.equal(pv.context.page.path, '/pages/app.html');

  const [feature] = received(r, isTrack('feature_used'));
  assert.deepEqual(feature.properties, { feature_name: 'search', nested: { n: 1 } });
  assert.match(feature.messageId, UUID);
  assert.match(feature.timestamp, RFC3339_MS);
  assert.match(feature.sentAt, RFC3339_MS);
  assert.equal(feature.anonymousId, anonymousId);
  assert.equal(feature.userId, undefined);
  assert.equal(feature.context.library.name, 'footfall-js');
  assert.ok(feature.context.userAgent.includes('Chrome'));
  assert.ok(feature.context.sessionId, 'session id present');
  assert.ok(feature.context.locale);

  const [click] = received(r, isTrack('click'));
  assert.deepEqual(click.properties, { element_id: 'buy', element_type: 'button', element_text: 'Buy now' });

  // The typed helpers are built by the core's catalogue (`Event::typed`): page_view's URL and
  // referrer default to the page's (an empty referrer is left out), optional arguments left out.
  const [viewHere, viewThere] = received(r, isTrack('page_view'));
  assert.deepEqual(viewHere.properties, { url: pv.properties.url });
  assert.deepEqual(viewThere.properties, {
    url: 'https://shop.example/a',
    referrer: 'https://ref.example/',
    page_name: 'A',
    ab: 'x',
  });
  const [purchase] = received(r, isTrack('purchase'));
  assert.deepEqual(purchase.properties, { purchase_id: 'o1', amount: 9.5, currency: 'EUR', items: [] });
  const [error] = received(r, isTrack('error'));
  assert.deepEqual(error.properties, { error_type: 'TypeError', error_message: 'boom' });

  const [identify] = received(r, (m) => m.type === 'identify');
  assert.equal(identify.userId, 'user_42');
  assert.equal(identify.anonymousId, anonymousId);
  assert.deepEqual(identify.traits, { plan: 'pro' });
  const [later] = received(r, isTrack('after_login'));
  assert.equal(later.userId, 'user_42');

  const batches = r.collector.state.requests.filter((q) => q.method === 'POST');
  assert.ok(batches.length > 0);
  for (const q of batches) {
    assert.match(q.headers['content-type'], /^text\/plain/);
    assert.equal(q.headers.authorization, undefined, 'no Authorization header (it would force a preflight)');
    assert.equal(q.body.writeKey, 'wk_test');
  }
  assert.equal(r.collector.state.requests.filter((q) => q.method === 'OPTIONS').length, 0, 'no CORS preflight');
  await context.close();
});

test('bad arguments throw an Error naming the argument; good calls do not', async () => {
  const context = await r.browser.newContext();
  const page = await openApp(r, context);
  const errors = await page.evaluate(() => {
    const attempt = (f) => {
      try {
        f();
        return null;
      } catch (e) {
        return e instanceof Error ? e.message : `not an Error: ${e}`;
      }
    };
    return {
      eventType: attempt(() => ff.track(42)),
      emptyName: attempt(() => ff.track('')),
      props: attempt(() => ff.track('x', 'nope')),
      cyclic: attempt(() => {
        const o = {};
        o.self = o;
        ff.track('x', o);
      }),
      userId: attempt(() => ff.identify(undefined)),
      groupId: attempt(() => ff.group('')),
      amount: attempt(() => ff.trackPurchase({ purchaseId: 'o1', amount: 'ten', currency: 'EUR' })),
      categories: attempt(() => ff.consent.grant('analytics')),
      option: attempt(() => ff.track('x', {}, { colour: 'red' })),
      ok: attempt(() => ff.track('fine', { a: 1 }, { category: 'analytics', timestamp: new Date() })),
    };
  });
  assert.match(errors.eventType, /Footfall\.track: `event` must be a string/);
  assert.match(errors.emptyName, /Footfall\.track: event name must not be empty/);
  assert.match(errors.props, /`properties` must be a plain object/);
  assert.match(errors.cyclic, /`properties` must be JSON-serializable/);
  assert.match(errors.userId, /Footfall\.identify: `userId` must be a string/);
  assert.match(errors.groupId, /Footfall\.group: groupId must not be empty/);
  assert.match(errors.amount, /`purchase\.amount` must be a finite number/);
  assert.match(errors.categories, /`categories` must be an array/);
  assert.match(errors.option, /colour/);
  assert.equal(errors.ok, null);

  const loadError = await page.evaluate(async () => {
    const { Footfall } = await import('/dist/footfall.js');
    try {
      await Footfall.load({ writeKey: 'k', tracking: { bath_size: 3 } });
      return null;
    } catch (e) {
      return e.message;
    }
  });
  assert.match(loadError, /Footfall\.load: .*bath_size/);
  await context.close();
});

test('a Retry-After given as an HTTP date is honoured (host.ts hands the core the seconds)', async () => {
  const context = await r.browser.newContext();
  const page = await context.newPage();
  const lines = [];
  page.on('console', (m) => lines.push(m.text()));
  const at = new Date(Date.now() + 120_000).toUTCString(); // an IMF-fixdate, 2 minutes ahead
  r.collector.state.respond = () => ({
    status: 503,
    headers: { 'retry-after': at, 'access-control-expose-headers': 'Retry-After' },
  });
  try {
    await page.goto(appUrl(r, { debug: true, autoPageViews: false, tracking: { flush_interval: 0.05 } }));
    await page.evaluate(() => window.ffReady);
    await page.evaluate(() => ff.track('retry_me'));
    const retry = async () => {
      for (const end = Date.now() + 10_000; Date.now() < end; await sleep(50)) {
        const line = lines.find((l) => / retry in \d+ ms/.test(l));
        if (line) return line;
      }
      return null;
    };
    const line = await retry();
    assert.ok(line, `a retry is logged:\n${lines.join('\n')}`);
    const delay = Number(/ retry in (\d+) ms/.exec(line)[1]);
    // The date's whole seconds, not the backoff (which starts at delivery.backoff_base, 1 s).
    assert.ok(delay > 100_000 && delay <= 121_000, line);
  } finally {
    r.collector.state.respond = null;
    await context.close();
  }
});
