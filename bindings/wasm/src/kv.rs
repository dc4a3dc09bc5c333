//! The key-value storage the browser host persists into: the [`Kv`] and [`Cookie`] traits (the
//! browser implements them over `localStorage` and `document.cookie`; tests use [`MemoryKv`]),
//! and the key layout helpers shared by the store and the tab partition claim.
//!
//! Keys live under `footfall.<writeKey>.`: `state` (the shared identity/consent state) and
//! `q.<tab>.<seq>` (chunks of one tab's queued events).

use std::sync::{Arc, Mutex, MutexGuard};

use footfall::platform::MaybeSend;

/// A string key-value store (`localStorage`).
pub trait Kv: MaybeSend {
    fn get(&self, key: &str) -> Option<String>;
    /// Fails when the quota is exceeded or storage is disabled.
    fn set(&self, key: &str, value: &str) -> Result<(), String>;
    fn remove(&self, key: &str);
    /// Every key that starts with `prefix` (for scanning partitions).
    fn keys(&self, prefix: &str) -> Vec<String>;
}

/// A first-party cookie holding the persisted state.
pub trait Cookie: MaybeSend {
    fn get(&self) -> Option<String>;
    fn set(&self, value: &str);
}

/// The key prefix for a write key.
pub fn prefix(write_key: &str) -> String {
    footfall::json::cat(&["footfall.", write_key, "."])
}

/// The identity cookie's name for a write key: `footfall_<writeKey>` with every character but
/// ASCII letters, digits, `_` and `-` replaced by one `_` (cookie names may not hold separators;
/// write keys are URL-safe tokens in practice).
#[inline] // into its one caller, `DocumentCookie::new` (smaller bundle)
pub fn cookie_name(write_key: &str) -> String {
    let mut name = String::from("footfall_");
    // By bytes (no UTF-8 decoding in the bundle): a UTF-8 continuation byte adds nothing, so a
    // character is one `_` whatever its length.
    for &b in write_key.as_bytes() {
        if b & 0xC0 == 0x80 {
            continue;
        }
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        name.push(char::from(if keep { b } else { b'_' }));
    }
    name
}

/// `s` split around its last `.` (by bytes: `rsplit_once` would bring std's reverse character
/// search into the bundle for two call sites).
pub fn split_last_dot(s: &str) -> Option<(&str, &str)> {
    let i = s.as_bytes().iter().rposition(|&b| b == b'.')?;
    Some((&s[..i], &s[i + 1..]))
}

/// The tab id of a queue chunk key under `prefix` (`<prefix>q.<tab>.<seq>`).
pub fn chunk_tab<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    let rest = key.strip_prefix(prefix)?.strip_prefix("q.")?;
    split_last_dot(rest).map(|(tab, _)| tab)
}

/// The partitions (tab ids) that hold queued events under `prefix`.
pub fn partitions(kv: &dyn Kv, prefix: &str) -> Vec<String> {
    let mut tabs: Vec<String> = Vec::new();
    for key in kv.keys(prefix) {
        if let Some(tab) = chunk_tab(&key, prefix) {
            if !tabs.iter().any(|t| t == tab) {
                tabs.push(tab.to_string());
            }
        }
    }
    tabs
}

/// An in-memory [`Kv`] (tests).
#[derive(Clone, Default)]
pub struct MemoryKv(pub Arc<Mutex<std::collections::BTreeMap<String, String>>>);

impl MemoryKv {
    fn map(&self) -> MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every key (tests).
    pub fn all_keys(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}

impl Kv for MemoryKv {
    fn get(&self, key: &str) -> Option<String> {
        self.map().get(key).cloned()
    }
    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        self.map().insert(key.to_string(), value.to_string());
        Ok(())
    }
    fn remove(&self, key: &str) {
        self.map().remove(key);
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.map()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_names_keep_token_characters_and_replace_each_other_character_once() {
        assert_eq!(cookie_name("wk_test-1"), "footfall_wk_test-1");
        assert_eq!(cookie_name("a b;c=d"), "footfall_a_b_c_d");
        // One `_` per character, whatever its UTF-8 length (as `chars()` gives).
        for key in ["é", "日本", "k🙂x", "ü.ß"] {
            let want: String = key
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            assert_eq!(cookie_name(key), format!("footfall_{want}"), "{key}");
        }
    }
}
