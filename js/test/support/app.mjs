// Shared setup of the end-to-end tests: servers, a browser, and helpers to open the test app.
import { launch } from './browser.mjs';
import { startCollector, startStatic } from './server.mjs';

/** Starts the static server, a recording collector and Chromium; `close()` stops them all. */
export async function rig() {
  const [site, collector, browser] = await Promise.all([startStatic(), startCollector(), launch()]);
  return {
    site,
    collector,
    browser,
    async close() {
      await browser.close();
      await Promise.all([site.close(), collector.close()]);
    },
  };
}

/** The test app URL for `options` (the endpoint defaults to the recording collector). */
export function appUrl(r, options = {}, path = '/pages/app.html') {
  const full = { writeKey: 'wk_test', endpoint: r.collector.url, ...options };
  return `${r.site.url}${path}?options=${encodeURIComponent(JSON.stringify(full))}`;
}

/** Opens the test app in `context` and waits until `window.ff` is ready. */
export async function openApp(r, context, options = {}, { path } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(appUrl(r, options, path));
  await page.evaluate(() => window.ffReady);
  return page;
}

/** Messages the collector accepted, filtered by type/event. */
export function received(r, predicate = () => true) {
  return r.collector.state.messages.filter(predicate);
}

export const isTrack = (name) => (m) => m.type === 'track' && m.event === name;

/** Asserts every messageId appears once; returns the ids. */
export function messageIds(messages) {
  return messages.map((m) => m.messageId);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Queued events this origin's localStorage holds (chunks are JSON arrays of stored messages). */
export function storedEvents(page) {
  return page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.includes('.q.'))
      .flatMap((k) => JSON.parse(localStorage.getItem(k))),
  );
}
