//! The browser environment the host reads and writes synchronously, through the small JS
//! helpers of `glue.js`: `localStorage` (as a [`Kv`]), the identity cookie,
//! `crypto.getRandomValues` (as the core's [`Rng`]), JavaScript's `RegExp` (as the core's
//! [`PatternMatcher`]), `sendBeacon` and the console.

use std::sync::atomic::{AtomicU32, Ordering};

use footfall::Rng;
use footfall::pipeline::patterns::{InvalidPattern, PatternMatcher};
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
    #[wasm_bindgen(js_name = patternsClear)]
    fn patterns_clear(id: u32);
    #[wasm_bindgen(js_name = patternAdd)]
    fn pattern_add(id: u32, source: &str) -> Option<String>;
    #[wasm_bindgen(js_name = patternsTest)]
    fn patterns_test(id: u32, s: &str) -> bool;
}

/// The custom PII patterns as JavaScript `RegExp`s (Unicode mode when the pattern allows it,
/// else the legacy syntax; never the `g` flag), kept on the JS side under this matcher's id:
/// no regex engine in the bundle. `RegExp.test` has the same "match anywhere" semantics as the
/// collector's `Regex::is_match`; exotic syntax differs (see `footfall::pipeline::patterns`),
/// and the collector re-applies the patterns with Rust's `regex` anyway.
pub struct RegExpMatcher {
    id: u32,
}

impl RegExpMatcher {
    pub fn new() -> RegExpMatcher {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        patterns_clear(id);
        RegExpMatcher { id }
    }
}

impl PatternMatcher for RegExpMatcher {
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern> {
        patterns_clear(self.id);
        let mut invalid = Vec::new();
        for (index, p) in patterns.iter().enumerate() {
            if let Some(message) = pattern_add(self.id, p) {
                invalid.push(InvalidPattern { index, message });
            }
        }
        invalid
    }

    fn is_match(&self, s: &str) -> bool {
        patterns_test(self.id, s)
    }
}

impl Drop for RegExpMatcher {
    fn drop(&mut self) {
        patterns_clear(self.id);
    }
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
