//! The browser host (wasm32 only): the `FootfallHost` class the JS side of the package drives.
//!
//! Arguments cross the boundary as JSON text built by `JSON.stringify` (one string is cheaper
//! than walking JS objects from Rust) and time as `Date.now()`. Bad arguments (wrong shape, or
//! what the core's `validate` step rejects) make the call return `NaN` (`undefined` for `start`)
//! and leave the message naming the argument in [`info`]; the JS side throws it as an
//! `Error`. (No `JsError`: without JS objects crossing the boundary, wasm-bindgen leaves its
//! object heap out of the glue.) Everything else is silent to the page and visible in `stats()`
//! and, with `debug: true`, in the console.
//! Methods that can make a batch due return the delay in ms until the JS side should call
//! `next` (`-1`: none); see `host.rs` for the split of work between JS and Rust.

mod env;
mod host;
mod page;

use footfall::consent::{ConsentDecision, PrivacySignals};
use footfall::json::read::{Slot, fields};
use footfall::json::{Map, Value, parse, write_str};
use footfall::store::StoreError;
use footfall::{ConsentMode, Core, Event, NullStore, Store};
use std::sync::Mutex;
use wasm_bindgen::prelude::*;

use crate::kv_store::{self, Cookie, KvStore};
use crate::options::{self, Persistence};
use host::Host;
use page::PageState;

/// `context.library.name` of browser messages.
pub const LIBRARY: &str = "footfall-js";

/// The message of the last refused call (see the module docs). A `Mutex` rather than a
/// `thread_local!` `RefCell`: the page's one thread never contends, and the thread-local access
/// code is left out of the bundle.
static PROBLEM: Mutex<Option<String>> = Mutex::new(None);

fn problem_slot() -> std::sync::MutexGuard<'static, Option<String>> {
    PROBLEM.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A refused call: keeps `detail` for [`info`] and returns the `NaN` that signals it.
fn arg_error(detail: &str) -> f64 {
    *problem_slot() = Some(detail.to_string());
    f64::NAN
}

/// `text` split at its first LF (all of it and `""` without one).
fn lines(text: &str) -> (&str, &str) {
    footfall::text::split_byte(text, b'\n').unwrap_or((text, ""))
}

/// The decimal digits `text` as a number (0 when it is not one).
fn number(text: &str) -> u64 {
    footfall::text::decimal(text).unwrap_or(0)
}

fn ms(now: f64) -> u64 {
    now as u64
}

/// The page environment the JS side reads at load: `{"origin", "tab", "adopted": [...],
/// "page": {...}, "userAgent", "locale", "gpc", "dnt", "storage"}`.
#[derive(Default)]
struct PageEnv {
    origin: Option<String>,
    tab: String,
    adopted: Vec<String>,
    page: Map,
    user_agent: Option<String>,
    locale: Option<String>,
    signals: PrivacySignals,
    storage: bool,
}

fn page_env(json: &str) -> PageEnv {
    let mut env = PageEnv::default();
    let s = &mut env.signals;
    // Written by `host.ts`: the core's field reader; what it cannot read keeps its default.
    let _ = fields(
        parse(json).unwrap_or_default(),
        "env",
        &[
            "origin",
            "tab",
            "adopted",
            "page",
            "userAgent",
            "locale",
            "gpc",
            "dnt",
            "storage",
        ],
        &mut [
            Slot::OptStr(&mut env.origin),
            Slot::Str(&mut env.tab),
            Slot::List(&mut env.adopted),
            Slot::Object(&mut env.page),
            Slot::OptStr(&mut env.user_agent),
            Slot::OptStr(&mut env.locale),
            Slot::Bool(&mut s.gpc),
            Slot::Bool(&mut s.dnt),
            Slot::Bool(&mut env.storage),
        ],
        Some(&mut Map::new()),
    );
    env
}

