// The browser APIs the Rust host calls synchronously (imported by src/web/env.rs through
// wasm-bindgen). Each tolerates its API being missing or throwing (storage disabled, sandboxed
// iframes): it degrades to "unavailable", never to an exception in the page. Everything
// asynchronous (timers, fetch, Web Locks, listeners) is driven from the JS side of the package
// (js/src/host.ts), which calls the host back.
// Three imports: `fillRandom` and `beacon` (they take bytes) and `env`, the one entry point for
// every string-only call (each import costs its own wrapper in the generated glue).

/** Fills `buf` with cryptographically strong random bytes. */
export function fillRandom(buf) {
  crypto.getRandomValues(buf);
}

/** `localStorage.getItem(key)`, or null. */
function kvGet(key) {
  try {
    return localStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

/** `localStorage.setItem`: null when stored, else the error's message (quota, disabled). */
function kvSet(key, value) {
  try {
    localStorage.setItem(key, value);
    return null;
  } catch (e) {
    return String((e && e.message) || e);
  }
}

/** `localStorage.removeItem(key)`. */
function kvRemove(key) {
  try {
    localStorage.removeItem(key);
  } catch (_) {}
}

/** The `localStorage` keys starting with `prefix`, joined by NUL. */
function kvKeys(prefix) {
  const keys = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(prefix)) keys.push(k);
    }
  } catch (_) {}
  return keys.join('\0');
}

/** The value of cookie `name`, or null. */
function cookieGet(name) {
  try {
    for (const c of document.cookie.split('; ')) {
      if (c.startsWith(name + '=')) return decodeURIComponent(c.slice(name.length + 1));
    }
  } catch (_) {}
  return null;
}

/** Sets cookie `name` for a year on `domain` (`Secure` on https). */
function cookieSet(name, value, domain) {
  try {
    document.cookie = `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=31536000; SameSite=Lax; Domain=${domain}${
      location.protocol === 'https:' ? '; Secure' : ''
    }`;
  } catch (_) {}
}

/** `navigator.sendBeacon(url, body)` (`body`: the UTF-8 bytes, a view of the wasm memory,
 * copied into a `text/plain` Blob: CORS-simple, like a string body); false when refused or
 * missing. */
export function beacon(url, body) {
  try {
    return navigator.sendBeacon(url, new Blob([body], { type: 'text/plain;charset=UTF-8' }));
  } catch (_) {
    return false;
  }
}

// The custom PII patterns (`pii_patterns`) of each matcher (`RegExpMatcher` in env.rs, by id).
const patterns = [];

/** Forgets matcher `id`'s patterns. */
function patternsClear(id) {
  patterns[id] = [];
}

/** Compiles `source` for matcher `id` (Unicode mode, else the legacy syntax): null when added,
 * else why it is invalid. */
function patternAdd(id, source) {
  let re;
  try {
    re = new RegExp(source, 'u');
  } catch (_) {
    try {
      re = new RegExp(source);
    } catch (e) {
      return String((e && e.message) || e);
    }
  }
  patterns[id].push(re);
  return null;
}

/** Whether one of matcher `id`'s patterns matches somewhere in `s` (no `g` flag: stateless). */
function patternsTest(id, s) {
  return patterns[id].some((re) => re.test(s));
}

/** `console.log` (debug mode). */
function log(line) {
  console.log(line);
}

const ops = [kvGet, kvSet, kvRemove, kvKeys, cookieGet, cookieSet, patternsClear, patternAdd, patternsTest, log];

/** The one import for the string-only calls above (see `env` in env.rs): `op` indexes `ops`,
 * `id` is a matcher's id (the pattern calls take it first), `a`, `b`, `c` the string arguments.
 * Answers a string or null (`patternsTest`: "" for a match). */
export function env(op, id, a, b, c) {
  const r = op >= 6 && op <= 8 ? ops[op](id, a) : ops[op](a, b, c);
  return r === true ? '' : typeof r === 'string' ? r : null;
}
