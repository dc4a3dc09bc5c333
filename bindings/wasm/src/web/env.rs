//! The browser environment the host reads and writes: `localStorage` (as a [`Kv`]), the
//! identity cookie, `crypto.getRandomValues` (as the core's [`Rng`]), the clock and the privacy
//! signals. Everything tolerates its API being missing or throwing (storage disabled, sandboxed
//! iframes): it degrades to "unavailable", never to an exception in the page.

use footfall::Rng;
use footfall::consent::PrivacySignals;
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::kv_store::{Cookie, Kv};

// Every import from glue.js lives in this one block (one import object in the generated glue).
#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = fillRandom)]
    fn fill_random(buf: &mut [u8]);
    #[wasm_bindgen(js_name = holdLock)]
    pub fn hold_lock(name: &str, if_available: bool) -> js_sys::Promise;
    #[wasm_bindgen(js_name = lockNames)]
    pub fn lock_names() -> js_sys::Promise;
    #[wasm_bindgen(js_name = watchHistory)]
    pub fn watch_history(on_navigate: &js_sys::Function) -> js_sys::Function;
    #[wasm_bindgen(js_name = clickTarget)]
    pub fn click_target(event: &web_sys::Event) -> JsValue;
    #[wasm_bindgen(js_name = pageInfo)]
    pub fn page_info(referrer: Option<String>) -> String;
    pub fn post(url: &str, body: &str, keepalive: bool) -> js_sys::Promise;
}

/// Milliseconds since the epoch (`Date.now()`).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// `crypto.getRandomValues`, drawn 1 KB at a time: one call into the browser costs about as
/// much as the rest of a `track()`, and every event needs 16 random bytes for its `messageId`.
pub struct CryptoRng {
    pool: [u8; 1024],
    used: usize,
}

impl CryptoRng {
    pub fn new() -> CryptoRng {
        CryptoRng {
            pool: [0; 1024],
            used: 1024,
        }
    }
}

impl Rng for CryptoRng {
    fn fill(&mut self, buf: &mut [u8]) {
        if buf.len() > self.pool.len() {
            return fill_random(buf);
        }
        if self.used + buf.len() > self.pool.len() {
            fill_random(&mut self.pool);
            self.used = 0;
        }
        buf.copy_from_slice(&self.pool[self.used..self.used + buf.len()]);
        // Never hand out the same bytes twice.
        self.pool[self.used..self.used + buf.len()].fill(0);
        self.used += buf.len();
    }
}

/// `window.localStorage`, if usable.
pub struct LocalStorage(web_sys::Storage);

impl LocalStorage {
    pub fn open() -> Option<LocalStorage> {
        window()?.local_storage().ok().flatten().map(LocalStorage)
    }
}

impl Kv for LocalStorage {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get_item(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        self.0.set_item(key, value).map_err(|e| {
            e.dyn_ref::<js_sys::Error>().map_or_else(
                || "localStorage.setItem failed".into(),
                |e| String::from(e.message()),
            )
        })
    }
    fn remove(&self, key: &str) {
        let _ = self.0.remove_item(key);
    }
    fn keys(&self) -> Vec<String> {
        let n = self.0.length().unwrap_or(0);
        (0..n).filter_map(|i| self.0.key(i).ok().flatten()).collect()
    }
}

/// The first-party identity cookie `footfall_<writeKey>` on `domain` (one year, `SameSite=Lax`,
/// `Secure` on https).
pub struct DocumentCookie {
    doc: web_sys::HtmlDocument,
    name: String,
    attributes: String,
}

impl DocumentCookie {
    pub fn new(write_key: &str, domain: &str) -> Option<DocumentCookie> {
        let doc = window()?.document()?.dyn_into::<web_sys::HtmlDocument>().ok()?;
        let secure = window()?.location().protocol().is_ok_and(|p| p == "https:");
        let name = String::from("footfall_") + &String::from(js_sys::encode_uri_component(write_key));
        let mut attributes = String::from("; Path=/; Max-Age=31536000; SameSite=Lax; Domain=");
        attributes.push_str(domain);
        if secure {
            attributes.push_str("; Secure");
        }
        Some(DocumentCookie {
            doc,
            name,
            attributes,
        })
    }
}

impl Cookie for DocumentCookie {
    fn get(&self) -> Option<String> {
        let all = self.doc.cookie().ok()?;
        let value = all
            .split("; ")
            .find_map(|c| c.strip_prefix(self.name.as_str())?.strip_prefix('='))?;
        js_sys::decode_uri_component(value).ok().map(String::from)
    }
    fn set(&self, value: &str) {
        let mut c = self.name.clone();
        c.push('=');
        c.push_str(&String::from(js_sys::encode_uri_component(value)));
        c.push_str(&self.attributes);
        let _ = self.doc.set_cookie(&c);
    }
}

fn navigator() -> Option<web_sys::Navigator> {
    window().map(|w| w.navigator())
}

/// `navigator.globalPrivacyControl` and `navigator.doNotTrack == "1"`.
pub fn privacy_signals() -> PrivacySignals {
    let Some(nav) = navigator() else {
        return PrivacySignals::default();
    };
    let gpc = Reflect::get(&nav, &"globalPrivacyControl".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let dnt = Reflect::get(&nav, &"doNotTrack".into())
        .ok()
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "1");
    PrivacySignals { gpc, dnt }
}

/// `navigator.onLine` (true when unknown).
pub fn online() -> bool {
    navigator().is_none_or(|n| n.on_line())
}

/// `navigator.sendBeacon(url, body)`; `false` when it refused or is missing.
pub fn send_beacon(url: &str, body: &str) -> bool {
    navigator()
        .and_then(|n| n.send_beacon_with_opt_str(url, Some(body)).ok())
        .unwrap_or(false)
}

/// The page's origin (`location.origin`), the default collector endpoint.
pub fn origin() -> Option<String> {
    window()?.location().origin().ok()
}

/// `navigator.userAgent` and `navigator.language`.
pub fn user_agent_and_locale() -> (Option<String>, Option<String>) {
    match navigator() {
        Some(n) => (n.user_agent().ok(), n.language()),
        None => (None, None),
    }
}

/// `console.log` (debug mode).
pub fn log(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}
