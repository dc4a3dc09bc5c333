// The asynchronous half of the browser host: the one timer, `fetch`, the page listeners and the
// Web Locks. Every decision (what is due, what a response means, beacons on page hide, other
// tabs' changes) is the Rust host's (bindings/wasm/src/web): this file only calls it and does
// the I/O it cannot do synchronously. Calls that can make a batch due return the delay in ms
// until `next` should be called (-1: none).
import { FootfallHost, info } from '../pkg/footfall.js';

/** Why the host refused the last call (`info(1)`, see bindings/wasm/src/web/mod.rs). */
export const problem = (): string | undefined => info(1, '');

/** The partitions holding queued events for `writeKey` (`info(0, writeKey)`): `tab` NUL
 * `newest enqueuedAt`, joined by NUL. */
const partitions = (writeKey: string): string => info(0, writeKey)!;

/** The host's `on(signal, arg, now)` signals (see bindings/wasm/src/web/mod.rs). A `const
 * enum`: esbuild writes the numbers where they are used. `Footfall` sends `REGISTER` (super
 * properties), `GRANT` (consent: `GRANT + 1` deny, `GRANT + 2` revoke), `TYPED` and `TRACK`. */
export const enum On {
  WAKEUP = 0,
  FLUSH = 1,
  HIDE = 2,
  ONLINE = 3,
  NAVIGATE = 4,
  STORAGE = 5,
  ADOPT = 6,
  COMMIT = 7,
  RESET = 8,
  DESTROY = 9,
  SETTINGS = 10,
  UNREGISTER = 11,
  REGISTER = 12,
  GRANT = 13,
  FAILED = 16,
  DELIVERED = 17,
  TYPED = 18,
  TRACK = 19,
  TRACK_BATCH = 20,
  SHOWN = 21,
}

/** What the host's `get(what, arg, now)` answers (see bindings/wasm/src/web/mod.rs). */
export const enum Get {
  BATCH_URL = 0,
  CONSENT = 1,
  STATS = 2,
  ANONYMOUS_ID = 3,
  USER_ID = 4,
  SESSION_ID = 5,
  CHECK_NAME = 6,
  SETTINGS_URL = 7,
  SETTLED = 8,
  BATCH = 9,
}

let clockAt = 0;
let clockPerf = 0;

/** The engine's clock (ms since the epoch): `Date.now()`, except that it never goes back: when
 * the computer's clock is set back, it runs on from where it was (by `performance.now()`), so
 * the deadlines the engine set (batches, retries, sessions) do not wait out the jump. A clock
 * set forward is taken as it is (the engine cannot tell it from the computer sleeping). */
export function now(): number {
  const p = performance.now();
  clockAt = Math.max(Date.now(), clockAt + p - clockPerf);
  clockPerf = p;
  return Math.floor(clockAt);
}

/** Without Web Locks, a partition whose newest event is this old belongs to a dead tab (10 min). */
const STALE_MS = 600_000;
/** How long a tab waits, once it holds a dead tab's lock, before reading that tab's partition
 * (ms; see `adoptSoon`). */
const ADOPT_SETTLE_MS = 1_000;

type Locks = {
  request(name: string, options: { ifAvailable?: boolean }, cb: (lock: unknown) => unknown): Promise<unknown>;
  query(): Promise<{ held?: { name: string }[]; pending?: { name: string }[] }>;
};

const locks = (): Locks | undefined => (globalThis.navigator as unknown as { locks?: Locks })?.locks;

/** Takes lock `name` (`ifAvailable`: only when free) and keeps it until the function it
 * resolves to is called; resolves to `undefined` when it did not get the lock. */
function hold(l: Locks, name: string, ifAvailable: boolean): Promise<(() => void) | undefined> {
  return new Promise((resolve) => {
    l.request(name, { ifAvailable }, (lock) => (lock ? new Promise((release) => resolve(release as () => void)) : resolve(undefined))).catch(
      () => resolve(undefined),
    );
  });
}

const uuid = (): string =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
        (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (+c / 4)))).toString(16),
      );

/** A `Retry-After` value as the core's browser build reads it: delta-seconds (an HTTP date
 * becomes the seconds until then, through the browser's own date parser; the core decides what
 * to do with it). */
function retryAfter(r: Response): string | undefined {
  const v = r.headers.get('Retry-After');
  const at = v === null || /^\s*\d+\s*$/.test(v) ? NaN : Date.parse(v);
  return isNaN(at) ? (v ?? undefined) : String(Math.max(0, Math.ceil((at - Date.now()) / 1000)));
}

