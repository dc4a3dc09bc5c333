//! The key-value storage the browser host persists into: the [`Kv`] and [`Cookie`] traits (the
//! browser implements them over `localStorage` and `document.cookie`; tests use [`MemoryKv`]),
//! and the key layout helpers shared by the store and the tab partition claim.

use std::sync::{Arc, Mutex, MutexGuard};

use footfall::platform::MaybeSend;

/// A string key-value store (`localStorage`).
pub trait Kv: MaybeSend {
    fn get(&self, key: &str) -> Option<String>;
    /// Fails when the quota is exceeded or storage is disabled.
    fn set(&self, key: &str, value: &str) -> Result<(), String>;
    fn remove(&self, key: &str);
    /// Every key (for scanning partitions at startup).
    fn keys(&self) -> Vec<String>;
}

/// A first-party cookie holding the persisted state.
pub trait Cookie: MaybeSend {
    fn get(&self) -> Option<String>;
    fn set(&self, value: &str);
}

/// The key prefix for a write key.
pub fn prefix(write_key: &str) -> String {
    let mut p = String::from("footfall.");
    p.push_str(write_key);
    p.push('.');
    p
}

/// The partitions (tab ids) that hold queued events under `prefix`.
pub fn partitions(kv: &dyn Kv, prefix: &str) -> Vec<String> {
    let mut tabs: Vec<String> = Vec::new();
    for key in kv.keys() {
        if let Some((tab, _)) = key
            .strip_prefix(prefix)
            .and_then(|k| k.strip_prefix("q."))
            .and_then(|k| k.split_once('.'))
        {
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
    fn keys(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}
