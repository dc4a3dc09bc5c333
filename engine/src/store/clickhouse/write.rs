//! The write path: the existence lookup that reports duplicates (best effort, see "Dedupe and
//! reads" in the module doc), then one `JSONEachRow` insert per table.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::ClickHouseStore;
use super::http::{json_rows, list, lit};
use crate::store::common::{self, EVENT_COLUMNS};
use crate::store::{EventRow, StoreError, WriteBatch, WriteReport};

/// Message ids per existence lookup (keeps each query well under `max_query_size`, 256 KiB).
pub(super) const LOOKUP_CHUNK: usize = 1000;

/// Version that makes ReplacingMergeTree keep the row with the smallest `at`.
fn earliest_wins(at: i64) -> u64 {
    (i64::MAX as i128 - at as i128).clamp(0, u64::MAX as i128) as u64
}

#[derive(Serialize)]
struct EventOut<'a> {
    #[serde(flatten)]
    e: EventColumns<'a>,
    _version: u64,
}

#[derive(Serialize)]
struct EventColumns<'a> {
    project_id: &'a str,
    message_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    event: &'a str,
    ts: i64,
    received_at: i64,
    sent_at: Option<i64>,
    original_timestamp: Option<&'a str>,
    anonymous_id: Option<&'a str>,
    user_id: Option<&'a str>,
    session_id: Option<&'a str>,
    group_id: Option<&'a str>,
    browser: Option<&'a str>,
    os: Option<&'a str>,
    device_type: Option<&'a str>,
    is_bot: u8,
    ip: Option<&'a str>,
    properties: &'a str,
    traits: &'a str,
    context: &'a str,
}

fn event_columns(e: &EventRow) -> EventColumns<'_> {
    EventColumns {
        project_id: &e.project_id,
        message_id: &e.message_id,
        kind: &e.kind,
        event: &e.event,
        ts: e.ts,
        received_at: e.received_at,
        sent_at: e.sent_at,
        original_timestamp: e.original_timestamp.as_deref(),
        anonymous_id: e.anonymous_id.as_deref(),
        user_id: e.user_id.as_deref(),
        session_id: e.session_id.as_deref(),
        group_id: e.group_id.as_deref(),
        browser: e.browser.as_deref(),
        os: e.os.as_deref(),
        device_type: e.device_type.as_deref(),
        is_bot: e.is_bot as u8,
        ip: e.ip.as_deref(),
        properties: &e.properties,
        traits: &e.traits,
        context: &e.context,
    }
}

impl ClickHouseStore {
    /// Keys of `batch.events[firsts]` already stored (any copy).
    async fn stored_keys(
        &self,
        events: &[EventRow],
        firsts: &[usize],
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let mut by_project: HashMap<&str, Vec<String>> = HashMap::new();
        for &i in firsts {
            by_project
                .entry(&events[i].project_id)
                .or_default()
                .push(events[i].message_id.clone());
        }
        let mut stored = HashSet::new();
        for (project, ids) in by_project {
            for chunk in ids.chunks(LOOKUP_CHUNK) {
                let sql = format!(
                    "SELECT DISTINCT message_id FROM events WHERE project_id = {} AND message_id IN ({})",
                    lit(project),
                    list(chunk)
                );
                for row in self.select(&sql).await?.rows {
                    if let Some(Value::String(m)) = row.into_iter().next() {
                        stored.insert((project.to_string(), m));
                    }
                }
            }
        }
        Ok(stored)
    }

    /// [`Store::write`](crate::store::Store::write): lookup, then the inserts.
    pub(super) async fn write_batch(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        let (firsts, mut duplicates) = common::split_in_batch_duplicates(&batch.events);
        let stored = if firsts.is_empty() {
            HashSet::new()
        } else {
            self.stored_keys(&batch.events, &firsts).await?
        };
        let mut fresh = Vec::with_capacity(firsts.len());
        for &i in &firsts {
            let e = &batch.events[i];
            if stored.contains(&(e.project_id.clone(), e.message_id.clone())) {
                duplicates.push(i);
            } else {
                fresh.push(i);
            }
        }
        duplicates.sort_unstable();
        if !fresh.is_empty() {
            let rows = fresh.iter().map(|&i| {
                let e = &batch.events[i];
                EventOut {
                    e: event_columns(e),
                    _version: earliest_wins(e.received_at),
                }
            });
            self.insert(&format!("events ({EVENT_COLUMNS}, _version)"), json_rows(rows))
                .await?;
        }
        let links = common::reduce_links(&batch.links);
        if !links.is_empty() {
            let rows = links.iter().map(|l| {
                serde_json::json!({
                    "project_id": l.project_id, "anonymous_id": l.anonymous_id, "user_id": l.user_id,
                    "linked_at": l.linked_at, "_version": earliest_wins(l.linked_at),
                })
            });
            self.insert(
                "identities (project_id, anonymous_id, user_id, linked_at, _version)",
                json_rows(rows),
            )
            .await?;
        }
        if !batch.dead_letters.is_empty() {
            self.insert(
                "dead_letters (project_id, received_at, reason, message_id, payload)",
                json_rows(batch.dead_letters.iter()),
            )
            .await?;
        }
        Ok(WriteReport {
            inserted: fresh.len(),
            duplicates,
        })
    }
}
