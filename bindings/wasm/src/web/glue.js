// Small JS helpers for the browser host (imported by src/web/*.rs through wasm-bindgen). They are
// here rather than in web-sys calls where the DOM API is unstable in web-sys (Web Locks) or where
// a few lines of JS replace many imported functions (history patching, click attributes).

/** Fills `buf` with cryptographically strong random bytes. */
export function fillRandom(buf) {
  globalThis.crypto.getRandomValues(buf);
}

/**
 * Takes the Web Lock `name` and keeps it until the page goes away. Resolves `true` when held,
 * `false` when `ifAvailable` and another page holds it, `null` without the Web Locks API.
 */
export function holdLock(name, ifAvailable) {
  const locks = globalThis.navigator && navigator.locks;
  if (!locks) return Promise.resolve(null);
  return new Promise((resolve) => {
    locks
      .request(name, { ifAvailable }, (lock) => {
        resolve(!!lock);
        return lock ? new Promise(() => {}) : undefined;
      })
      .catch(() => resolve(false));
  });
}

/** Names of the Web Locks held or requested by any page of this origin (`null` without the API). */
export async function lockNames() {
  const locks = globalThis.navigator && navigator.locks;
  if (!locks) return null;
  const snapshot = await locks.query();
  return [...(snapshot.held || []), ...(snapshot.pending || [])].map((l) => l.name);
}

/**
 * Calls `onNavigate` after `history.pushState` / `replaceState` and on `popstate`. Returns a
 * function that undoes the patch.
 */
export function watchHistory(onNavigate) {
  const h = history;
  const originals = {};
  for (const m of ['pushState', 'replaceState']) {
    const original = h[m];
    originals[m] = original;
    h[m] = function (...args) {
      const result = original.apply(this, args);
      try {
        onNavigate();
      } catch (_) {
        // never break the page's navigation
      }
      return result;
    };
  }
  addEventListener('popstate', onNavigate);
  return () => {
    for (const m of Object.keys(originals)) h[m] = originals[m];
    removeEventListener('popstate', onNavigate);
  };
}

/**
 * For a click inside an element with `data-footfall-event`, returns
 * `[eventName, propertiesJson]` (element_id, element_type, element_text and every
 * `data-footfall-prop-<name>` attribute as `<name>` with dashes as underscores), else `null`.
 */
export function clickTarget(event) {
  const start = event.target;
  const el = start && start.closest ? start.closest('[data-footfall-event]') : null;
  if (!el) return null;
  const name = el.getAttribute('data-footfall-event');
  const props = {
    element_id: el.id || undefined,
    element_type: el.tagName.toLowerCase(),
    element_text: (el.textContent || '').trim().slice(0, 200) || undefined,
  };
  for (const attr of el.attributes) {
    if (attr.name.startsWith('data-footfall-prop-')) {
      props[attr.name.slice(19).replace(/-/g, '_')] = attr.value;
    }
  }
  return [name, JSON.stringify(props)];
}

/** `{url, path, referrer, search, title}` of the current page, as JSON. */
export function pageInfo(referrer) {
  const l = location;
  return JSON.stringify({
    path: l.pathname,
    referrer: referrer == null ? document.referrer : referrer,
    search: l.search,
    title: document.title,
    url: l.href,
  });
}

/** POSTs `body` as text/plain (a CORS-simple request: no preflight). Resolves to
 * `[status, retryAfter, responseText]`, or rejects with the network error's message. */
export async function post(url, body, keepalive) {
  const response = await fetch(url, {
    method: 'POST',
    body,
    keepalive,
    credentials: 'omit',
    headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
  });
  let text = null;
  try {
    text = await response.text();
  } catch (_) {
    text = null;
  }
  return [response.status, response.headers.get('Retry-After'), text];
}
