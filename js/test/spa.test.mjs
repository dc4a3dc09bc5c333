// Automatic page views for SPA navigations, and click autocapture.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTrack, openApp, received, rig, sleep } from './support/app.mjs';

let r;
before(async () => {
  r = await rig();
});
after(() => r?.close());

test('pushState / replaceState / popstate → one page view per URL change', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { tracking: { flush_interval: 0.05 } });
  const first = page.url();
  await page.evaluate(() => {
    history.pushState({}, '', '/pages/app.html?step=2');
    history.replaceState({ same: true }, '', '/pages/app.html?step=2');
    history.pushState({}, '', '/pages/checkout#top');
  });
  await page.goBack(); // popstate back to ?step=2
  await sleep(100);
  await page.evaluate(() => ff.flush());
  await r.collector.waitFor((s) => s.messages.filter((m) => m.type === 'page').length >= 4, 10_000, '4 page views');
  await sleep(200);
  const views = received(r, (m) => m.type === 'page');
  const urls = views.map((m) => new URL(m.properties.url));
  assert.deepEqual(
    urls.map((u) => u.pathname + u.search + u.hash),
    [new URL(first).pathname + new URL(first).search, '/pages/app.html?step=2', '/pages/checkout#top', '/pages/app.html?step=2'],
  );
  assert.equal(views[1].properties.referrer, first, 'the previous URL is the referrer');
  assert.equal(views[2].context.page.path, '/pages/checkout');
  assert.equal(views[1].properties.search, '?step=2');
  await context.close();
});

test('UTM parameters of the current page → context.campaign (Segment-style), gone after navigating away', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { tracking: { flush_interval: 0.05 } });
  await page.evaluate(() => {
    history.pushState({}, '', '/pages/app.html?utm_source=news&utm_medium=e%2Dmail&utm_campaign=spring+sale&ref=1');
    ff.track('on_landing');
    history.pushState({}, '', '/pages/next');
    ff.track('after_landing');
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('after_landing')), 10_000, 'after_landing');
  const campaign = { source: 'news', medium: 'e-mail', name: 'spring sale' };
  const [landing] = received(r, isTrack('on_landing'));
  assert.deepEqual(landing.context.campaign, campaign);
  const view = received(r, (m) => m.type === 'page' && m.properties.search?.includes('utm_source'));
  assert.equal(view.length, 1, 'a page view for the landing URL');
  assert.deepEqual(view[0].context.campaign, campaign);
  const [later] = received(r, isTrack('after_landing'));
  assert.equal(later.context.campaign, undefined);
  await context.close();
});

test('autoPageViews: false → no automatic page views', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autoPageViews: false, tracking: { flush_interval: 0.05 } });
  await page.evaluate(() => {
    history.pushState({}, '', '/pages/elsewhere');
    ff.track('marker');
    return ff.flush();
  });
  await r.collector.waitFor((s) => s.messages.some(isTrack('marker')), 10_000, 'marker');
  assert.equal(received(r, (m) => m.type === 'page').length, 0);
  const [marker] = received(r, isTrack('marker'));
  assert.equal(marker.context.page.path, '/pages/elsewhere', 'context still follows navigation');
  await context.close();
});

test('click autocapture on data-footfall-event elements only', async () => {
  r.collector.state.messages.length = 0;
  const context = await r.browser.newContext();
  const page = await openApp(r, context, { autocapture: true, autoPageViews: false, tracking: { flush_interval: 0.05 } });
  await page.click('#plain');
  await page.click('#buy');
  await page.evaluate(() => ff.flush());
  await r.collector.waitFor((s) => s.messages.some(isTrack('buy_clicked')), 10_000, 'buy_clicked');
  const tracks = received(r, (m) => m.type === 'track');
  assert.equal(tracks.length, 1);
  assert.deepEqual(tracks[0].properties, { element_id: 'buy', element_type: 'button', element_text: 'Buy now', plan_name: 'pro' });
  await context.close();
});
