//! Backend-independent pieces of the storage layer: batch preparation (in-batch dedupe, link
//! reduction), row decoding from [`QueryResult`](super::QueryResult) values, value formatting and
//! clocks.
//!
//! # Layout
//!
//! Everything is re-exported here (`common::id_key`, `common::event_from_values`, ...):
//!
//! * this file: batch preparation (in-batch duplicates, the winning identity link), clocks and
//!   the redaction of a store location;
//! * `id_keys.rs`: the integer identity keys (`id_key`, `rid_key`) in Rust and in each
//!   dialect's SQL;
//! * `rows.rs`: decoding query rows into events, audit entries and documents, and backend values
//!   (floats, wide integers, decimals, dates, timestamps) as JSON;
//! * `erasure.rs`: what the backends' erasure and export share (a person's ids, the dead-letter
//!   needles, the session id member of a context).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{EventRow, IdentityLink};

mod erasure;
mod id_keys;
mod rows;
#[cfg(test)]
mod tests;

pub use erasure::{
    SESSION_ID_MEMBER, anonymous_erase_report, erase_anonymous_or_person, json_needles, person_ids,
};
pub use id_keys::{id_key, id_key_sql, rid_key, rid_key_sql};
pub use rows::{
    AUDIT_COLUMNS, EVENT_COLUMNS, audit_from_values, date_text, decimal_text_value, document_from,
    documents_from, event_from_values, first_column_texts, first_text, float_value, parse_json,
    timestamp_text, wide_int_value,
};

/// Splits a batch's events into the first occurrence of each (project_id, message_id) (indexes,
/// in batch order) and the indexes of later copies within the batch (in-batch duplicates).
pub fn split_in_batch_duplicates(events: &[EventRow]) -> (Vec<usize>, Vec<usize>) {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(events.len());
    let mut firsts = Vec::with_capacity(events.len());
    let mut dups = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if seen.insert((e.project_id.as_str(), e.message_id.as_str())) {
            firsts.push(i);
        } else {
            dups.push(i);
        }
    }
    (firsts, dups)
}

/// Whether link `a` beats link `b` for the same (project_id, anonymous_id): earlier `linked_at`,
/// ties broken by the bytewise smaller `user_id`.
pub fn link_wins(a: &IdentityLink, b: &IdentityLink) -> bool {
    (a.linked_at, a.user_id.as_bytes()) < (b.linked_at, b.user_id.as_bytes())
}

/// Keeps the winning link per (project_id, anonymous_id), sorted by that key (a stable lock
/// order for concurrent upserts). Links with an empty anonymous or user id are dropped.
pub fn reduce_links(links: &[IdentityLink]) -> Vec<IdentityLink> {
    let mut best: HashMap<(&str, &str), &IdentityLink> = HashMap::new();
    for l in links
        .iter()
        .filter(|l| !l.anonymous_id.is_empty() && !l.user_id.is_empty())
    {
        best.entry((l.project_id.as_str(), l.anonymous_id.as_str()))
            .and_modify(|cur| {
                if link_wins(l, cur) {
                    *cur = l;
                }
            })
            .or_insert(l);
    }
    let mut out: Vec<IdentityLink> = best.into_values().cloned().collect();
    out.sort_by(|a, b| (&a.project_id, &a.anonymous_id).cmp(&(&b.project_id, &b.anonymous_id)));
    out
}

/// Current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A strictly increasing version number for this process (nanoseconds since the epoch, bumped on
/// ties), used for last-write-wins rows on ClickHouse.
pub fn next_version() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// `location` with any URL password replaced by `***`, for error messages and logs.
pub fn redact_location(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let redacted = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            out.push_str(&format!("{redacted}@{host}"));
        }
        None => out.push_str(authority),
    }
    // Query parameters named password=… are hidden too.
    let tail: Vec<String> = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((pre, _)) if pre.is_empty() || pre.ends_with('?') => format!("{pre}password=***"),
            _ => part.to_string(),
        })
        .collect();
    out.push_str(&tail.join("&"));
    out
}
