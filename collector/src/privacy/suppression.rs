//! The suppression list: ids of erased persons whose later events are refused (`suppressed`).
//!
//! Erasure must leave no trace of a person's ids, so the list holds only fingerprints:
//! `sha256("footfall-suppression\0" + project + "\0" + id)`. Each entry is a `suppression`
//! document in the store (id = hex fingerprint), shared by every collector process on the same
//! backend; each process keeps the set in memory and reloads it every
//! `suppression_refresh_secs`. Checking costs nothing for projects without erasures and two
//! SHA-256 of short strings per message otherwise.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use footfall_engine::store::{Store, StoreError};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Document kind of suppression entries.
pub const KIND: &str = "suppression";

pub type Fingerprint = [u8; 32];

pub fn fingerprint(project_id: &str, id: &str) -> Fingerprint {
    let mut h = Sha256::new();
    h.update(b"footfall-suppression\0");
    h.update(project_id.as_bytes());
    h.update(b"\0");
    h.update(id.as_bytes());
    h.finalize().into()
}

pub fn hex(fp: &Fingerprint) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(s: &str) -> Option<Fingerprint> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// In-memory suppression sets per project.
#[derive(Default)]
pub struct Suppression {
    sets: RwLock<HashMap<String, HashSet<Fingerprint>>>,
}

impl Suppression {
    /// Whether any of `ids` is suppressed in the project.
    pub fn contains_any<'a>(&self, project_id: &str, ids: impl IntoIterator<Item = &'a str>) -> bool {
        let sets = self.sets.read().unwrap_or_else(|e| e.into_inner());
        match sets.get(project_id) {
            Some(set) if !set.is_empty() => ids
                .into_iter()
                .any(|id| set.contains(&fingerprint(project_id, id))),
            _ => false,
        }
    }

    /// Suppresses `ids` in memory and persists them (idempotent).
    pub async fn add(
        &self,
        store: &dyn Store,
        project_id: &str,
        ids: &[String],
        at: i64,
    ) -> Result<(), StoreError> {
        let fps: Vec<Fingerprint> = ids.iter().map(|id| fingerprint(project_id, id)).collect();
        self.sets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(project_id.to_string())
            .or_default()
            .extend(fps.iter().copied());
        for fp in &fps {
            store
                .put_document(KIND, project_id, &hex(fp), &json!({ "erased_at": at }))
                .await?;
        }
        Ok(())
    }

    /// Adds what the store holds for `projects` (written by this or another process).
    pub async fn reload(&self, store: &dyn Store, projects: &[String]) -> Result<(), StoreError> {
        let mut fresh = HashMap::new();
        for p in projects {
            let docs = store.list_documents(KIND, p).await?;
            let set: HashSet<Fingerprint> = docs.iter().filter_map(|(id, _)| parse_hex(id)).collect();
            fresh.insert(p.clone(), set);
        }
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        for (p, set) in fresh {
            sets.entry(p).or_default().extend(set);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_per_project_and_round_trip() {
        let a = fingerprint("p1", "user_42");
        assert_ne!(a, fingerprint("p2", "user_42"));
        assert_eq!(parse_hex(&hex(&a)), Some(a));
        assert!(!hex(&a).contains("user_42"));
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn membership() {
        let s = Suppression::default();
        s.sets
            .write()
            .unwrap()
            .entry("p".into())
            .or_default()
            .insert(fingerprint("p", "u1"));
        assert!(s.contains_any("p", ["x", "u1"]));
        assert!(!s.contains_any("p", ["x"]));
        assert!(!s.contains_any("other", ["u1"]));
    }
}
