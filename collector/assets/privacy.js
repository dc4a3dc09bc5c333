// The privacy settings page (`/privacy?project=ID`): the project's live settings as a form, the
// audit history of changes, and the data-subject tools (find/export and erase a person by user
// id or anonymous id). Talks to the admin API with the admin token (kept in sessionStorage, like
// the dashboards; `#token=` in the URL is taken once). Ids and event names come from anyone with
// the public write key: they only become text (never markup), each isolated (`<bdi>`, U+2068..)
// so bidi overrides in one cannot reorder the counts and ids next to it.
(() => {
  'use strict';
  const TOKEN_KEY = 'footfall_admin_token';
  const statusEl = document.getElementById('ff-status');
  const main = document.querySelector('main');
  const hashToken = location.hash.match(/token=([^&]+)/);
  if (hashToken) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hashToken[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  let project = new URLSearchParams(location.search).get('project');
  let etag = null;

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'value') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c != null) el.append(c.nodeType ? c : String(c));
    return el;
  }
  const setStatus = (text, cls) => { statusEl.textContent = text; statusEl.className = 'ff-status ' + (cls || ''); };

  async function call(method, path, body, headers = {}) {
    const t = token();
    const res = await fetch(path, {
      method,
      headers: { ...(t ? { Authorization: 'Bearer ' + t } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status === 401) { askToken(); throw new Error('unauthorized'); }
    return res;
  }
  async function json(res) {
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.message || body.error || `HTTP ${res.status}`), { body, status: res.status });
    return body;
  }
  function askToken() {
    const input = h('input', { type: 'password', placeholder: 'admin token', autocomplete: 'current-password' });
    main.replaceChildren(h('form', { class: 'ff-token', onsubmit: (e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, input.value); location.reload(); } },
      h('h2', {}, 'Admin token required'), h('p', {}, 'Privacy settings need the collector\'s admin token.'), input,
      h('button', { class: 'ff-primary', type: 'submit' }, 'Open')));
  }
  const q = (path) => path + (path.includes('?') ? '&' : '?') + 'project=' + encodeURIComponent(project);

  // ---- the settings form -----------------------------------------------------------------------
  const FIELDS = [
    ['IP addresses', 'anonymize_ip', 'bool', 'Anonymize IP addresses', 'Truncates IP addresses (IPv4: last octet, IPv6: last 80 bits) in the SDKs and in the collector before anything is stored.'],
    ['IP addresses', 'store_raw_ip', 'bool', 'Store full IP addresses', 'Keeps complete IP addresses. Needs anonymization off; messages that ask for anonymization are still truncated.'],
    ['Identity', 'hash_user_id', 'bool', 'Hash user ids', 'Replaces every user id with a keyed hash (HMAC-SHA256, secret salt held by the collector) before storage; the tools below still find people by their original id.'],
    ['Sensitive values', 'pii_scrubbing', 'bool', 'Scrub PII', 'Replaces property and trait values that look like emails, phone numbers or card numbers with "[redacted]".'],
    ['Sensitive values', 'pii_patterns', 'lines', 'Extra PII patterns', 'One regular expression per line; matching values are redacted too (when PII scrubbing is on).'],
    ['Sensitive values', 'property_deny_list', 'lines', 'Denied properties', 'Property and trait names (one per line, any depth, any case) never stored: SDKs drop them, the collector refuses messages that still carry them (reason denied_property).'],
    ['Sensitive values', 'url_param_deny_list', 'lines', 'Denied URL parameters', 'Query parameters (one per line) removed from page URLs, referrers and searches before storage.'],
    ['Consent', 'consent_mode', ['opt_out', 'opt_in'], 'Consent mode', 'opt_out: events without a consent decision are kept until the person refuses; opt_in: only events the person agreed to are kept (others refused: no_consent).'],
    ['Consent', 'consent_categories', 'categories', 'Per-category consent', 'One category per line, e.g. "marketing: opt_in"; other categories follow the mode, "necessary" always passes.'],
    ['Consent', 'respect_gpc', 'bool', 'Honour Global Privacy Control', 'A browser that sends Sec-GPC: 1 is treated as opt-in: nothing is kept without an explicit yes.'],
    ['Consent', 'respect_dnt', 'bool', 'Honour Do Not Track', 'A browser that sends DNT: 1 is treated as opt-in.'],
    ['Tracking plan', 'tracking_plan.events', 'plan', 'Events', 'One event per line: "purchase: amount, currency" (only these properties are kept), "search: *" (any property), "old_event: disabled" (refused). Empty: no plan.'],
    ['Tracking plan', 'tracking_plan.strict', 'bool', 'Strict plan', 'Refuses events the plan does not list, and listed events carrying other properties (reason not_in_plan), instead of trimming them.'],
    ['Retention', 'retention.events_days', 'number', 'Events (days)', 'Events older than this are deleted.'],
    ['Retention', 'retention.sessions_days', 'number', 'Sessions (days)', 'Events older than this lose their session id, so sessions can no longer be reconstructed.'],
    ['Retention', 'retention.users_days', 'number', 'Users (days)', 'Links between devices (anonymous ids) and users made longer ago than this are deleted.'],
    ['Bots', 'bots', ['tag', 'reject'], 'Bot traffic', 'tag: stored flagged as bot and left out of analytics; reject: refused (reason bot).'],
  ];
  const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const set = (obj, path, v) => {
    const keys = path.split('.');
    const last = keys.pop();
    const target = keys.reduce((o, k) => (o[k] ??= {}), obj);
    target[last] = v;
  };
  const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);

  const show = {
    bool: (v) => !!v,
    lines: (v) => (v || []).join('\n'),
    number: (v) => v,
    categories: (v) => Object.entries(v || {}).map(([c, m]) => `${c}: ${m}`).join('\n'),
    plan: (v) => Object.entries(v || {}).map(([name, s]) => `${name}: ${s.enabled === false ? 'disabled' : s.properties ? s.properties.join(', ') : '*'}`).join('\n'),
  };
  const read = {
    bool: (el) => el.checked,
    lines: (el) => lines(el.value),
    number: (el) => Number(el.value),
    categories: (el) => Object.fromEntries(lines(el.value).map((l) => { const [c, m = ''] = l.split(':'); return [c.trim(), m.trim()]; })),
    plan: (el) => Object.fromEntries(lines(el.value).map((l) => {
      const i = l.indexOf(':');
      const name = (i < 0 ? l : l.slice(0, i)).trim();
      const rest = i < 0 ? '*' : l.slice(i + 1).trim();
      if (rest === 'disabled') return [name, { enabled: false }];
      if (rest === '*') return [name, { enabled: true }];
      return [name, { enabled: true, properties: rest.split(',').map((p) => p.trim()).filter(Boolean) }];
    })),
  };

  function control(key, kind, value) {
    if (Array.isArray(kind)) return h('select', { name: key, id: 'f-' + key }, kind.map((o) => h('option', { value: o, selected: o === value }, o)));
    if (kind === 'bool') return h('input', { type: 'checkbox', name: key, id: 'f-' + key, checked: show.bool(value) });
    if (kind === 'number') return h('input', { type: 'number', min: 1, max: 36500, name: key, id: 'f-' + key, value: show.number(value) });
    return h('textarea', { name: key, id: 'f-' + key, rows: 3, spellcheck: 'false' }, show[kind](value));
  }

  function renderForm(settings) {
    const sections = new Map();
    for (const [section, key, kind, label, help] of FIELDS) {
      if (!sections.has(section)) sections.set(section, h('section', { class: 'ff-card' }, h('h3', {}, section)));
      const block = ['lines', 'categories', 'plan'].includes(kind);
      sections.get(section).append(h('div', { class: block ? 'ff-field ff-block' : 'ff-field', 'data-key': key },
        h('label', { for: 'f-' + key }, label), control(key, kind, get(settings, key)), h('div', { class: 'ff-help' }, help)));
    }
    return h('form', { id: 'ff-settings', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
      h('div', { class: 'ff-settings-grid' }, [...sections.values()]),
      h('div', { class: 'ff-savebar' }, h('button', { class: 'ff-primary', type: 'submit', id: 'ff-save' }, 'Save'),
        h('span', { id: 'ff-save-result' })));
  }

  function collect() {
    const out = {};
    for (const [, key, kind] of FIELDS) {
      const el = document.getElementById('f-' + key);
      set(out, key, Array.isArray(kind) ? el.value : read[kind](el));
    }
    return out;
  }

  async function save() {
    const result = document.getElementById('ff-save-result');
    document.querySelectorAll('.ff-invalid').forEach((el) => el.classList.remove('ff-invalid'));
    setStatus('saving…');
    try {
      const res = await call('PUT', `/v1/admin/projects/${encodeURIComponent(project)}/privacy`, collect(), etag ? { 'If-Match': etag } : {});
      const body = await json(res);
      etag = body.etag;
      const n = body.changes.length;
      result.textContent = n ? `Saved: version ${body.version}, ${n} change${n > 1 ? 's' : ''}.` : 'No change.';
      result.className = 'ff-ok';
      setStatus(`version ${body.version}`);
      renderHistory();
    } catch (e) {
      result.textContent = e.message;
      result.className = 'ff-bad';
      setStatus('not saved', 'ff-bad');
      const path = (e.body?.message || '').replace(/^invalid privacy settings: /, '').split(':')[0].replace(/\[\d+\]$/, '');
      const field = FIELDS.map((f) => f[1]).filter((k) => path === k || path.startsWith(k + '.') || path.startsWith(k + '[')).pop();
      document.querySelector(`.ff-field[data-key="${field}"]`)?.classList.add('ff-invalid');
    }
  }

  // ---- history ---------------------------------------------------------------------------------
  const fmt = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  async function renderHistory() {
    const list = document.getElementById('ff-history');
    try {
      const body = await json(await call('GET', q('/v1/admin/audit?limit=100')));
      const items = body.entries.filter((e) => /^(privacy\.|erase_|export_|retention)/.test(e.action)).map((e) => {
        const when = new Date(e.at).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
        const head = h('div', {}, h('span', { class: 'ff-when' }, when), ' · ', h('b', {}, e.actor), ' · ', e.action);
        const changes = e.details?.changes;
        const detail = changes
          ? h('ul', {}, changes.map((c) => h('li', { class: 'ff-change' }, h('code', {}, c.field), ': ', fmt(c.old), ' → ', fmt(c.new))))
          : h('div', { class: 'ff-help' }, Object.entries(e.details || {}).map(([k, v]) => `${k}: \u2068${fmt(v)}\u2069`).join(', '));
        return h('li', { 'data-action': e.action }, head, detail);
      });
      list.replaceChildren(...(items.length ? items : [h('li', {}, 'No changes yet.')]));
    } catch (e) {
      if (e.message !== 'unauthorized') list.replaceChildren(h('li', { class: 'ff-bad' }, e.message));
    }
  }

  // ---- data-subject tools ----------------------------------------------------------------------
  function personPath(kind, id) {
    const base = kind === 'anonymous_id' ? '/v1/admin/anonymous_ids/' : '/v1/admin/users/';
    return base + encodeURIComponent(id);
  }
  function dsrTools() {
    const id = h('input', { type: 'text', id: 'dsr-id', placeholder: 'user id or anonymous id', required: true });
    const kind = h('select', { id: 'dsr-kind', 'aria-label': 'id kind' }, h('option', { value: 'user_id' }, 'user id'), h('option', { value: 'anonymous_id' }, 'anonymous id (cookie / device)'));
    const out = h('div', { class: 'ff-result', id: 'dsr-result' });
    const find = async () => {
      out.replaceChildren('searching…');
      try {
        const res = await call('GET', q(personPath(kind.value, id.value.trim()) + '/export'));
        if (!res.ok) await json(res);
        const text = await res.text();
        const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
        const names = {};
        events.forEach((e) => { names[e.event] = (names[e.event] || 0) + 1; });
        const ids = [...new Set(events.flatMap((e) => [e.user_id, e.anonymous_id]).filter(Boolean))];
        const when = (ms) => new Date(ms).toISOString().slice(0, 10);
        const link = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' })), download: `person-${id.value.trim()}.ndjson` }, 'Download NDJSON');
        out.replaceChildren(h('p', { id: 'dsr-found', 'data-events': events.length },
          events.length ? `Found ${events.length} event${events.length > 1 ? 's' : ''} from ${when(events[0].ts)} to ${when(events[events.length - 1].ts)}. ` : 'No events found. ', events.length ? link : ''),
        events.length ? h('p', {}, 'Events: ', Object.entries(names).flatMap(([n, c], k) => [k ? ', ' : '', h('bdi', {}, n), ` × ${c}`])) : '',
        ids.length ? h('p', {}, 'Ids: ', ids.flatMap((i) => [h('code', {}, h('bdi', {}, i)), ' '])) : '');
        renderHistory();
      } catch (e) { if (e.message !== 'unauthorized') out.replaceChildren(h('p', { class: 'ff-bad' }, e.message)); }
    };
    const erase = async () => {
      const who = id.value.trim();
      if (!who || !confirm(`Erase every event and identity link of ${kind.value.replace('_', ' ')} "${who}"? This cannot be undone.`)) return;
      out.replaceChildren('erasing…');
      try {
        const s = await json(await call('DELETE', q(personPath(kind.value, who))));
        out.replaceChildren(h('p', { id: 'dsr-erased', 'data-events': s.events_deleted, class: 'ff-ok' },
          `Erased: ${s.events_deleted} events and ${s.identity_links_deleted} identity links deleted` + (s.user_id && s.by === 'anonymous_id' ? ` (linked user ${s.user_id})` : '') + '. '),
        h('p', {}, 'Suppressed ids (later events refused): ', s.ids.flatMap((i) => [h('code', {}, h('bdi', {}, i)), ' '])));
        renderHistory();
      } catch (e) { if (e.message !== 'unauthorized') out.replaceChildren(h('p', { class: 'ff-bad' }, e.message)); }
    };
    return h('section', { class: 'ff-card ff-dsr' }, h('h3', {}, 'Data-subject requests'),
      h('p', { class: 'ff-help' }, 'Find (and download) or erase everything stored about a person. An anonymous id stands for its linked user when it has one.'),
      h('form', { onsubmit: (e) => { e.preventDefault(); find(); } }, id, kind,
        h('button', { type: 'submit', id: 'dsr-find' }, 'Find'), h('button', { type: 'button', id: 'dsr-erase', onclick: erase }, 'Erase…')), out);
  }

  // ---- start -----------------------------------------------------------------------------------
  async function start() {
    if (!token()) return askToken();
    try {
      const projects = (await json(await call('GET', '/v1/admin/projects'))).projects;
      if (!project) project = projects[0]?.id;
      if (!project) { main.replaceChildren(h('p', {}, 'No project is configured.')); return; }
      const picker = h('select', { 'aria-label': 'project', id: 'ff-project', onchange: (e) => { location.search = '?project=' + encodeURIComponent(e.target.value); } },
        projects.map((p) => h('option', { value: p.id, selected: p.id === project }, p.name === p.id ? p.id : `${p.name} (${p.id})`)));
      document.querySelector('.ff-controls').prepend(picker);
      const res = await call('GET', `/v1/admin/projects/${encodeURIComponent(project)}/privacy`);
      const view = await json(res);
      etag = view.etag;
      setStatus(view.version ? `version ${view.version}, changed ${view.updated_at} by ${view.updated_by}` : 'from the config file (never changed)');
      main.replaceChildren(renderForm(view.settings),
        h('div', { class: 'ff-settings-grid' },
          h('section', { class: 'ff-card' }, h('h3', {}, 'History'), h('ul', { class: 'ff-history', id: 'ff-history' }, h('li', {}, 'loading…'))),
          dsrTools()));
      document.body.dataset.ready = '1';
      renderHistory();
    } catch (e) {
      if (e.message !== 'unauthorized') main.replaceChildren(h('p', { class: 'ff-error' }, e.message));
    }
  }
  start();
})();
