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
    /// `navigator.sendBeacon(url, body)`, `body` the UTF-8 JSON (bytes: no UTF-8 check on this
    /// side).
    pub fn beacon(url: &str, body: &[u8]) -> bool;
    /// Every string-only call (`localStorage`, the cookie, `RegExp`, the console) through one
    /// import: each import costs its own wrapper in the generated glue. `op` is one of the
    /// constants below, `id` a matcher's id, `a`/`b`/`c` the string arguments (`""` when
    /// unused); see `glue.js`.
    fn env(op: u8, id: u32, a: &str, b: &str, c: &str) -> Option<String>;
}

// The operations of `env` (their index in `glue.js`'s `ops`).
const KV_GET: u8 = 0;
const KV_SET: u8 = 1;
const KV_REMOVE: u8 = 2;
const KV_KEYS: u8 = 3;
const COOKIE_GET: u8 = 4;
const COOKIE_SET: u8 = 5;
const PATTERNS_CLEAR: u8 = 6;
const PATTERN_ADD: u8 = 7;
const PATTERNS_TEST: u8 = 8;
const LOG: u8 = 9;

/// `console.log`.
pub fn log(line: &str) {
    env(LOG, 0, line, "", "");
}

fn patterns_clear(id: u32) {
    env(PATTERNS_CLEAR, id, "", "", "");
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
            if let Some(message) = env(PATTERN_ADD, self.id, p, "", "") {
                invalid.push(InvalidPattern { index, message });
            }
        }
        invalid
    }

    fn is_match(&self, s: &str) -> bool {
        env(PATTERNS_TEST, self.id, s, "", "").is_some()
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
        env(KV_GET, 0, key, "", "")
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        env(KV_SET, 0, key, value, "").map_or(Ok(()), Err)
    }
    fn remove(&self, key: &str) {
        env(KV_REMOVE, 0, key, "", "");
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        let joined = env(KV_KEYS, 0, prefix, "", "").unwrap_or_default();
        let mut keys = Vec::new();
        for k in footfall::text::pieces(&joined, 0) {
            if !k.is_empty() {
                keys.push(k.to_string());
            }
        }
        keys
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
        DocumentCookie {
            name: crate::kv::cookie_name(write_key),
            domain: domain.to_string(),
        }
    }
}

impl Cookie for DocumentCookie {
    fn get(&self) -> Option<String> {
        env(COOKIE_GET, 0, &self.name, "", "")
    }
    fn set(&self, value: &str) {
        env(COOKIE_SET, 0, &self.name, value, &self.domain);
    }
}
