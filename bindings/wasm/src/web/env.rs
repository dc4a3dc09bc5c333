//! The browser environment the host reads and writes synchronously, through the small JS
//! helpers of `glue.js`: `localStorage` (as a [`Kv`]), the identity cookie,
//! `crypto.getRandomValues` (as the core's [`Rng`]), `sendBeacon` and the console.

use footfall::Rng;
use wasm_bindgen::prelude::*;

use crate::kv::{Cookie, Kv};

// Every import lives in this one block (one import object in the generated glue).
#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = fillRandom)]
    fn fill_random(buf: &mut [u8]);
    #[wasm_bindgen(js_name = kvGet)]
    fn kv_get(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = kvSet)]
    fn kv_set(key: &str, value: &str) -> Option<String>;
    #[wasm_bindgen(js_name = kvRemove)]
    fn kv_remove(key: &str);
    #[wasm_bindgen(js_name = kvKeys)]
    fn kv_keys(prefix: &str) -> String;
    #[wasm_bindgen(js_name = cookieGet)]
    fn cookie_get(name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = cookieSet)]
    fn cookie_set(name: &str, value: &str, domain: &str);
    /// `navigator.sendBeacon(url, body)`, `body` the UTF-8 JSON (bytes: no UTF-8 check on this
    /// side).
    pub fn beacon(url: &str, body: &[u8]) -> bool;
    /// `console.log`.
    pub fn log(line: &str);
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

/// `window.localStorage` (the JS side checked that it works before choosing it).
pub struct LocalStorage;

impl Kv for LocalStorage {
    fn get(&self, key: &str) -> Option<String> {
        kv_get(key)
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        kv_set(key, value).map_or(Ok(()), Err)
    }
    fn remove(&self, key: &str) {
        kv_remove(key)
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        let joined = kv_keys(prefix);
        joined
            .split('\0')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The first-party identity cookie `footfall_<writeKey>` on `domain` (one year, `SameSite=Lax`,
/// `Secure` on https).
pub struct DocumentCookie {
    name: String,
    domain: String,
}

impl DocumentCookie {
    pub fn new(write_key: &str, domain: &str) -> DocumentCookie {
        // Cookie names may not hold separators; write keys are URL-safe tokens in practice.
        let safe: String = write_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        DocumentCookie {
            name: String::from("footfall_") + &safe,
            domain: domain.to_string(),
        }
    }
}

impl Cookie for DocumentCookie {
    fn get(&self) -> Option<String> {
        cookie_get(&self.name)
    }
    fn set(&self, value: &str) {
        cookie_set(&self.name, value, &self.domain)
    }
}
