/* Footfall live events: the newest events as stored, of the last 7 days (the `raw_events` query through
 * POST /v1/query), refreshed every 2 s, and the messages the collector refused with their
 * reasons (GET /v1/admin/dead_letters, when the host has it) — is my instrumentation arriving,
 * with which properties, and if not, why? Everything is built with DOM methods and set as text:
 * event names and properties come from anyone who has the (public) write key.
 * Config: {mode: "events", apiBase} in <script type="application/json" id="ff-config">.
 */
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('ff-config').textContent);
  const api = (cfg.apiBase || '').replace(/\/$/, '');
  const TOKEN_KEY = 'footfall_admin_token';
  const POLL_MS = 2000;
  const PAGE = 50;

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
    return el;
  }

  /** `#token=...` (taken once, then removed from the URL and kept for the tab's session). */
  const hashToken = location.hash.match(/token=([^&]+)/);
  if (hashToken) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hashToken[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const project = new URLSearchParams(location.search).get('project');
  const withProject = (url) => (project ? url + (url.includes('?') ? '&' : '?') + 'project=' + encodeURIComponent(project) : url);
  async function call(path, body) {
    const t = sessionStorage.getItem(TOKEN_KEY);
    const headers = t ? { Authorization: 'Bearer ' + t } : {};
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetch(withProject(api + path), body ? { method: 'POST', headers, body: JSON.stringify(body) } : { headers });
    if (res.status === 401 || res.status === 403) {
      askToken(res.status);
      throw new Error('unauthorized');
    }
    const out = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(out.error || `HTTP ${res.status}`), { status: res.status });
    return out;
  }
  function askToken(status) {
    stop();
    const input = h('input', { type: 'password', placeholder: 'admin token', autocomplete: 'current-password' });
    document.querySelector('main').replaceChildren(h('form', { class: 'ff-token', onsubmit: (e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, input.value); location.reload(); } },
      h('h2', {}, 'Admin token required'), h('p', {}, status === 403 ? 'The token was refused.' : 'Live events need the collector\'s admin token.'), input,
      h('button', { class: 'ff-primary', type: 'submit' }, 'Open')));
  }

  const time = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? String(iso ?? '') : d.toLocaleString();
  };
  const compact = (v) => {
    const s = JSON.stringify(v ?? {});
    return s === '{}' ? '' : s.length > 160 ? s.slice(0, 157) + '…' : s;
  };

  // ----- controls -----
  const eventInput = h('input', { type: 'search', name: 'event', placeholder: 'event name', 'aria-label': 'event name' });
  const personInput = h('input', { type: 'search', name: 'person', placeholder: 'user or anonymous id', 'aria-label': 'person' });
  // Bots shown by default: this page answers "what arrived" (a headless test browser is a bot).
  const bots = h('input', { type: 'checkbox', name: 'bots', checked: true });
  const pause = h('button', { type: 'button', class: 'ff-pause' }, 'Pause');
  const status = document.querySelector('.ff-status');

  /** The `raw_events` spec of the controls. */
  function spec(before) {
    const filters = [];
    const ev = eventInput.value.trim();
    const who = personInput.value.trim();
    if (ev) filters.push({ field: 'event', op: 'eq', value: ev });
    if (who) filters.push({ or: [{ field: 'user_id', op: 'eq', value: who }, { field: 'anonymous_id', op: 'eq', value: who }] });
    const q = { kind: 'raw_events', from: '7_days_ago', to: 'today', limit: PAGE, include_bots: bots.checked };
    if (filters.length) q.filters = filters.length === 1 ? filters[0] : { and: filters };
    if (before) q.before = before;
    return q;
  }

  // ----- the events table -----
  const tbody = h('tbody');
  const older = h('button', { type: 'button', class: 'ff-older', hidden: true }, 'Older events');
  const shown = new Set();
  let next = null;

  function row(e, fresh) {
    const detail = h('tr', { class: 'ff-detail', hidden: true },
      h('td', { colspan: 5 }, h('pre', {}, JSON.stringify({ message_id: e.message_id, type: e.type, event: e.event, timestamp: e.timestamp, received_at: e.received_at,
        user_id: e.user_id, anonymous_id: e.anonymous_id, session_id: e.session_id, group_id: e.group_id, browser: e.browser, os: e.os, device_type: e.device_type,
        is_bot: e.is_bot, ip: e.ip, properties: e.properties, traits: e.traits, context: e.context }, null, 2))));
    const main = h('tr', { class: 'ff-event' + (fresh ? ' ff-new' : ''), 'data-message-id': e.message_id, tabindex: 0, title: 'Show everything stored' },
      h('td', { class: 'ff-when' }, time(e.received_at)),
      h('td', {}, h('span', { class: 'ff-type' }, e.type), ' ', h('strong', {}, e.event || '')),
      h('td', {}, e.person || e.anonymous_id || ''),
      h('td', {}, [e.browser, e.os].filter(Boolean).join(' · ') + (e.is_bot ? ' · bot' : '')),
      h('td', { class: 'ff-props' }, compact(e.type === 'identify' || e.type === 'group' ? e.traits : e.properties)));
    const toggle = () => { detail.hidden = !detail.hidden; };
    main.addEventListener('click', toggle);
    main.addEventListener('keydown', (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); toggle(); } });
    return [main, detail];
  }

  /** Newest page: new events on top (highlighted), the rest as they are. */
  async function refresh(reset) {
    const page = await call('/v1/query', spec());
    if (reset) {
      tbody.replaceChildren();
      shown.clear();
      next = page.next;
    }
    const fresh = page.events.filter((e) => !shown.has(e.message_id));
    const rows = fresh.flatMap((e) => row(e, !reset));
    tbody.prepend(...rows);
    fresh.forEach((e) => shown.add(e.message_id));
    older.hidden = !next;
    empty.hidden = shown.size > 0;
    status.textContent = `${shown.size} shown · updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = 'true';
  }
  async function loadOlder() {
    if (!next) return;
    const page = await call('/v1/query', spec(next));
    next = page.next;
    const rows = page.events.filter((e) => !shown.has(e.message_id)).flatMap((e) => { shown.add(e.message_id); return row(e, false); });
    tbody.append(...rows);
    older.hidden = !next;
  }
  older.addEventListener('click', () => loadOlder().catch(showError));

  // ----- refused messages -----
  const refusedBody = h('tbody');
  const refusedSection = h('section', { class: 'ff-refused', hidden: true },
    h('h2', {}, 'Refused messages'),
    h('p', { class: 'ff-sub' }, 'Messages the collector did not store, newest first, with the reason (dead letters).'),
    h('table', { class: 'ff-table' }, h('thead', {}, h('tr', {}, ['Received', 'Reason', 'Message id', 'Payload'].map((c) => h('th', {}, c)))), refusedBody));
  let refusedAvailable = true;
  async function refreshRefused() {
    if (!refusedAvailable) return;
    let out;
    try {
      out = await call('/v1/admin/dead_letters?limit=20');
    } catch (e) {
      if (e.status === 404 || e.status === 405) { refusedAvailable = false; return; }
      throw e;
    }
    const items = out.dead_letters || [];
    refusedSection.hidden = items.length === 0;
    refusedBody.replaceChildren(...items.map((d) => h('tr', {},
      h('td', { class: 'ff-when' }, typeof d.received_at === 'number' ? new Date(d.received_at).toLocaleString() : String(d.received_at ?? '')),
      h('td', {}, h('strong', {}, String(d.reason ?? ''))),
      h('td', {}, String(d.message_id ?? '')),
      h('td', { class: 'ff-props' }, String(d.payload ?? '').slice(0, 200)))));
  }

  // ----- polling -----
  let timer = null;
  let paused = false;
  const empty = h('div', { class: 'ff-empty', hidden: true }, 'No events in the last 7 days match. Send one (the example page, an SDK, curl) and it shows up here within seconds.');
  function showError(e) {
    if (e.message !== 'unauthorized') status.textContent = 'Could not load events: ' + e.message;
  }
  function stop() {
    clearTimeout(timer);
    timer = null;
  }
  function schedule() {
    stop();
    if (paused || document.hidden) return;
    timer = setTimeout(async () => {
      try {
        await Promise.all([refresh(false), refreshRefused()]);
      } catch (e) {
        showError(e);
      }
      if (timer !== null) schedule();
    }, POLL_MS);
  }
  async function restart() {
    stop();
    try {
      await Promise.all([refresh(true), refreshRefused()]);
    } catch (e) {
      showError(e);
      if (e.message === 'unauthorized') return;
    }
    timer = 0;
    schedule();
  }
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) stop(); else restart();
  });
  document.addEventListener('visibilitychange', () => (document.hidden ? stop() : restart()));
  let typing;
  for (const input of [eventInput, personInput]) input.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(restart, 400); });
  bots.addEventListener('change', restart);

  document.querySelector('.ff-controls').prepend(
    h('label', {}, 'Event', eventInput), h('label', {}, 'Person', personInput), h('label', {}, bots, 'Bots'), pause);
  document.querySelector('main').replaceChildren(
    h('section', { class: 'ff-live' },
      h('table', { class: 'ff-table ff-events' },
        h('thead', {}, h('tr', {}, ['Received', 'Event', 'Person', 'Browser · OS', 'Properties'].map((c) => h('th', {}, c)))), tbody),
      empty, older),
    refusedSection);
  restart();
})();