/// The answers that need no tracker (one export for both keeps the generated glue small):
///
/// | `what` | `arg` | answer |
/// |---|---|---|
/// | 0 `PARTITIONS` | write key | the partitions holding queued events for that write key, each as `tab` NUL `newest enqueuedAt`, joined by NUL (the JS side claims the Web Locks of the orphaned ones before `start`) |
/// | 1 `PROBLEM` | | why the last call that returned `NaN` (or `start` that returned `undefined`) was refused |
#[wasm_bindgen]
pub fn info(what: u8, arg: &str) -> Option<String> {
    if what == 1 {
        return problem_slot().take();
    }
    let mut out = String::new();
    // Walked by reference: no owning iterator over the pairs in the bundle.
    for (tab, newest) in &kv_store::partition_ages(&env::LocalStorage, &kv_store::prefix(arg)) {
        if !out.is_empty() {
            out.push('\0');
        }
        out.push_str(tab);
        out.push('\0');
        footfall::json::push_u64(&mut out, *newest);
    }
    Some(out)
}

/// A property value the JSON parser refused: makes the event `invalid` (see `track_batch`).
struct Unreadable(&'static str);

impl footfall::json::IntoJson for Unreadable {
    fn into_json(self) -> Result<Value, String> {
        Err(self.0.to_string())
    }
}

/// The browser host of one tracker.
#[wasm_bindgen]
pub struct FootfallHost {
    host: Host,
}

#[wasm_bindgen]
impl FootfallHost {
    /// Parses the options, restores the persisted queue and identity (this tab's partition
    /// plus the adopted ones), applies the privacy signals and sends the initial page view.
    /// `undefined` when the options are invalid (see [`info`]).
    pub fn start(options_json: &str, env_json: &str, now: f64) -> Option<FootfallHost> {
        let env = page_env(env_json);
        let options = match options::parse_options(options_json, env.origin.as_deref()) {
            Ok(o) => o,
            Err(e) => {
                arg_error(&e.0);
                return None;
            }
        };
        let (host_options, config) = (options.host, options.config);
        let now = ms(now);
        let opt_out = config.consent_mode() == ConsentMode::OptOut;

        let mut store_handle = None;
        let persist = host_options.persistence == Persistence::LocalStorage && env.storage;
        let store: Box<dyn Store> = if persist {
            let cookie = host_options
                .cookie_domain
                .as_deref()
                .map(|d| Box::new(env::DocumentCookie::new(&host_options.write_key, d)) as Box<dyn Cookie>);
            let prefix = kv_store::prefix(&host_options.write_key);
            let (store, handle) = KvStore::new(
                Box::new(env::LocalStorage),
                cookie,
                prefix,
                env.tab,
                env.adopted,
                opt_out,
            );
            store_handle = Some(handle);
            Box::new(store)
        } else {
            Box::new(NullStore)
        };

        // Custom PII patterns are matched by the browser's `RegExp` (no regex engine in the bundle).
        let (rng, matcher) = (
            Box::new(env::CryptoRng::new()),
            Box::new(env::RegExpMatcher::new()),
        );
        // (Validates the configuration: its errors are the options'.)
        let mut core = match Core::with_pattern_matcher(config, store, rng, matcher, now) {
            Ok(core) => core,
            Err(e) => {
                arg_error(&(String::from("options: ") + &e.message()));
                return None;
            }
        };
        core.set_library(LIBRARY, env!("CARGO_PKG_VERSION"));
        if host_options.persistence == Persistence::LocalStorage && !env.storage {
            // Cookies blocked, a sandboxed or partitioned frame: tracking goes on in memory.
            core.store_failed(&StoreError(
                "localStorage is unavailable: events and identity are kept in memory".into(),
            ));
        }
        if host_options.debug {
            core.set_debug_log(Box::new(|e| {
                env::log(&(String::from("[footfall] ") + &e.render()))
            }));
        }
        core.set_initial_privacy_signals(env.signals, now);
        // The privacy team's settings: at start (once the local consent lets anything through)
        // and every `delivery.settings_refresh`; `settings` / `settingsAnswer` below.
        core.set_settings_fetch(true);
        let page = PageState::new(env.page, env.user_agent, env.locale);
        let mut host = Host::new(core, store_handle, page, host_options.auto_page_views);
        if host_options.auto_page_views {
            let view = host.page.page_view();
            host.core.track(view, now);
        }
        Some(FootfallHost { host })
    }

    /// The UTF-8 body of the next batch to send now (`undefined`: none); `get(BATCH)` tells its
    /// id.
    pub fn next(&mut self, now: f64) -> Option<Vec<u8>> {
        self.host.next(ms(now))
    }

    /// A call, page or timer signal: events, consent, super properties, delivery outcomes and
    /// page events all come through this one entry point, which keeps the generated glue and
    /// the export shims small (each exported method costs its own glue and shim in the bundle):
    ///
    /// | `signal` | `arg` | meaning |
    /// |---|---|---|
    /// | 0 `WAKEUP` | | nothing happened; just the next wakeup |
    /// | 1 `FLUSH` | | `flush()`: everything queued is due now |
    /// | 2 `HIDE` | `"1"` online / `"0"` offline | the page is hidden or unloaded |
    /// | 3 `ONLINE` | | the browser came back online |
    /// | 4 `NAVIGATE` | page JSON | the URL may have changed (`{url, path, referrer, search, title}`) |
    /// | 5 `STORAGE` | the key (`""`: cleared) | another tab wrote `localStorage` |
    /// | 6 `ADOPT` | tab id | this tab obtained the Web Lock of that tab's partition |
    /// | 7 `COMMIT` | | write pending store changes |
    /// | 8 `RESET` | | logout: new anonymous id, no user id, new session |
    /// | 9 `DESTROY` | | stop sending; what is queued stays persisted |
    /// | 10 `SETTINGS` | `status` LF `ETag` LF body | the settings fetch got an answer (status `0`: none) |
    /// | 11 `UNREGISTER` | the key | remove that super property |
    /// | 12 `REGISTER` | properties JSON | add super properties (`NaN` when refused, see [`info`]) |
    /// | 13 `GRANT`, 14 `DENY`, 15 `REVOKE` | categories JSON array (`""`: every category) | consent (`NaN` when refused) |
    /// | 16 `FAILED` | batch id LF detail | that batch got no answer |
    /// | 17 `DELIVERED` | batch id LF status LF `Retry-After` LF body (empty: none) | that batch got an HTTP answer |
    /// | 18 `TYPED` | `[kind, [arguments], properties \| null]` (JSON) | a typed product event (`NaN` when refused) |
    /// | 19 `TRACK` | event JSON | any event (`NaN` when refused) |
    /// | 20 `TRACK_BATCH` | `[name, properties \| null, timestamp]` (JSON) per call, joined by LF | queued `track` calls |
    /// | 21 `SHOWN` | | the page came back from the back/forward cache |
    ///
    /// Returns when the JS side should call `next` (ms from now, `-1`: not until something
    /// happens).
    pub fn on(&mut self, signal: u8, arg: &str, now: f64) -> f64 {
        match signal {
            12 => return self.register(arg),
            13..=15 => return self.consent(signal - 13, arg, now),
            18 => return self.typed(arg, now),
            19 => return self.track(arg, now),
            20 => return self.track_batch(arg, now),
            _ => {}
        }
        let now = ms(now);
        let h = &mut self.host;
        match signal {
            1 => h.core.flush(),
            2 => h.hide(arg == "1", now),
            3 => return h.online(now),
            4 => return h.navigate(arg, now),
            5 => {
                if arg.is_empty() || h.store.as_ref().is_some_and(|s| s.state_key() == arg) {
                    return h.sync(now);
                }
            }
            6 => return h.adopt(arg, now),
            7 => h.commit(),
            8 => h.core.reset(now),
            9 => h.stop(now),
            10 => h.settings_answer(arg, now),
            11 => h.core.unregister(arg),
            21 => return h.shown(now),
            16 | 17 => {
                let (id, rest) = lines(arg);
                if signal == 16 {
                    return h.failed(number(id), rest.to_string(), now);
                }
                let (status, rest) = lines(rest);
                let (retry_after, body) = lines(rest);
                let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
                return h.delivered(
                    number(id),
                    number(status) as u16,
                    given(retry_after),
                    given(body),
                    now,
                );
            }
            _ => {}
        }
        h.wakeup(now)
    }

    /// A value for the JS side (one entry point for every query keeps the generated glue
    /// small); `undefined` where the answer is "none":
    ///
    /// | `what` | `arg` | answer |
    /// |---|---|---|
    /// | 0 `URL` | | `{endpoint}/v1/batch`: where the JS side POSTs the bodies `next` returns |
    /// | 1 `CONSENT` | | `{category: "granted" \| "denied" \| "pending"}` for every configured category (JSON) |
    /// | 2 `STATS` | | the core's counters (JSON) |
    /// | 3 `ANONYMOUS_ID` | | the anonymous id |
    /// | 4 `USER_ID` | | the user id |
    /// | 5 `SESSION_ID` | | the session id at `now` |
    /// | 6 `CHECK_NAME` | event name | the problem with that event name (the core's validation), so the caller can throw at once |
    /// | 7 `SETTINGS_URL` | | `{endpoint}/v1/settings` when a settings fetch is due now: the JS side GETs it with `?writeKey=` (a CORS-simple request) and reports the answer with the `SETTINGS` signal of `on`. Ask before `next` (on a first start, batches wait for the answer) |
    /// | 8 `SETTLED` | | `""` when a pending `flush()` may resolve |
    /// | 9 `BATCH` | | the id of the batch `next` returned last, negated when it must not use `fetch(..., {keepalive: true})` (over 64 KB) |
    pub fn get(&mut self, what: u8, arg: &str, now: f64) -> Option<String> {
        match what {
            7 if !self.host.stopped() => return self.host.core.poll_settings(ms(now)).map(|r| r.url),
            8 => return self.host.settled().then(String::new),
            9 => {
                let mut id = String::new();
                if !self.host.last_keepalive {
                    id.push('-');
                }
                footfall::json::push_u64(&mut id, self.host.last_batch);
                return Some(id);
            }
            _ => {}
        }
        if what == 2 {
            return Some(self.host.core.stats_json(0));
        }
        let core = &self.host.core;
        match what {
            0 => Some(self.host.url().to_string()),
            1 => Some(self.consent_state()),
            3 => Some(core.anonymous_id().to_string()),
            4 => core.user_id().map(str::to_string),
            5 => core.session_id(ms(now)).map(str::to_string),
            6 => footfall::pipeline::validate::validate(&Event::track(arg))
                .err()
                .map(|r| r.detail),
            _ => None,
        }
    }
}

impl FootfallHost {
    /// Signal 19: any event, as the core's event JSON (`{"type":"track","event":…,
    /// "properties":…}`). Returns the next wakeup (see the module docs).
    fn track(&mut self, event_json: &str, now: f64) -> f64 {
        let event = match parse(event_json) {
            Ok(value) => match Event::from_json(value) {
                Ok(event) => event,
                Err(e) => return arg_error(&e),
            },
            // Nested deeper than the JSON limit (all the parser can refuse in what the JS side's
            // `JSON.stringify` wrote): dropped as `invalid`, as in `track_batch`, not thrown.
            Err(e) => return self.unreadable(e.what, ms(now)),
        };
        if let Err(r) = footfall::pipeline::validate::validate(&event) {
            return arg_error(&r.detail);
        }
        self.host.track(event, ms(now))
    }

    /// Signal 20: the common case, `track(name, properties)` without options, batched: the calls
    /// made since the last batch, each the JSON array `[name, properties | null, timestamp]`
    /// (their names already checked), joined by LF (`JSON.stringify` never writes one). The JS
    /// side collects them and hands them over in a microtask (or before any other call), so a
    /// burst of calls costs one crossing. Each call is parsed on its own: one the parser refuses
    /// (nested deeper than the JSON limit) is dropped as `invalid`, the rest of the burst goes on.
    fn track_batch(&mut self, calls: &str, now: f64) -> f64 {
        let now = ms(now);
        for call in footfall::text::pieces(calls, b'\n') {
            let event = match parse(call) {
                Ok(Value::Array(mut parts)) => {
                    let mut event = Event::track(parts.first().and_then(Value::as_str).unwrap_or(""));
                    if let Some(Value::Object(props)) = parts.get_mut(1) {
                        event.properties = std::mem::take(props);
                    }
                    event.timestamp = parts.get(2).and_then(Value::as_u64);
                    event
                }
                Ok(_) => continue, // (the JS side writes arrays only)
                Err(e) => {
                    self.unreadable(e.what, now);
                    continue;
                }
            };
            self.host.core.track(event, now);
        }
        self.host.wakeup(now)
    }

    /// A call whose JSON the parser refused: dropped as `invalid` by the core's validation, with
    /// the parser's reason (counted, in the debug log).
    fn unreadable(&mut self, what: &'static str, now: u64) -> f64 {
        self.host
            .core
            .track(Event::track("").property("properties", Unreadable(what)), now);
        self.host.wakeup(now)
    }

    /// Signal 18: a typed product event built by the core (`click`, `purchase`, ... from its
    /// catalogue, [`Event::typed`]): `call` is the JSON array `[kind, [positional arguments],
    /// extra properties | null]`. `page_view`'s URL and referrer default to the page's.
    fn typed(&mut self, call: &str, now: f64) -> f64 {
        let Ok(Value::Array(mut call)) = parse(call) else {
            return arg_error("arguments must be a JSON array");
        };
        let mut args = match call.get_mut(1).map(std::mem::take) {
            Some(Value::Array(a)) => a,
            _ => return arg_error("arguments must be a JSON array"),
        };
        let kind = call.first().and_then(Value::as_str).unwrap_or("");
        if kind == "page_view" {
            while args.len() < 2 {
                args.push(Value::Null);
            }
            let info = &self.host.page.info;
            if args[0].is_null() {
                args[0] = info.get("url").cloned().unwrap_or_else(|| Value::from(""));
            }
            if args[1].is_null() {
                args[1] = info.get("referrer").cloned().unwrap_or_default();
            }
            if args[1].as_str() == Some("") {
                args[1] = Value::Null;
            }
        }
        let Some(mut event) = Event::typed(kind, args) else {
            return arg_error(&footfall::json::cat(&["unknown typed event ", kind]));
        };
        match call.get(2) {
            None | Some(Value::Null) => {}
            Some(Value::Object(extra)) => page::add_missing(&mut event.properties, extra),
            _ => return arg_error("properties must be an object"),
        }
        self.host.track(event, ms(now))
    }

    /// Signals 13–15: `grant` (0), `deny` (1) or `revoke` (2) the JSON array of categories
    /// (`""`: every category).
    fn consent(&mut self, action: u8, categories_json: &str, now: f64) -> f64 {
        let items = match (!categories_json.is_empty()).then(|| parse(categories_json)) {
            None => None,
            Some(Ok(Value::Array(items))) => Some(items),
            Some(_) => return arg_error("categories must be an array of category names"),
        };
        // The names borrowed from the parsed array (its strings; anything else is skipped), or
        // every category: the core's known ones for grant and deny (as `grant_all`/`deny_all`),
        // the configured ones for revoke.
        let core = &mut self.host.core;
        let all: Vec<String>;
        let mut names: Vec<&str> = Vec::new();
        match &items {
            Some(items) => {
                for item in items {
                    if let Some(name) = item.as_str() {
                        names.push(name);
                    }
                }
            }
            None => {
                all = if action == 2 {
                    core.config().consent.categories.clone()
                } else {
                    core.known_categories()
                };
                names = footfall::text::refs(&all);
            }
        }
        let now_ms = ms(now);
        match action {
            0 => core.grant(&names, now_ms),
            1 => core.deny(&names, now_ms),
            _ => core.revoke(&names, now_ms),
        }
        let core = &self.host.core;
        let granted = core
            .config()
            .consent
            .categories
            .iter()
            .any(|c| c != "necessary" && core.consent_decision(c) == ConsentDecision::Granted);
        if action == 0 && granted {
            self.host.open_store();
        }
        self.host.wakeup(now_ms)
    }

    /// Signal 12: super properties (a JSON object) added to every event. Returns `-1` (no
    /// wakeup), or `NaN` when refused (see [`info`]).
    fn register(&mut self, properties_json: &str) -> f64 {
        let Ok(Value::Object(props)) = parse(properties_json) else {
            return arg_error("properties must be an object");
        };
        self.host.core.register(props);
        -1.0
    }

    /// `{category: "granted" | "denied" | "pending"}` for every configured category, as JSON.
    fn consent_state(&self) -> String {
        let core = &self.host.core;
        let mut out = String::from("{");
        for (i, c) in core.config().consent.categories.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, c);
            out.push(':');
            write_str(&mut out, core.consent_decision(c).as_str());
        }
        out.push('}');
        out
    }
}
