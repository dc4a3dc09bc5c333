// Footfall browser SDK: a typed wrapper over the wasm-bindgen host in bindings/wasm. The Rust
// core does everything (validation, tracking plan, consent, anonymization, sessions, batching,
// retry) and the Rust host decides what to send when; this file only checks argument types,
// turns arguments into the core's event JSON, and is a no-op tracker where there is no browser
// (SSR). host.ts does the host's asynchronous I/O (timer, fetch, listeners, Web Locks).
import { initSync } from '../pkg/footfall.js';
import { Driver, Get, On, now, problem } from './host.js';
import type { ConsentDecision, EventOptions, FootfallOptions, Properties, Stats } from './types.js';

export type * from './types.js';

/** Set by scripts/build.sh: true in the builds that Node loads (the `node` and `require` export
 * conditions: servers, Jest, Vitest), false in the browser builds, which leave out what only
 * Node needs. */
declare const NODE: boolean;

/** A DOM emulated in Node for unit tests (jsdom under Jest or Vitest, happy-dom): no network to
 * send to and no .wasm to fetch, so `load` gives the no-op tracker, as on the server. */
function emulatedDom(): boolean {
  return /jsdom|HappyDOM/.test(navigator.userAgent);
}

let defaultWasmUrl: string | URL | undefined;
let wasmReady: Promise<unknown> | undefined;

/** Where the `<script>` build finds the .wasm (next to itself); the ESM build uses import.meta.url. */
export function setDefaultWasmUrl(url: string | URL): void {
  defaultWasmUrl = url;
}

/** Fetches and compiles the .wasm (asynchronously: large modules may not be compiled on the main
 * thread synchronously), then instantiates it with the glue's imports. Through `initSync`
 * rather than the glue's async `init`, whose fallbacks (`Response`/`Request`/bytes, MIME-type
 * checks, deprecation warnings) the bundle would otherwise carry. A failure (network, HTTP
 * status, a Content-Security-Policy without 'wasm-unsafe-eval') rejects with an `Error` that
 * says where the engine came from and why; the next `load` tries again. */
function loadWasm(url?: string | URL): Promise<unknown> {
  const src = url ?? defaultWasmUrl ?? new URL('./footfall_bg.wasm', import.meta.url);
  wasmReady ??= fetch(src)
    .then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.arrayBuffer();
    })
    .then((bytes) => WebAssembly.compile(bytes))
    .then((module) => initSync({ module }))
    .catch((e) => {
      wasmReady = undefined;
      throw new Error(`Footfall.load: cannot load the engine from ${src}: ${(e as Error).message}`);
    });
  return wasmReady;
}

/** The trackers loaded on this page, by write key: `[options JSON, tracker, the tracker once
 * loaded]`. On `globalThis` (under a registered symbol) so that two copies of the package on
 * one page (the `<script>` build and a bundle, a module reloaded by HMR) share them too. */
type Loaded = [string, Promise<Footfall>, Footfall?];
const trackers: Map<string, Loaded> = ((globalThis as Record<symbol, unknown>)[Symbol.for('footfall')] ??= new Map()) as Map<
  string,
  Loaded
>;