/** `{url, path, referrer, search, title}` of the current page, as JSON, with `params`: the
 * query's parameters as the browser's URL parser decodes them (the engine takes the campaign's
 * UTM parameters from them and does not send them). */
const pageInfo = (referrer: string | null = document.referrer): string =>
  JSON.stringify({
    path: location.pathname,
    referrer,
    search: location.search,
    title: document.title,
    url: location.href,
    params: Object.fromEntries(new URLSearchParams(location.search)),
  });

function storageWorks(): boolean {
  try {
    return typeof localStorage !== 'undefined' && localStorage.length >= 0;
  } catch (_) {
    return false;
  }
}

export class Driver {
  readonly h: FootfallHost;
  private readonly url: string;
  /** `?writeKey=…` for the settings fetch (no Authorization header: no CORS preflight). */
  private readonly keyQuery: string;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private inFlight = 0;
  private commitQueued = false;
  private waiters: (() => void)[] = [];
  private off: (() => void)[] = [];
  private known = new Set<string>();
  private stopped = false;
  /** `track(name, properties)` calls not yet handed to the host (see `queue`). */
  private calls: string[] = [];
  /** Releases the Web Locks this tracker holds (its own partition's, adopted tabs'). */
  private unlock: (() => void)[] = [];

  /** `footfall.<writeKey>.`: the storage key prefix (see bindings/wasm/src/kv.rs). */
  private constructor(
    h: FootfallHost,
    private readonly prefix: string,
    writeKey: string,
  ) {
    this.h = h;
    this.url = h.get(Get.BATCH_URL, '', 0)!;
    this.keyQuery = `?writeKey=${encodeURIComponent(writeKey)}`;
  }

