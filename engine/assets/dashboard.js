/* Footfall dashboards: renders the live pages (fetching the JSON API) and the static report
 * (data embedded). No dependencies: charts are SVG built here, numbers stay in the DOM.
 * Config comes from <script type="application/json" id="ff-config">:
 *   {mode: "index"} | {mode: "live", dashboardId} | {mode: "static", reports: [DashboardData]}
 * Event data is untrusted (anyone with the public write key sends it): it only ever becomes text
 * nodes and attribute values, never markup; the page's CSP (by hash) forbids any other script.
 */
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('ff-config').textContent);
  const api = (cfg.apiBase || '').replace(/\/$/, '');
  const TOKEN_KEY = 'footfall_admin_token';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6'];
  const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the CSP, `style=` is not
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
    return el;
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
    return el;
  }
  const color = (i) => `var(${PALETTE[i % PALETTE.length]})`;
  const isNum = (v) => typeof v === 'number' && isFinite(v);
  function fmt(v) {
    if (v === null || v === undefined) return '–';
    return isNum(v) ? nf.format(v) : String(v);
  }
  /** Untrusted text inside a longer string (tooltips): isolated (U+2068..U+2069), so bidi
   * overrides in it cannot reorder the numbers that follow. */
  const iso = (t) => '\u2068' + t + '\u2069';
  const pct = (f) => (isNum(f) ? (f * 100).toFixed(1) + '%' : '–');
  function fmtDuration(sec) {
    if (!isNum(sec)) return '–';
    if (sec < 120) return Math.round(sec) + ' s';
    if (sec < 7200) return Math.round(sec / 60) + ' min';
    if (sec < 172800) return (sec / 3600).toFixed(1) + ' h';
    return (sec / 86400).toFixed(1) + ' days';
  }
  function shortDate(iso) {
    return typeof iso === 'string' ? iso.replace('T00:00:00.000Z', '').replace(':00.000Z', 'Z') : fmt(iso);
  }
  /** `[from, to)` as days when both are midnights (the end shown inclusive), else instants. */
  function rangeText(from, to) {
    if (!from || !to) return '';
    const midnight = (iso) => /T00:00:00(\.000)?Z$/.test(iso);
    const instant = (iso) => iso.replace('.000Z', 'Z').replace('T', ' ');
    const f = midnight(from) ? from.slice(0, 10) : instant(from);
    const t = midnight(to) ? new Date(Date.parse(to) - 86400000).toISOString().slice(0, 10) : instant(to);
    return f === t ? f : `${f} → ${t}`;
  }
  /** "computed 3 min ago" of a cached result (with its exact time as the tooltip). */
  function computedText(w) {
    if (!w.computed_at) return '';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(w.computed_at)) / 1000));
    const ago = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;
    return `computed ${ago} ago` + (w.stale ? ' · refreshing' : '');
  }
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  /* ---- results → series ------------------------------------------------------------ */
  /** A table result as {labels, series: [{name, values}]}: one x dimension, then either one
   * series per metric or (with a second dimension) one series per breakdown value. */
  function toSeries(result) {
    const cols = result.columns;
    const dims = cols.map((c, i) => [c, i]).filter(([c]) => c.role === 'dimension');
    const mets = cols.map((c, i) => [c, i]).filter(([c]) => c.role === 'metric');
    if (!dims.length) return { labels: ['total'], series: mets.map(([c, i]) => ({ name: c.label, values: [result.rows[0] ? result.rows[0][i] : null] })), time: false };
    const [xc, xi] = dims[0];
    const labels = [];
    const index = new Map();
    for (const r of result.rows) if (!index.has(String(r[xi]))) { index.set(String(r[xi]), labels.length); labels.push(r[xi]); }
    if (dims.length > 1) {
      const [, bi] = dims[1];
      const [, mi] = mets[0];
      const byName = new Map();
      for (const r of result.rows) {
        const name = r[bi] === null ? '(none)' : String(r[bi]);
        if (!byName.has(name)) byName.set(name, new Array(labels.length).fill(null));
        byName.get(name)[index.get(String(r[xi]))] = r[mi];
      }
      return { labels, series: [...byName].map(([name, values]) => ({ name, values })), time: !!xc.time };
    }
    const series = mets.map(([c, i]) => {
      const values = new Array(labels.length).fill(null);
      for (const r of result.rows) values[index.get(String(r[xi]))] = r[i];
      return { name: c.label, values };
    });
    return { labels, series, time: !!xc.time };
  }

  /* ---- charts ------------------------------------------------------------------------ */
  function legend(series) {
    if (series.length < 2) return null;
    return h('div', { class: 'ff-legend' }, series.map((sr, i) => h('span', {}, h('i', { style: `background:${color(i)}` }), sr.name)));
  }

  function yAxis(g, W, H, L, T, B, max) {
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      const y = T + (H - T - B) * (1 - k / 4);
      g.append(s('line', { class: 'ff-grid-line', x1: L, x2: W, y1: y, y2: y }));
      g.append(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v)));
    }
  }

  function xLabels(g, labels, xAt, H, B) {
    const step = Math.max(1, Math.ceil(labels.length / 8));
    labels.forEach((lab, i) => {
      if (i % step === 0 || i === labels.length - 1 && labels.length < 16)
        g.append(s('text', { x: xAt(i), y: H - B + 16, 'text-anchor': 'middle' }, shortDate(lab)));
    });
  }

  function lineChart(result) {
    const { labels, series } = toSeries(result);
    const W = 640, H = 240, L = 52, T = 10, B = 26, R = 10;
    const max = niceMax(Math.max(0, ...series.flatMap((sr) => sr.values.filter(isNum))));
    const xAt = (i) => L + (labels.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
    const yAt = (v) => T + (H - T - B) * (1 - v / max);
    const g = s('g');
    yAxis(g, W - R, H, L, T, B, max);
    xLabels(g, labels, xAt, H, B);
    series.forEach((sr, si) => {
      const pts = sr.values.map((v, i) => (isNum(v) ? [xAt(i), yAt(v)] : null)).filter(Boolean);
      g.append(s('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: color(si), 'stroke-width': 2 }));
      sr.values.forEach((v, i) => {
        if (!isNum(v)) return;
        g.append(s('circle', { cx: xAt(i), cy: yAt(v), r: labels.length > 60 ? 1.5 : 3, fill: color(si), 'data-label': String(labels[i]), 'data-value': v },
          s('title', {}, `${iso(shortDate(labels[i]))}${series.length > 1 ? ' · ' + iso(sr.name) : ''}: ${fmt(v)}`)));
      });
    });
    return [s('svg', { class: 'ff-chart', viewBox: `0 0 ${W} ${H}`, role: 'img' }, g), legend(series)];
  }

  function barChart(result) {
    const data = toSeries(result);
    return data.time ? columnChart(data) : hbarChart(data);
  }

  /** Vertical bars over time buckets (grouped when several series). */
  function columnChart({ labels, series }) {
    const W = 640, H = 240, L = 52, T = 10, B = 26, R = 10;
    const max = niceMax(Math.max(0, ...series.flatMap((sr) => sr.values.filter(isNum))));
    const slot = (W - L - R) / Math.max(1, labels.length);
    const bw = Math.max(1, (slot * 0.75) / series.length);
    const xAt = (i) => L + slot * i + slot / 2;
    const g = s('g');
    yAxis(g, W - R, H, L, T, B, max);
    xLabels(g, labels, xAt, H, B);
    series.forEach((sr, si) => sr.values.forEach((v, i) => {
      if (!isNum(v)) return;
      const hgt = ((H - T - B) * v) / max;
      g.append(s('rect', { x: xAt(i) - (bw * series.length) / 2 + bw * si, y: H - B - hgt, width: bw, height: hgt, fill: color(si), 'data-label': String(labels[i]), 'data-value': v },
        s('title', {}, `${iso(shortDate(labels[i]))}${series.length > 1 ? ' · ' + iso(sr.name) : ''}: ${fmt(v)}`)));
    }));
    return [s('svg', { class: 'ff-chart', viewBox: `0 0 ${W} ${H}`, role: 'img' }, g), legend(series)];
  }

  /** Horizontal bars for categories: the label left, the value at the bar's end. */
  function hbarChart({ labels, series }) {
    const W = 380, L = 110, R = 50, rowH = 8 + 16 * series.length;
    const H = Math.max(40, labels.length * rowH + 6);
    const max = Math.max(0, ...series.flatMap((sr) => sr.values.filter(isNum))) || 1;
    const g = s('g');
    labels.forEach((lab, i) => {
      const y0 = i * rowH + 4;
      const text = lab === null ? '(none)' : String(lab);
      g.append(s('text', { x: L - 8, y: y0 + (rowH - 8) / 2 + 4, 'text-anchor': 'end' }, s('title', {}, text), text.length > 16 ? text.slice(0, 15) + '…' : text));
      series.forEach((sr, si) => {
        const v = sr.values[i];
        if (!isNum(v)) return;
        const w = Math.max(1, ((W - L - R) * v) / max);
        const y = y0 + si * 16;
        g.append(s('rect', { x: L, y, width: w, height: 13, rx: 2, fill: color(si), 'data-label': text, 'data-value': v }, s('title', {}, `${iso(text)}: ${fmt(v)}`)));
        g.append(s('text', { class: 'ff-value-label', x: L + w + 5, y: y + 11 }, fmt(v)));
      });
    });
    return [s('svg', { class: 'ff-chart', viewBox: `0 0 ${W} ${H}`, role: 'img' }, g), legend(series)];
  }

  function table(result) {
    const cols = result.columns;
    if (!result.rows.length) return h('div', { class: 'ff-empty' }, 'No data in this range');
    return h('table', { class: 'ff-table' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.role === 'metric' ? 'ff-num' : null }, c.label)))),
      h('tbody', {}, result.rows.map((r) => h('tr', {}, r.map((v, i) => h('td', { class: cols[i].role === 'metric' ? 'ff-num' : null, 'data-value': v === null ? '' : String(v) }, cols[i].time ? shortDate(v) : fmt(v)))))));
  }

  function metricTile(result) {
    const t = result.trend;
    let trend = null;
    if (t) {
      const c = t.change_pct;
      const arrow = !isNum(c) ? '' : c > 0 ? '▲' : c < 0 ? '▼' : '■';
      const cls = !isNum(c) ? '' : c > 0 ? 'ff-up' : c < 0 ? 'ff-down' : '';
      trend = h('div', { class: 'ff-trend' },
        h('span', { class: cls, 'data-change-pct': isNum(c) ? c : '' }, isNum(c) ? `${arrow} ${c > 0 ? '+' : ''}${c.toFixed(1)}%` : '–'),
        ` vs ${fmt(t.previous)} (${t.period === 'previous_period' ? 'previous period' : t.period.replace(/_/g, ' ') + ' earlier'})`);
    }
    return [h('div', { class: 'ff-metric-value', 'data-value': result.value === null ? '' : result.value }, fmt(result.value)), trend];
  }

  function funnel(result) {
    const first = result.steps.length ? result.steps[0].persons : 0;
    const rows = result.steps.map((st, i) => h('div', { class: 'ff-funnel-step', 'data-persons': st.persons },
      h('div', { class: 'ff-funnel-label' }, h('span', {}, `${i + 1}. ${st.name}`), h('strong', { class: 'ff-persons' }, fmt(st.persons))),
      h('div', { class: 'ff-funnel-track' }, h('div', { class: 'ff-funnel-bar', style: `width:${first ? (100 * st.persons) / first : 0}%` })),
      h('div', { class: 'ff-funnel-meta' }, i === 0 ? 'start' : `${pct(st.conversion_from_start)} of start · ${pct(st.conversion_from_previous)} from previous · ${fmt(st.drop_off)} dropped`)));
    const sum = h('div', { class: 'ff-funnel-summary' }, `Overall conversion ${pct(result.overall_conversion)} · median time to convert ${fmtDuration(result.median_time_to_convert_s)} · average ${fmtDuration(result.avg_time_to_convert_s)}`);
    return [rows, sum];
  }

  /* ---- CSV ------------------------------------------------------------------------------ */
  /** Text a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a
   * leading `'` (OWASP's CSV-injection mitigation), unless it is a plain number (`-3.5`);
   * numbers are written as they are. The same rule as `footfall query --format csv`. */
  function spreadsheetText(t) {
    return /^[=+\-@\t\r]/.test(t) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) ? "'" + t : t;
  }
  function csvCell(v) {
    const t = v === null || v === undefined ? '' : typeof v === 'string' ? spreadsheetText(v) : String(v);
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }
  function toCsv(w) {
    const r = w.result;
    let rows;
    if (r.kind === 'number') {
      rows = [['metric', 'value', 'from', 'to', 'previous', 'change_pct'],
        [r.metric, r.value, w.from, w.to, r.trend ? r.trend.previous : '', r.trend ? r.trend.change_pct : '']];
    } else if (r.kind === 'funnel') {
      rows = [['step', 'event', 'persons', 'conversion_from_start', 'conversion_from_previous', 'drop_off']]
        .concat(r.steps.map((s) => [s.name, s.event, s.persons, s.conversion_from_start, s.conversion_from_previous, s.drop_off]));
    } else {
      rows = [r.columns.map((c) => c.name)].concat(r.rows);
    }
    return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
  }
  function download(name, text) {
    const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  /* ---- cards ------------------------------------------------------------------------------ */
  function card(dash, w) {
    const wide = w.type === 'table' || w.type === 'paths' || (w.type === 'chart' && w.chart_type === 'line');
    const body = h('div', { class: 'ff-body' });
    const dataView = h('div', { class: 'ff-body ff-data-view', hidden: true });
    const r = w.result;
    const title = w.title || w.type;
    const actions = h('div', { class: 'ff-actions' });
    if (w.error || !r) {
      body.append(h('div', { class: 'ff-error' }, w.error || 'no result'));
    } else {
      if (r.kind === 'number') body.append(...metricTile(r).filter(Boolean));
      else if (r.kind === 'funnel') body.append(...funnel(r).flat());
      else if (w.type === 'table' || w.type === 'paths') body.append(table(r));
      else if (!r.rows.length) body.append(h('div', { class: 'ff-empty' }, 'No data in this range'));
      else body.append(...(w.chart_type === 'line' ? lineChart(r) : barChart(r)).filter(Boolean));
      if (w.type === 'chart') {
        actions.append(h('button', { type: 'button', class: 'ff-toggle-data', title: 'Show the numbers', onclick: () => {
          if (!dataView.childElementCount) dataView.append(table(r));
          dataView.hidden = !dataView.hidden;
        } }, 'Data'));
      }
      actions.append(h('button', { type: 'button', class: 'ff-csv', title: 'Download CSV',
        onclick: () => download(`${dash.dashboard.id}-${w.id}.csv`, toCsv(w)) }, 'CSV'));
    }
    const computed = computedText(w);
    const attrs = { class: 'ff-card' + (wide ? ' ff-wide' : ''), 'data-widget-id': w.id, 'data-widget-type': w.type };
    if (w.computed_at) { attrs['data-computed-at'] = w.computed_at; attrs['data-stale'] = String(!!w.stale); }
    return h('article', attrs,
      h('div', { class: 'ff-card-head' },
        h('div', {}, h('h3', {}, title), h('div', { class: 'ff-range' }, rangeText(w.from, w.to) + (w.fixed_range ? ' · fixed range' : '')),
          computed ? h('div', { class: 'ff-computed' + (w.stale ? ' ff-stale' : ''), title: w.computed_at }, computed) : null), actions),
      body, dataView);
  }

  function dashboardSection(data, withHeading) {
    return h('section', { class: 'ff-dashboard', id: 'dash-' + data.dashboard.id, 'data-dashboard-id': data.dashboard.id },
      withHeading ? h('h2', {}, data.dashboard.name) : null,
      withHeading && data.dashboard.description ? h('p', {}, data.dashboard.description) : null,
      h('div', { class: 'ff-grid' }, data.widgets.map((w) => card(data, w))));
  }

  /* ---- live pages ----------------------------------------------------------------------------- */
  /** `#token=...` (taken once, then removed from the URL and kept for the tab's session). */
  const hashToken = location.hash.match(/token=([^&]+)/);
  if (hashToken) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hashToken[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  /** `?project=` of the page, passed on to every API call and link (collectors with several
   * projects need it; with one project it may be left out). */
  const project = new URLSearchParams(location.search).get('project');
  const withProject = (url) => {
    if (!project) return url;
    return url + (url.includes('?') ? '&' : '?') + 'project=' + encodeURIComponent(project);
  };
  async function getJson(path) {
    const t = token();
    const res = await fetch(withProject(api + path), { headers: t ? { Authorization: 'Bearer ' + t } : {} });
    if (res.status === 401 || res.status === 403) { askToken(res.status); throw new Error('unauthorized'); }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    return body;
  }
  function askToken(status) {
    const input = h('input', { type: 'password', placeholder: 'admin token', autocomplete: 'current-password' });
    const main = document.querySelector('main');
    main.replaceChildren(h('form', { class: 'ff-token', onsubmit: (e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, input.value); location.reload(); } },
      h('h2', {}, 'Admin token required'), h('p', {}, status === 403 ? 'The token was refused.' : 'Dashboards need the collector\'s admin token.'), input,
      h('button', { class: 'ff-primary', type: 'submit' }, 'Open')));
  }

  const PRESETS = [['', 'Widget defaults'], ['today', 'Today'], ['7_days_ago', 'Last 7 days'], ['30_days_ago', 'Last 30 days'], ['90_days_ago', 'Last 90 days'], ['custom', 'Custom…']];
  function rangeControls(onChange) {
    const q = new URLSearchParams(location.search);
    const from = h('input', { type: 'date', name: 'from', 'aria-label': 'from' });
    const to = h('input', { type: 'date', name: 'to', 'aria-label': 'to' });
    const preset = h('select', { name: 'preset', 'aria-label': 'date range' }, PRESETS.map(([v, l]) => h('option', { value: v }, l)));
    const isDate = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || '');
    const qf = q.get('from') || '';
    if (isDate(qf) || isDate(q.get('to'))) { preset.value = 'custom'; from.value = qf; to.value = q.get('to') || ''; }
    else preset.value = PRESETS.some(([v]) => v === qf) ? qf : '';
    const sync = () => { const custom = preset.value === 'custom'; from.disabled = to.disabled = !custom; };
    sync();
    const current = () => {
      if (preset.value === 'custom') return { from: from.value, to: to.value };
      return preset.value ? { from: preset.value, to: 'today' } : {};
    };
    preset.addEventListener('change', () => { sync(); if (preset.value !== 'custom') onChange(current()); });
    from.addEventListener('change', () => from.value && to.value && onChange(current()));
    to.addEventListener('change', () => from.value && to.value && onChange(current()));
    return { el: [h('label', {}, 'Range', preset), h('label', {}, 'From', from), h('label', {}, 'To', to)], current };
  }

  /** A card waiting for its data. */
  function pendingCard(w, id) {
    return h('article', { class: 'ff-card', 'data-widget-id': id, 'data-widget-type': w.type },
      h('div', { class: 'ff-card-head' }, h('div', {}, h('h3', {}, w.title || w.type), h('div', { class: 'ff-range' }, ''))),
      h('div', { class: 'ff-body ff-empty' }, 'Loading…'));
  }

  /** Live page: the definition, then every widget's data in parallel, each card drawn as soon
   * as its data arrives (slow widgets never hold the fast ones back). */
  async function live() {
    const main = document.querySelector('main');
    const status = document.querySelector('.ff-status');
    const controls = document.querySelector('.ff-controls');
    const path = `/v1/dashboards/${encodeURIComponent(cfg.dashboardId)}`;
    let loading = false;
    const load = async (range, refresh) => {
      if (loading) return;
      loading = true;
      document.body.dataset.loaded = 'false';
      status.textContent = 'Loading…';
      const q = new URLSearchParams();
      if (range.from) q.set('from', range.from);
      if (range.to) q.set('to', range.to);
      history.replaceState(null, '', withProject(location.pathname + (q.toString() ? '?' + q : '')));
      const t0 = performance.now();
      try {
        const def = await getJson(path);
        document.title = `${def.name} · Footfall`;
        document.querySelector('h1').textContent = def.name;
        document.querySelector('header .ff-sub').textContent = def.description || '';
        const ids = def.widgets.map((w, i) => w.widget_id || 'w' + i);
        const cards = def.widgets.map((w, i) => pendingCard(w, ids[i]));
        main.replaceChildren(h('section', { class: 'ff-dashboard', 'data-dashboard-id': def.id }, h('div', { class: 'ff-grid' }, cards)));
        const dash = { dashboard: { id: def.id, name: def.name } };
        let cached = 0, stale = 0;
        await Promise.all(ids.map(async (id, i) => {
          const wq = new URLSearchParams(q);
          wq.set('widget', id);
          if (refresh) wq.set('refresh', '1');
          let w;
          try {
            w = (await getJson(`${path}/data?${wq}`)).widgets[0];
          } catch (e) {
            if (e.message === 'unauthorized') throw e;
            w = { id, type: def.widgets[i].type, title: def.widgets[i].title, error: e.message };
          }
          if (w.cached) cached++;
          if (w.stale) stale++;
          const c = card(dash, w);
          cards[i].replaceWith(c);
          if (w.stale) pollStale(wq, i, c);
        }));
        const ms = Math.round(performance.now() - t0);
        status.textContent = `Updated ${new Date().toLocaleTimeString()} · ${ms} ms` + (cached ? ` · ${cached} cached` : '') + (stale ? ` (${stale} refreshing)` : '');
        document.body.dataset.stale = String(stale);
        document.body.dataset.loaded = 'true';
      } catch (e) {
        if (e.message !== 'unauthorized') main.replaceChildren(h('div', { class: 'ff-error' }, 'Could not load the dashboard: ' + e.message));
        status.textContent = '';
        document.body.dataset.loaded = 'error';
      } finally {
        loading = false;
      }
    };
    /** A stale widget is being recomputed in the background: fetch it again (2, 4, 8, 16, 32 s
     * later) until the refreshed result arrives, then redraw its card. */
    let generation = 0;
    const pollStale = (wq, i, c) => {
      const gen = generation;
      const tries = [2000, 4000, 8000, 16000, 32000];
      const next = () => {
        const wait = tries.shift();
        if (wait === undefined) return;
        setTimeout(async () => {
          if (gen !== generation) return;
          try {
            const w = (await getJson(`${path}/data?${wq}`)).widgets[0];
            if (gen !== generation) return;
            if (w.stale) return next();
            const fresh = card({ dashboard: { id: cfg.dashboardId } }, w);
            c.replaceWith(fresh);
          } catch (e) { /* keep the stale card */ }
        }, wait);
      };
      next();
    };
    const rc = rangeControls((r) => { generation++; load(r, false); });
    controls.append(...rc.el, h('button', { type: 'button', class: 'ff-primary ff-refresh', title: 'Recompute every widget', onclick: () => { generation++; load(rc.current(), true); } }, 'Refresh'));
    await load(rc.current(), false);
  }

  async function index() {
    const main = document.querySelector('main');
    try {
      const list = await getJson('/v1/dashboards');
      const items = list.dashboards || [];
      main.replaceChildren(items.length
        ? h('ul', { class: 'ff-index' }, items.map((d) => h('li', {},
          h('a', { href: withProject(`${api}/dashboards/${encodeURIComponent(d.id)}`) }, d.name),
          h('div', { class: 'ff-sub' }, `${(d.widgets || []).length} widgets${d.description ? ' · ' + d.description : ''}`))))
        : h('div', { class: 'ff-empty' }, 'No dashboards yet: POST one to /v1/dashboards or run `footfall serve --demo`.'),
        h('p', {}, h('a', { href: withProject(`${api}/events`) }, 'Live events'), ': the newest stored events as they arrive.'));
      document.body.dataset.loaded = 'true';
    } catch (e) {
      if (e.message !== 'unauthorized') main.replaceChildren(h('div', { class: 'ff-error' }, 'Could not list dashboards: ' + e.message));
    }
  }

  function staticReport() {
    const main = document.querySelector('main');
    const reports = cfg.reports || [];
    const nav = reports.length > 1 ? h('nav', { class: 'ff-nav' }, reports.map((r) => h('a', { href: '#dash-' + r.dashboard.id }, r.dashboard.name))) : null;
    main.replaceChildren(...[nav, ...reports.map((r) => dashboardSection(r, reports.length > 1))].filter(Boolean));
    document.body.dataset.loaded = 'true';
  }

  if (cfg.mode === 'static') staticReport();
  else if (cfg.mode === 'index') index();
  else live();
})();