function argError(method: string, arg: string, problem: string): Error {
  return new Error(`Footfall.${method}: \`${arg}\` ${problem}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkString(method: string, arg: string, v: unknown, optional = false): void {
  if (optional && v == null) return;
  if (typeof v !== 'string') throw argError(method, arg, `must be a string, got ${v === null ? 'null' : typeof v}`);
}

function checkObject(method: string, arg: string, v: unknown): void {
  if (v != null && !isObject(v)) throw argError(method, arg, 'must be a plain object');
}

function checkCategories(method: string, v: unknown): void {
  if (v == null) return;
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'string')) {
    throw argError(method, 'categories', 'must be an array of category names');
  }
}

function eventOptions(method: string, options: EventOptions | undefined): Record<string, unknown> {
  if (options == null) return {};
  if (!isObject(options)) throw argError(method, 'options', 'must be a plain object');
  const out: Record<string, unknown> = { ...options };
  const ts = options.timestamp;
  if (ts instanceof Date) out.timestamp = ts.getTime();
  else if (ts != null && (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0)) {
    throw argError(method, 'options.timestamp', 'must be a Date or milliseconds since the epoch');
  }
  return out;
}

function stringify(method: string, arg: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    throw argError(method, arg, `must be JSON-serializable (${(e as Error).message})`);
  }
}

/** Consent controls: `ff.consent.grant(['analytics'])`, `deny`, `revoke`, `get`. */
export interface Consent {
  /** Grants the categories (all known ones when omitted); events waiting for them are sent. */
  grant(categories?: string[]): void;
  /** Denies the categories (all but `necessary` when omitted); their queued events are purged. */
  deny(categories?: string[]): void;
  /** Withdraws earlier consent; like `deny` (and may rotate the anonymous id, per config). */
  revoke(categories?: string[]): void;
  /** The decision for every configured category. */
  get(): Record<string, ConsentDecision>;
}

/** A Footfall tracker. Create one with `await Footfall.load({ writeKey, endpoint, ... })`. */
export class Footfall {
  private readonly d: Driver | null;
  readonly consent: Consent;

  private constructor(
    driver: Driver | null,
    private readonly k = '',
  ) {
    this.d = driver;
    const call = (action: string, signal: number, categories?: string[]) => {
      checkCategories(`consent.${action}`, categories);
      this.run(`consent.${action}`, (h, now) =>
        h.on(signal, categories == null ? '' : JSON.stringify(categories), now),
      );
    };
    this.consent = {
      grant: (c) => call('grant', On.GRANT, c),
      deny: (c) => call('deny', On.GRANT + 1, c),
      revoke: (c) => call('revoke', On.GRANT + 2, c),
      get: () => (this.d ? JSON.parse(this.d.get(Get.CONSENT)!) : {}),
    };
  }

  /**
   * Loads the engine and starts tracking. Rejects with an `Error` naming the option when the
   * options are invalid, or saying why the engine (`footfall_bg.wasm`) could not be loaded
   * (network, HTTP status, Content-Security-Policy). Without a browser (server-side rendering,
   * and unit tests in jsdom or happy-dom) it resolves to a tracker that does nothing. One
   * tracker per write key and page: a second `load` with the same
   * `writeKey` (React StrictMode, two script tags, HMR), even while the first is loading,
   * resolves to the same tracker, whose options stay (a warning with `debug: true` when they
   * differ); after `destroy()`, `load` starts a new one. A prerendered page resolves when it
   * is shown.
   */
  static async load(options: FootfallOptions): Promise<Footfall> {
    if (!isObject(options)) throw argError('load', 'options', 'must be an object');
    if (typeof window === 'undefined' || typeof document === 'undefined' || (NODE && emulatedDom())) {
      return new Footfall(null);
    }
    const json = stringify('load', 'options', options);
    const key = String(options.writeKey);
    let entry = trackers.get(key);
    if (!entry) trackers.set(key, (entry = [json, Footfall.start(options, key)]));
    else if (entry[0] !== json && options.debug) console.warn(`[footfall] load: ${key} is loaded already; options ignored`);
    return entry[1];
  }

  /** Starts the tracker for write key `key` (see `load`). */
  private static async start(options: FootfallOptions, key: string): Promise<Footfall> {
    const { wasmUrl, ...rest } = options;
    try {
      await loadWasm(wasmUrl);
      let d: Driver;
      try {
        d = await Driver.start(rest, stringify('load', 'options', rest));
      } catch (e) {
        throw new Error(`Footfall.load: ${(e as Error).message}`);
      }
      return (trackers.get(key)![2] = new Footfall(d, key));
    } catch (e) {
      trackers.delete(key);
      throw e;
    }
  }

  /** Whether this tracker records anything (false on the server). */
  get active(): boolean {
    return this.d !== null;
  }

  /** Calls the host; bad arguments it reports (`NaN`, the reason in `problem()`) become an
   * `Error` naming the method. */
  private run(method: string, call: (h: Driver['h'], now: number) => number): void {
    if (!this.d) return;
    this.d.drain();
    const delay = call(this.d.h, now());
    if (Number.isNaN(delay)) throw new Error(`Footfall.${method}: ${problem()}`);
    this.d.after(delay);
  }

  /** Sends a `method` call (`track`, `page`, ...: the method is the message type). */
  private send(method: string, fields: Record<string, unknown>, options: EventOptions | undefined): void {
    const arg = 'traits' in fields ? 'traits' : 'properties';
    const json = stringify(method, arg, { type: method, ...fields, ...eventOptions(method, options) });
    this.run(method, (h, now) => h.on(On.TRACK, json, now));
  }

  private typed(method: string, kind: string, args: unknown[], properties?: Properties): void {
    checkObject(method, 'properties', properties);
    const json = stringify(method, 'arguments', args);
    const props = properties == null ? 'null' : stringify(method, 'properties', properties);
    this.run(method, (h, now) => h.on(On.TYPED, `[${JSON.stringify(kind)},${json},${props}]`, now));
  }

  /** Records that the user did `event`. */
  track(event: string, properties?: Properties, options?: EventOptions): void {
    checkString('track', 'event', event);
    checkObject('track', 'properties', properties);
    if (options == null) {
      // The common case: the core checks the name now (bad arguments throw), the call itself
      // reaches the core with the rest of the burst (Driver.queue).
      const call = stringify('track', 'properties', [event, properties ?? null, this.d && now()]);
      if (!this.d) return;
      const bad = this.d.h.get(Get.CHECK_NAME, event, 0);
      if (bad !== undefined) throw new Error(`Footfall.track: ${bad}`);
      this.d.queue(call);
      return;
    }
    this.send('track', { event, properties }, options);
  }

  /** A page view (url, path, referrer, title and search are filled in from the page). */
  page(name?: string, properties?: Properties, options?: EventOptions): void {
    checkString('page', 'name', name, true);
    checkObject('page', 'properties', properties);
    this.send('page', { name: name ?? undefined, properties }, options);
  }

  /** Ties this browser's anonymous id to `userId` and records traits. */
  identify(userId: string, traits?: Properties, options?: EventOptions): void {
    checkString('identify', 'userId', userId);
    checkObject('identify', 'traits', traits);
    this.send('identify', { userId, traits }, options);
  }

  /** The user belongs to `groupId` (an account, a company). */
  group(groupId: string, traits?: Properties, options?: EventOptions): void {
    checkString('group', 'groupId', groupId);
    checkObject('group', 'traits', traits);
    this.send('group', { groupId, traits }, options);
  }

  /** `previousId` (default: the current user or anonymous id) is now known as `userId`. */
  alias(userId: string, previousId?: string, options?: EventOptions): void {
    checkString('alias', 'userId', userId);
    checkString('alias', 'previousId', previousId, true);
    this.send('alias', { userId, previousId: previousId ?? undefined }, options);
  }

  /** Logout: a new anonymous id, no user id, a new session. */
  reset(): void {
    this.d?.reset();
  }

  /** Super properties, added to every later event (the event's own properties win). */
  register(properties: Properties): void {
    if (!isObject(properties)) throw argError('register', 'properties', 'must be a plain object');
    const json = stringify('register', 'properties', properties);
    this.run('register', (h, now) => h.on(On.REGISTER, json, now));
  }

  /** Removes one super property. */
  unregister(name: string): void {
    checkString('unregister', 'name', name);
    this.d?.unregister(name);
  }

  /** Sends everything queued now. Resolves when done, or when delivery is failing (the events
   * stay queued and are retried); never rejects. */
  flush(): Promise<void> {
    return this.d ? this.d.flush() : Promise.resolve();
  }

  /** Counters: enqueued, sent, retried, dropped by reason, queued, ... */
  stats(): Stats | null {
    return this.d ? JSON.parse(this.d.get(Get.STATS)!) : null;
  }

  /** The anonymous id (a UUID), or null on the server. */
  anonymousId(): string | null {
    return this.d?.get(Get.ANONYMOUS_ID) ?? null;
  }

  /** The identified user id, if any. */
  userId(): string | null {
    return this.d?.get(Get.USER_ID) ?? null;
  }

  /** The current session id, if a session is live. */
  sessionId(): string | null {
    return this.d?.get(Get.SESSION_ID) ?? null;
  }

  /** Stops listening and sending; queued events stay stored for the next page. */
  destroy(): void {
    if (trackers.get(this.k)?.[2] === this) trackers.delete(this.k);
    this.d?.destroy();
  }

  // ----- typed product events (names and properties fixed by the core) -----

  /** `page_view {url, referrer, page_name}`; url and referrer default to the page's. */
  trackPageView(page?: { url?: string; referrer?: string; pageName?: string }, properties?: Properties): void {
    checkObject('trackPageView', 'page', page);
    checkString('trackPageView', 'page.url', page?.url, true);
    checkString('trackPageView', 'page.referrer', page?.referrer, true);
    checkString('trackPageView', 'page.pageName', page?.pageName, true);
    this.typed('trackPageView', 'page_view', [page?.url, page?.referrer, page?.pageName], properties);
  }

  /** `click {element_id, element_type, element_text}`. */
  trackClick(click: { elementId: string; elementType: string; elementText?: string }, properties?: Properties): void {
    if (!isObject(click)) throw argError('trackClick', 'click', 'must be an object');
    checkString('trackClick', 'click.elementId', click.elementId);
    checkString('trackClick', 'click.elementType', click.elementType);
    checkString('trackClick', 'click.elementText', click.elementText, true);
    this.typed('trackClick', 'click', [click.elementId, click.elementType, click.elementText], properties);
  }

  /** `submit {form_name}`. */
  trackSubmit(formName: string, properties?: Properties): void {
    checkString('trackSubmit', 'formName', formName);
    this.typed('trackSubmit', 'submit', [formName], properties);
  }

  /** `sign_up`. */
  trackSignUp(properties?: Properties): void {
    this.typed('trackSignUp', 'sign_up', [], properties);
  }

  /** `sign_in`. */
  trackSignIn(properties?: Properties): void {
    this.typed('trackSignIn', 'sign_in', [], properties);
  }

  /** `sign_out`. */
  trackSignOut(properties?: Properties): void {
    this.typed('trackSignOut', 'sign_out', [], properties);
  }

  /** `feature_used {feature_name, feature_version}`. */
  trackFeatureUsed(featureName: string, featureVersion?: string, properties?: Properties): void {
    checkString('trackFeatureUsed', 'featureName', featureName);
    checkString('trackFeatureUsed', 'featureVersion', featureVersion, true);
    this.typed('trackFeatureUsed', 'feature_used', [featureName, featureVersion], properties);
  }

  /** `purchase {purchase_id, amount, currency, items}`. */
  trackPurchase(
    purchase: { purchaseId: string; amount: number; currency: string; items?: unknown[] },
    properties?: Properties,
  ): void {
    if (!isObject(purchase)) throw argError('trackPurchase', 'purchase', 'must be an object');
    checkString('trackPurchase', 'purchase.purchaseId', purchase.purchaseId);
    if (typeof purchase.amount !== 'number' || !Number.isFinite(purchase.amount)) {
      throw argError('trackPurchase', 'purchase.amount', 'must be a finite number');
    }
    checkString('trackPurchase', 'purchase.currency', purchase.currency);
    if (purchase.items != null && !Array.isArray(purchase.items)) {
      throw argError('trackPurchase', 'purchase.items', 'must be an array');
    }
    const args = [purchase.purchaseId, purchase.amount, purchase.currency, purchase.items ?? []];
    this.typed('trackPurchase', 'purchase', args, properties);
  }

  /** `error {error_type, error_message, stack_trace}` from an `Error` or from strings. */
  trackError(error: Error | string, message?: string, properties?: Properties): void {
    if (error instanceof Error) {
      this.typed('trackError', 'error', [error.name, error.message, error.stack], properties);
      return;
    }
    checkString('trackError', 'error', error);
    checkString('trackError', 'message', message);
    this.typed('trackError', 'error', [error, message], properties);
  }
}

export default Footfall;
