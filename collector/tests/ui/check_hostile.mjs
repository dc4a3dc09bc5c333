// Opens the collector's pages over hostile event data in headless Chromium and prints, as JSON on
// stdout, per page: whether any injected script ran (`window.__pwned`, which every payload sets,
// and `dialog` events: payloads also call alert), CSP violations, injected elements and event-handler
// attributes, `javascript:` links, the visible text, and page-specific results (the CSV a widget
// downloads, the data-subject tool's answer, the visual order of its counts). Driven by
// collector/tests/hostile_ui.rs, which asserts on it.
//
//   node check_hostile.mjs '{"pages": [{"name": "...", "url": "...", "kind": "dashboard|index|static|privacy|home|events"}],
//                            "token": "...", "csvWidget": "tbl", "dsrId": "...", "bypassCSP": false}'
//
// `bypassCSP: true` opens the pages with the Content-Security-Policy disabled, so what is tested is
// the escaping alone (the CSP is a second line). Each page ends with a canary: markup with an
// `onerror` handler inserted through innerHTML; it must run without the CSP (the checks can see a
// script run) and be refused with it (the CSP blocks injected handlers). Chromium: Debian's
// /usr/bin/chromium (or $CHROMIUM_PATH), never downloaded.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';

const args = JSON.parse(process.argv[2]);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30000;

/** Runs in every page before its own script: records CSP violations. */
function instrument() {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sample || ''}`.trim());
  });
}

/** What the page shows and whether anything was injected (runs in the page). */
function inspect() {
  const handlers = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) if (/^on/i.test(a.name)) handlers.push(`${el.tagName} ${a.name}`);
  }
  return {
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    violations: window.__violations.slice(),
    injected: [...document.querySelectorAll('img, iframe, object, embed, frame, base, link:not([rel=icon]), meta[http-equiv=refresh]')]
      .map((e) => e.outerHTML.slice(0, 120)),
    handlers,
    scripts: document.scripts.length,
    js_links: [...document.querySelectorAll('a[href], area[href]')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href')) || a.protocol === 'javascript:')
      .map((a) => a.getAttribute('href')),
    text: document.body.innerText,
    title: document.title,
    styled: getComputedStyle(document.querySelector('header.ff-top')).display === 'flex',
  };
}

async function waitFor(page, kind) {
  if (kind === 'dashboard' || kind === 'index' || kind === 'static' || kind === 'events') {
    await page.waitForFunction(() => ['true', 'error'].includes(document.body.dataset.loaded), null, { timeout: TIMEOUT });
  } else if (kind === 'privacy') {
    await page.waitForSelector('body[data-ready="1"]', { timeout: TIMEOUT });
    await page.waitForSelector('#ff-history li[data-action]', { timeout: TIMEOUT });
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: FLAGS });
const out = { pages: {} };
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true, bypassCSP: !!args.bypassCSP });
  await context.addInitScript(instrument);
  for (const spec of args.pages) {
    const page = await context.newPage();
    const r = { dialogs: [], console: [] };
    page.on('dialog', (d) => { r.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('console', (m) => { if (m.type() === 'error') r.console.push(m.text()); });
    page.on('pageerror', (e) => r.console.push(String(e)));
    const url = spec.url + (spec.kind !== 'static' && spec.kind !== 'home' && args.token ? '#token=' + encodeURIComponent(args.token) : '');
    const response = await page.goto(url);
    r.csp = spec.kind === 'static' ? null : (await response.allHeaders())['content-security-policy'] || null;
    await waitFor(page, spec.kind);
    r.url = page.url();
    r.loaded = await page.evaluate(() => document.body.dataset.loaded || document.body.dataset.ready || null);

    if (spec.kind === 'dashboard' || spec.kind === 'static') {
      for (const b of await page.$$('article.ff-card .ff-toggle-data')) await b.click();
      r.tooltips = await page.$$eval('svg title', (ts) => ts.map((t) => t.textContent));
      r.legend_colors = await page.$$eval('.ff-legend i', (is) => is.map((i) => getComputedStyle(i).backgroundColor));
      r.funnel_widths = await page.$$eval('.ff-funnel-bar', (bs) => bs.map((b) => b.style.width));
      if (args.csvWidget) {
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click(`article[data-widget-id="${args.csvWidget}"] .ff-csv`),
        ]);
        r.csv = await readFile(await download.path(), 'utf8');
      }
    }
    if (spec.kind === 'events') {
      // Every row's details open (everything stored, hostile keys and values included).
      for (const row of await page.$$('tr.ff-event')) await row.click();
      r.details = await page.$$eval('tr.ff-detail:not([hidden]) pre', (ps) => ps.length);
    }
    if (spec.kind === 'privacy') {
      await page.fill('#dsr-id', args.dsrId);
      await page.selectOption('#dsr-kind', 'user_id');
      await page.click('#dsr-find');
      await page.waitForSelector('#dsr-found', { timeout: TIMEOUT });
      r.dsr = (await page.textContent('#dsr-result')).trim();
      // Visual order: in "name × N", the count must stay right of the ×, whatever bidi controls
      // the name holds (they must not reorder the text that follows it).
      r.counts_in_order = await page.evaluate(() => {
        const p = [...document.querySelectorAll('#dsr-result p')].find((x) => x.textContent.startsWith('Events: '));
        const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
        const checks = [];
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const i = n.data.indexOf('×');
          if (i < 0) continue;
          const rect = (k) => { const rg = document.createRange(); rg.setStart(n, k); rg.setEnd(n, k + 1); return rg.getBoundingClientRect(); };
          const times = rect(i), digit = rect(n.data.search(/\d/));
          checks.push(times.top !== digit.top || times.left < digit.left);
        }
        return checks;
      });
    }
    Object.assign(r, await page.evaluate(inspect));

    // The canary: an injected handler must be detected without the CSP, refused with it (its
    // console messages are not the page's).
    const consoleBefore = r.console.slice();
    const before = r.violations.length;
    await page.evaluate(() => {
      const d = document.createElement('div');
      d.innerHTML = '<img src="data:," onerror="window.__canary = 1"><img src="x:" onerror="window.__canary = 1">';
      document.body.append(d);
    });
    await page.waitForFunction((n) => window.__canary === 1 || window.__violations.length > n, before, { timeout: TIMEOUT });
    await page.waitForTimeout(200);
    r.canary_ran = await page.evaluate(() => window.__canary === 1);
    r.canary_refused = await page.evaluate((n) => window.__violations.slice(n).some((v) => v.startsWith('script-src')), before);
    r.console = consoleBefore;
    out.pages[spec.name] = r;
    await page.close();
  }
  // Clickjacking: another origin's page framing the privacy page (its erase button) gets nothing.
  if (args.frameUrl) {
    const page = await context.newPage();
    await page.setContent(`<iframe id="f" src="${args.frameUrl}" width="800" height="600"></iframe>`);
    await page.waitForTimeout(1500);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    out.framed = {
      url: frame ? frame.url() : null,
      erase_button: frame ? await frame.$('#dsr-erase').then((b) => !!b).catch(() => false) : false,
    };
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
