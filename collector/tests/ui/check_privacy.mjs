// Drives the collector's privacy settings page in headless Chromium like a privacy team member
// and prints, as JSON on stdout, what the page showed at each step. Driven by
// collector/tests/privacy_ui.rs, which checks the store and the next ingested events.
//
//   node check_privacy.mjs '{"base": "http://127.0.0.1:PORT", "project": "shop", "token": "...",
//                            "device": "dev-1", "screenshot": "out.png"}'
//
// Steps: open /privacy with the token in the URL fragment; set consent mode opt_in, deny
// `email` and `phone`, events retention 200 days; save; wait for the change in the history; try
// an invalid value (users retention 0) and read the error; find, then erase, the anonymous id
// `device` with the data-subject tools. Chromium: Debian's /usr/bin/chromium (or $CHROMIUM_PATH),
// never downloaded.
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2]);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30000;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: FLAGS });
const out = { console: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  // Script errors (the expected 400 of the invalid save is logged by Chromium as a failed load).
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) out.console.push(m.text()); });
  page.on('pageerror', (e) => out.console.push(String(e)));
  page.on('dialog', (d) => { out.dialog = d.message(); d.accept(); });
  const url = `${args.base}/privacy?project=${encodeURIComponent(args.project)}#token=${encodeURIComponent(args.token)}`;
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: TIMEOUT });
  out.urlAfterLoad = page.url();
  out.before = {
    consent_mode: await page.inputValue('#f-consent_mode'),
    deny: await page.inputValue('[id="f-property_deny_list"]'),
    status: (await page.textContent('#ff-status')).trim(),
    helps: await page.$$eval('.ff-field', (fields) => fields.map((f) => [f.dataset.key, f.querySelector('.ff-help').textContent.trim()])),
  };

  // Change three settings and save.
  await page.selectOption('#f-consent_mode', 'opt_in');
  await page.fill('[id="f-property_deny_list"]', 'email\nphone');
  await page.fill('[id="f-retention.events_days"]', '200');
  await page.click('#ff-save');
  await page.waitForSelector('#ff-save-result.ff-ok', { timeout: TIMEOUT });
  out.saved = (await page.textContent('#ff-save-result')).trim();
  await page.waitForFunction(
    () => [...document.querySelectorAll('#ff-history li[data-action="privacy.update"] .ff-change')].some((li) => li.textContent.includes('consent_mode')),
    null, { timeout: TIMEOUT });
  out.history = await page.$$eval('#ff-history li[data-action="privacy.update"]', (lis) => lis.map((li) => ({
    head: li.firstElementChild.textContent.trim(),
    changes: [...li.querySelectorAll('.ff-change')].map((c) => c.textContent.trim()),
  })));

  // An invalid value: refused, the field named and highlighted.
  await page.fill('[id="f-retention.users_days"]', '0');
  await page.click('#ff-save');
  await page.waitForSelector('#ff-save-result.ff-bad', { timeout: TIMEOUT });
  out.invalid = {
    message: (await page.textContent('#ff-save-result')).trim(),
    highlighted: await page.$$eval('.ff-field.ff-invalid', (f) => f.map((x) => x.dataset.key)),
  };

  // Data-subject tools: find, then erase, a person by anonymous id.
  await page.fill('#dsr-id', args.device);
  await page.selectOption('#dsr-kind', 'anonymous_id');
  await page.click('#dsr-find');
  await page.waitForSelector('#dsr-found', { timeout: TIMEOUT });
  out.found = { events: Number(await page.getAttribute('#dsr-found', 'data-events')), text: (await page.textContent('#dsr-result')).trim() };
  await page.click('#dsr-erase');
  await page.waitForSelector('#dsr-erased', { timeout: TIMEOUT });
  out.erased = { events: Number(await page.getAttribute('#dsr-erased', 'data-events')), text: (await page.textContent('#dsr-result')).trim() };
  await page.waitForSelector('#ff-history li[data-action="erase_anonymous_id"]', { timeout: TIMEOUT });
  out.historyActions = await page.$$eval('#ff-history li', (lis) => lis.map((li) => li.dataset.action));
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
