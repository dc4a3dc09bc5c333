//! Which queue partitions this tab owns (see `kv_store` for the layout).
//!
//! With the Web Locks API (every current browser): the tab takes the lock
//! `footfall.<writeKey>.tab.<id>` for its own new partition and keeps it while it lives; then,
//! for every partition found in storage whose lock nobody holds (its tab is gone), it tries to
//! take that lock too (`ifAvailable`). Only one tab can win a lock, and it keeps it until it dies,
//! so an orphaned partition is adopted by exactly one tab: no event is sent twice, none is lost.
//!
//! Without Web Locks a tab adopts only partitions whose newest event is older than
//! [`STALE_MS`] (their tab has almost certainly gone); in the rare case that tab is still alive
//! and offline the same `messageId` may be sent twice, which the collector de-duplicates.

use js_sys::Array;
use wasm_bindgen_futures::JsFuture;

use super::env::{hold_lock, lock_names};

use crate::kv_store::{Kv, partitions};
use footfall::store::StoredMessage;

/// Without Web Locks: a partition whose newest event is this old is adopted (10 minutes).
pub const STALE_MS: u64 = 10 * 60 * 1000;

fn lock_name(prefix: &str, tab: &str) -> String {
    let mut n = String::from(prefix);
    n.push_str("tab.");
    n.push_str(tab);
    n
}

async fn hold(name: &str, if_available: bool) -> Option<bool> {
    JsFuture::from(hold_lock(name, if_available))
        .await
        .ok()
        .and_then(|v| v.as_bool())
}

/// Claims `tab`'s partition and adopts orphaned ones; returns the adopted tab ids.
pub async fn claim(kv: &dyn Kv, prefix: &str, tab: &str, now: u64) -> Vec<String> {
    let others: Vec<String> = partitions(kv, prefix).into_iter().filter(|t| t != tab).collect();
    if hold(&lock_name(prefix, tab), false).await.is_none() {
        return others
            .into_iter()
            .filter(|t| newest(kv, prefix, t).is_some_and(|at| now.saturating_sub(at) > STALE_MS))
            .collect();
    }
    if others.is_empty() {
        return Vec::new();
    }
    let held: Vec<String> = match JsFuture::from(lock_names()).await {
        Ok(names) => Array::from(&names).iter().filter_map(|v| v.as_string()).collect(),
        Err(_) => return Vec::new(),
    };
    let mut adopted = Vec::new();
    for other in others {
        let name = lock_name(prefix, &other);
        if !held.contains(&name) && hold(&name, true).await == Some(true) {
            adopted.push(other);
        }
    }
    adopted
}

/// The newest `enqueued_at` in partition `tab`.
fn newest(kv: &dyn Kv, prefix: &str, tab: &str) -> Option<u64> {
    let mut start = String::from(prefix);
    start.push_str("q.");
    start.push_str(tab);
    start.push('.');
    kv.keys()
        .iter()
        .filter(|k| k.starts_with(start.as_str()))
        .filter_map(|k| {
            kv.get(k)
                .and_then(|v| serde_json::from_str::<StoredMessage>(&v).ok())
        })
        .map(|m| m.enqueued_at)
        .max()
}