  /** Claims this tab's storage partition (and orphaned ones), starts the Rust host, listens. */
  static async start(options: Record<string, unknown>, optionsJson: string): Promise<Driver> {
    // A prerendered page (Speculation Rules) the user may never see: nothing is read, stored,
    // counted or sent until it is shown.
    if ((document as { prerendering?: boolean }).prerendering) {
      await new Promise((shown) => document.addEventListener('prerenderingchange', shown, { once: true }));
    }
    const writeKey = String(options.writeKey ?? '');
    const persist = options.persistence !== 'memory' && storageWorks();
    const prefix = `footfall.${writeKey}.`;
    const lockPrefix = `${prefix}tab.`; // a tab holds `<prefix>tab.<id>` while it lives
    const tab = uuid();
    const l = locks();
    const adopted: string[] = [];
    const orphans: string[] = [];
    const others: string[] = [];
    const unlock: (() => void)[] = [];
    const take = async (name: string, ifAvailable: boolean) => {
      const release = await hold(l!, name, ifAvailable);
      if (release) unlock.push(release);
      return release;
    };
    if (persist) {
      const parts = partitions(writeKey).split('\0');
      const at = now();
      if (l) await take(lockPrefix + tab, false);
      const held = l ? await l.query().then((s) => [...(s.held ?? []), ...(s.pending ?? [])].map((x) => x.name), () => null) : null;
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const other = parts[i];
        if (!l) {
          if (at - Number(parts[i + 1]) > STALE_MS) adopted.push(other);
        } else if (held && !held.includes(lockPrefix + other) && (await take(lockPrefix + other, true))) {
          orphans.push(other); // ours now; read a moment later (see `adoptSoon`)
        } else {
          others.push(other);
        }
      }
    }
    const env = {
      origin: location.origin,
      tab,
      adopted,
      page: JSON.parse(pageInfo()),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      gpc: (navigator as unknown as { globalPrivacyControl?: boolean }).globalPrivacyControl === true,
      dnt: navigator.doNotTrack === '1',
      storage: persist,
    };
    const h = FootfallHost.start(optionsJson, JSON.stringify(env), now());
    if (!h) throw new Error(problem());
    const d = new Driver(h, prefix, writeKey);
    d.unlock = unlock;
    d.known = new Set([tab, ...adopted, ...orphans]);
    orphans.forEach((t) => d.adoptSoon(t));
    if (l) others.forEach((t) => d.watch(t));
    d.listen(options.autocapture === true);
    d.after(d.h.on(On.WAKEUP, '', now()));
    return d;
  }

  /** Adopts `tab`'s partition when its Web Lock is released (that tab died, or a destroyed
   * tracker let it go). A lock granted after `destroy()` is passed on at once. */
  private watch(tab: string): void {
    const l = locks();
    if (!l || this.known.has(tab)) return;
    this.known.add(tab);
    l.request(`${this.prefix}tab.${tab}`, {}, () => {
      if (this.stopped) return;
      this.adoptSoon(tab);
      return new Promise<void>((release) => this.unlock.push(release));
    }).catch(() => {});
  }

  /** Adopts the partition of a dead tab whose lock this tab holds, `ADOPT_SETTLE_MS` from now.
   * The dead tab's last writes (the removal of what its page-hide beacon sent) can reach this
   * tab's copy of localStorage after its lock is released: browsers copy localStorage into every
   * renderer process and pass changes on asynchronously (a reload can even start the new page
   * in another process while the old one still runs its `pagehide`). Read too early, events it
   * has just sent would be sent again. */
  private adoptSoon(tab: string): void {
    setTimeout(() => {
      if (!this.stopped) this.after(this.h.on(On.ADOPT, tab, now()));
    }, ADOPT_SETTLE_MS);
  }

  /** Queues a checked `track(name, properties)` call (`[name, properties, timestamp]` JSON): the
   * host gets every call of a burst at once, in a microtask or before any other call, so the
   * page's synchronous cost is the argument check and a `JSON.stringify`. */
  queue(call: string): void {
    if (!this.calls.length) queueMicrotask(this.drain);
    this.calls.push(call);
  }

  /** Hands the queued calls to the host (every other call does this first, keeping the order). */
  drain = (): void => {
    if (!this.calls.length || this.stopped) return;
    const batch = this.calls.join('\n');
    this.calls = [];
    this.after(this.h.on(On.TRACK_BATCH, batch, now()));
  };

  /** Arms the timer for `delay` ms from now (-1: none), keeping an earlier one; queues a commit. */
  after(delay: number): void {
    if (!this.commitQueued) {
      this.commitQueued = true;
      queueMicrotask(() => {
        this.commitQueued = false;
        if (!this.stopped) this.h.on(On.COMMIT, '', 0);
      });
    }
    if (delay < 0 || this.stopped) return;
    const at = now() + delay;
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, delay);
  }

  /** Fetches the settings if due, sends every batch that is due, re-arms the timer, resolves
   * settled flushes. */
  pump(): void {
    if (this.stopped) return;
    this.drain();
    const t = now();
    const settings = this.h.get(Get.SETTINGS_URL, '', t);
    if (settings !== undefined) this.fetchSettings(settings);
    for (let body = this.h.next(t); body !== undefined; body = this.h.next(t)) {
      const batch = Number(this.h.get(Get.BATCH, '', t)); // negative: no keepalive
      this.send(Math.abs(batch), body, batch > 0);
    }
    this.after(this.h.on(On.WAKEUP, '', t));
    this.settle();
  }

  private send(id: number, body: Uint8Array, keepalive: boolean): void {
    this.inFlight++;
    fetch(this.url, {
      method: 'POST',
      body: body as BodyInit,
      keepalive,
      credentials: 'omit',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    })
      .then(
        (r) =>
          r.text().then(
            (t) => [r.status, retryAfter(r), t] as const,
            () => [r.status, retryAfter(r), null] as const,
          ),
        (e: unknown) => String((e as Error)?.message ?? e),
      )
      .then((answer) => {
        this.inFlight--;
        const t = now();
        // Reported even after `destroy()`, so that what was delivered leaves the stored queue
        // before the partition is let go (another tracker would send it again).
        const delay =
          typeof answer === 'string'
            ? this.h.on(On.FAILED, `${id}\n${answer}`, t)
            : this.h.on(On.DELIVERED, `${id}\n${answer[0]}\n${answer[1] ?? ''}\n${answer[2] ?? ''}`, t);
        if (this.stopped) return this.letGo();
        this.after(delay);
        this.pump();
      });
  }

  /** GETs the privacy settings (a CORS-simple request: the write key in the query, no custom
   * headers; `no-cache` has the HTTP cache revalidate with `If-None-Match` on its own) and hands
   * the answer to the host (status 0: no answer). */
  private fetchSettings(url: string): void {
    fetch(url + this.keyQuery, { credentials: 'omit', cache: 'no-cache' })
      .then(
        (r) => r.text().then((t) => `${r.status}\n${r.headers.get('ETag') ?? ''}\n${t}`, () => '0'),
        () => '0',
      )
      .then((answer) => {
        if (this.stopped) return;
        this.after(this.h.on(On.SETTINGS, answer, now()));
        this.pump();
      });
  }

  private settle(): void {
    if (this.waiters.length && this.inFlight === 0 && (this.stopped || this.h.get(Get.SETTLED, '', 0) !== undefined)) {
      this.waiters.splice(0).forEach((resolve) => resolve());
    }
  }

  /** Sends everything queued; resolves when delivered, or when delivery is failing. */
  flush(): Promise<void> {
    this.drain();
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.after(this.h.on(On.FLUSH, '', now()));
    this.pump();
    this.settle();
    return done;
  }

  private on(target: EventTarget, name: string, f: (e: Event) => void): void {
    target.addEventListener(name, f, true);
    this.off.push(() => target.removeEventListener(name, f, true));
  }

  private hide = (): void => {
    if (this.stopped) return;
    this.drain();
    this.h.on(On.HIDE, navigator.onLine !== false ? '1' : '0', now());
    this.pump(); // chunks the beacon queue refused go by fetch(keepalive)
  };

  private listen(autocapture: boolean): void {
    this.on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && this.hide());
    this.on(window, 'pagehide', this.hide);
    // Back from the back/forward cache: a page view (with `autoPageViews`); see `Host::shown`.
    this.on(window, 'pageshow', (e) => {
      if ((e as PageTransitionEvent).persisted && !this.stopped) this.after(this.h.on(On.SHOWN, '', now()));
    });
    this.on(window, 'online', () => {
      if (this.stopped) return;
      this.after(this.h.on(On.ONLINE, '', now()));
      this.pump();
    });
    this.on(window, 'storage', (e) => {
      // `<prefix>q.<tab>.<seq>`: another tab's queue (adopt it if that tab dies); anything else
      // (the shared state) may be another tab's identity or consent change.
      const key = (e as StorageEvent).key;
      const queue = `${this.prefix}q.`;
      this.drain();
      if (key?.startsWith(queue)) this.watch(key.slice(queue.length).split('.')[0]);
      else if (!this.stopped) this.after(this.h.on(On.STORAGE, key ?? '', now()));
    });
    // SPA navigations: history.pushState / replaceState and popstate.
    let referrer = location.href;
    const navigated = () => {
      if (location.href === referrer) return;
      const page = JSON.parse(pageInfo(referrer));
      referrer = location.href;
      this.drain();
      if (!this.stopped) this.after(this.h.on(On.NAVIGATE, JSON.stringify(page), now()));
    };
    const h = history as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const m of ['pushState', 'replaceState']) {
      const original = h[m];
      h[m] = function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        try {
          navigated();
        } catch (_) {
          // never break the page's navigation
        }
        return result;
      };
      this.off.push(() => (h[m] = original));
    }
    this.on(window, 'popstate', navigated);
    if (autocapture) {
      this.on(document, 'click', (e) => {
        const el = (e.target as Element | null)?.closest?.('[data-footfall-event]');
        if (!el) return;
        const properties: Record<string, string | undefined> = {
          element_id: el.id || undefined,
          element_type: el.tagName.toLowerCase(),
          element_text: (el.textContent || '').trim().slice(0, 200) || undefined,
        };
        for (const a of Array.from(el.attributes)) {
          if (a.name.startsWith('data-footfall-prop-')) properties[a.name.slice(19).replace(/-/g, '_')] = a.value;
        }
        const event = JSON.stringify({ type: 'track', event: el.getAttribute('data-footfall-event'), properties });
        try {
          this.drain();
          this.after(this.h.on(On.TRACK, event, now()));
        } catch (_) {
          // an invalid attribute (e.g. an empty event name) is counted, never thrown into the page
        }
      });
    }
  }

  /** Removes one super property. */
  unregister(name: string): void {
    this.drain();
    this.h.on(On.UNREGISTER, name, now());
  }

  /** One of the host's answers (`get` in bindings/wasm/src/web/mod.rs), after the queued calls. */
  get(what: number, arg = ''): string | undefined {
    this.drain();
    return this.h.get(what, arg, now());
  }

  /** Logout: a new anonymous id, no user id, a new session. */
  reset(): void {
    this.drain();
    this.h.on(On.RESET, '', now());
  }

  /** Stops listening and sending. Queued events stay stored: once the batches in flight are
   * answered, the partition's lock is let go and a tracker loaded later on this page (or
   * another tab) adopts them; else the next page does. */
  destroy(): void {
    if (this.stopped) return;
    this.drain();
    this.off.splice(0).forEach((f) => f());
    clearTimeout(this.timer);
    this.h.on(On.DESTROY, '', now());
    this.stopped = true;
    this.settle();
    this.letGo();
  }

  /** After `destroy()`: commits what the last answers changed and, with nothing in flight,
   * releases this tracker's Web Locks. */
  private letGo(): void {
    this.h.on(On.COMMIT, '', 0);
    if (!this.inFlight) this.unlock.splice(0).forEach((release) => release());
  }
}
