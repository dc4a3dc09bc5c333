// Opens a Footfall dashboard page in headless Chromium and prints, as JSON on stdout, what a
// person sees: per widget the displayed numbers, table cells, funnel steps and chart data.
// Driven by engine/tests/dashboard_ui.rs, which compares the output with the JSON API.
//
//   node check_dashboard.mjs '{"url": "...", "token": "...", "screenshot": "out.png",
//                             "csvWidget": "top_events", "preset": "7_days_ago", "waitFresh": true}'
//
// `token`: put in the URL fragment (#token=...), as a person would. `csvWidget`: click that
// widget's CSV button and return the downloaded text. `preset`: afterwards pick that range in the
// date picker and extract again (`after`). `waitFresh`: record the status line and the number of
// stale widgets at load (`status`, `stale_at_load`), wait until every card shows a refreshed
// (not stale) result and extract again (`fresh`). Chromium: Debian's /usr/bin/chromium (or
// $CHROMIUM_PATH), never downloaded.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';

const args = JSON.parse(process.argv[2]);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function waitLoaded(page) {
  await page.waitForFunction(() => ['true', 'error'].includes(document.body.dataset.loaded), null, { timeout: 30000 });
  const state = await page.evaluate(() => document.body.dataset.loaded);
  if (state !== 'true') throw new Error('page reported an error: ' + (await page.textContent('main')));
}

/** Everything displayed, per widget card (charts: their "Data" view, opened by clicking). */
async function extract(page) {
  for (const b of await page.$$('article.ff-card .ff-toggle-data')) {
    const card = await b.evaluateHandle((el) => el.closest('article'));
    const hidden = await card.evaluate((c) => c.querySelector('.ff-data-view').hidden);
    if (hidden) await b.click();
  }
  return page.$$eval('section.ff-dashboard', (sections) => sections.map((sec) => ({
    dashboard: sec.dataset.dashboardId,
    widgets: [...sec.querySelectorAll('article.ff-card')].map((card) => {
      const text = (sel) => { const el = card.querySelector(sel); return el ? el.textContent.trim() : null; };
      const rows = (root) => root ? [...root.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent.trim())) : null;
      const w = { id: card.dataset.widgetId, type: card.dataset.widgetType, title: text('h3'), range: text('.ff-range'), error: text('.ff-error'),
        computed: text('.ff-computed'), stale: card.dataset.stale || null };
      if (card.querySelector('.ff-metric-value')) { w.metric = text('.ff-metric-value'); w.trend = text('.ff-trend'); }
      if (w.type === 'table' || w.type === 'paths') w.table = rows(card.querySelector('.ff-body:not(.ff-data-view)'));
      if (w.type === 'chart') {
        w.data = rows(card.querySelector('.ff-data-view'));
        w.marks = [...card.querySelectorAll('svg [data-value]')].length;
      }
      if (w.type === 'funnel') {
        w.steps = [...card.querySelectorAll('.ff-funnel-step')].map((s) => ({
          label: s.querySelector('.ff-funnel-label span').textContent.trim(),
          persons: s.querySelector('.ff-persons').textContent.trim(),
          meta: s.querySelector('.ff-funnel-meta').textContent.trim(),
        }));
        w.summary = text('.ff-funnel-summary');
      }
      return w;
    }),
  })));
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: FLAGS });
const out = {};
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // With `waitFresh`, the page's re-fetches of stale widgets are held until the stale view has
  // been read, so a slow machine cannot swap cards under the extraction.
  let release = () => {};
  if (args.waitFresh) {
    const held = new Promise((resolve) => (release = resolve));
    const seen = new Set();
    await page.route('**/data?*', async (route) => {
      const widget = new URL(route.request().url()).searchParams.get('widget');
      if (seen.has(widget)) await held;
      seen.add(widget);
      await route.continue();
    });
  }
  const t0 = Date.now();
  await page.goto(args.url + (args.token ? '#token=' + encodeURIComponent(args.token) : ''));
  if (args.expectLogin) {
    await page.waitForSelector('form.ff-token input[type=password]', { timeout: 30000 });
    out.login_form = true;
    process.stdout.write(JSON.stringify(out));
    await browser.close();
    process.exit(0);
  }
  await waitLoaded(page);
  out.links = await page.$$eval('ul.ff-index a', (as) => as.map((a) => ({ text: a.textContent, href: a.getAttribute('href') })));
  out.load_ms = Date.now() - t0;
  out.title = await page.title();
  out.url = page.url();
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
  out.before = await extract(page);
  if (args.waitFresh) {
    out.status = await page.textContent('.ff-status');
    out.stale_at_load = await page.evaluate(() => document.body.dataset.stale);
    release();
    await page.waitForFunction(() => {
      const cards = [...document.querySelectorAll('article.ff-card')];
      return cards.length > 0 && cards.every((c) => c.dataset.stale === 'false');
    }, null, { timeout: 60000 });
    out.fresh = await extract(page);
  }
  if (args.csvWidget) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click(`article[data-widget-id="${args.csvWidget}"] .ff-csv`),
    ]);
    out.csv = { name: download.suggestedFilename(), text: await readFile(await download.path(), 'utf8') };
  }
  if (args.preset) {
    await page.selectOption('select[name=preset]', args.preset);
    await page.waitForFunction((p) => location.search.includes(p) && document.body.dataset.loaded === 'true', args.preset, { timeout: 30000 });
    out.after_url = page.url();
    out.after = await extract(page);
  }
  out.console_errors = consoleErrors;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
