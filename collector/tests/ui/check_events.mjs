// Drives the Live events page (/events) in headless Chromium like a developer checking their
// instrumentation, and prints, as JSON on stdout, what the page showed. Driven by
// collector/tests/events_ui.rs.
//
//   node check_events.mjs '{"base": "http://127.0.0.1:PORT", "project": "shop", "token": "...",
//                           "key": "wk", "screenshot": "out.png"}'
//
// Steps: open /events with the token in the URL fragment; read the rows and the refused
// messages; send a new event to /v1/batch and time its arrival on the page (no reload); open a
// row's details; filter by an event name. Chromium: Debian's /usr/bin/chromium (or
// $CHROMIUM_PATH), never downloaded.
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2]);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30000;

const rows = (page) => page.$$eval('tr.ff-event', (trs) => trs.map((tr) => ({
  id: tr.dataset.messageId,
  cells: [...tr.children].map((td) => td.textContent.trim()),
})));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: FLAGS });
const out = { console: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
  page.on('pageerror', (e) => out.console.push(String(e)));
  page.on('dialog', (d) => { out.dialog = d.message(); d.dismiss(); });
  await page.goto(`${args.base}/events?project=${encodeURIComponent(args.project)}#token=${encodeURIComponent(args.token)}`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: TIMEOUT });
  out.urlAfterLoad = page.url();
  out.initial = await rows(page);
  await page.waitForSelector('section.ff-refused:not([hidden]) tbody tr', { timeout: TIMEOUT });
  out.refused = await page.$$eval('section.ff-refused tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim())));

  // A new event arrives while the page is open.
  const id = 'live-' + Date.now();
  const sent = Date.now();
  const res = await fetch(`${args.base}/v1/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + Buffer.from(args.key + ':').toString('base64') },
    body: JSON.stringify({ batch: [{ type: 'track', event: 'arrived_live', messageId: id, anonymousId: 'dev-live', properties: { plan: 'pro' } }] }),
  });
  out.sendStatus = res.status;
  await page.waitForSelector(`tr.ff-event[data-message-id="${id}"]`, { timeout: TIMEOUT });
  out.arrivedAfterMs = Date.now() - sent;
  out.afterArrival = await rows(page);
  out.newHighlighted = await page.$eval(`tr.ff-event[data-message-id="${id}"]`, (tr) => tr.classList.contains('ff-new'));

  // Everything stored for one event.
  await page.click(`tr.ff-event[data-message-id="${id}"]`);
  out.detail = JSON.parse(await page.$eval(`tr.ff-event[data-message-id="${id}"] + tr.ff-detail pre`, (pre) => pre.textContent));

  // Filter by event name.
  await page.fill('input[name="event"]', 'signup');
  await page.waitForFunction(() => {
    const trs = [...document.querySelectorAll('tr.ff-event')];
    return trs.length > 0 && trs.every((tr) => tr.children[1].textContent.includes('signup'));
  }, null, { timeout: TIMEOUT });
  out.filtered = await rows(page);
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
} catch (e) {
  out.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
