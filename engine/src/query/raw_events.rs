//! `raw_events`: the scope's events themselves, newest arrival first, a page at a time — what the
//! dashboards' Live events page shows (is my instrumentation arriving, with which properties?)
//! and a way to export a range (`footfall query` with `--format csv`, following `next`). The one
//! query kind whose rows are events rather than aggregates; it reads the same scoped relation as
//! every other kind, so filters, segments and bot exclusion behave alike.
//!
//! ```json
//! {"kind": "raw_events", "from": "7_days_ago",
//!  "filters": {"field": "event", "op": "eq", "value": "purchase"}, "limit": 50}
//! ```
//!
//! Order: `received_at` descending, then `message_id` descending (a total order, so pages never
//! overlap or skip). `next` is the cursor of the following (older) page, given back as
//! `before`; `null` on the last page. The scope's range (`from`/`to`) is over the event's own
//! time (`timestamp`), as in every query.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::normalize::rows;
use super::scope::Prepared;
use super::spec::scoped_spec;
use super::time::ms_to_rfc3339;
use super::{QueryContext, QueryError};
use crate::store::Store;

/// Default and maximum page sizes.
pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 1_000;

scoped_spec! {
    /// A page of raw events (see the module doc).
    pub struct RawEventsQuery {
        /// Events per page. Default 50, at most 1,000.
        #[serde(default)]
        pub limit: Option<u64>,
        /// The `next` of the previous page: only events that arrived before it. Default: from
        /// the newest.
        #[serde(default)]
        pub before: Option<String>,
    }
}

impl RawEventsQuery {
    /// The newest `limit` events of the default range.
    pub fn new(limit: u64) -> Self {
        Self::from_fields(Some(limit), None)
    }

    /// The page after the one whose `next` this is.
    pub fn before(mut self, cursor: &str) -> Self {
        self.before = Some(cursor.into());
        self
    }
}

/// One stored event, as the collector stored it (after enrichment and anonymization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub message_id: String,
    /// Segment type: track, page, screen, identify, group, alias.
    #[serde(rename = "type")]
    pub kind: String,
    pub event: String,
    /// The event's time (RFC 3339, UTC).
    pub timestamp: String,
    /// When the collector received it (RFC 3339, UTC).
    pub received_at: String,
    /// The resolved person (user id, else the user linked to the anonymous id, else it).
    pub person: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub group_id: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device_type: Option<String>,
    pub is_bot: bool,
    pub ip: Option<String>,
    pub properties: Value,
    pub traits: Value,
    pub context: Value,
}

/// A page of events and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEventsResult {
    pub events: Vec<RawEvent>,
    /// Give it as `before` for the next (older) page; `null` when this is the last.
    pub next: Option<String>,
}

const COLUMNS: &str = "message_id, type, event, ts, received_at, person, user_id, anonymous_id, \
                       session_id, group_id, browser, os, device_type, is_bot, ip, properties, traits, context";

/// Runs a [`RawEventsQuery`].
pub async fn get_raw_events(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &RawEventsQuery,
) -> Result<RawEventsResult, QueryError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(QueryError::Invalid(format!(
            "limit must be 1..={MAX_LIMIT}, got {limit}"
        )));
    }
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let mut pre = Vec::new();
    if let Some(cursor) = &q.before {
        let (at, id) = parse_cursor(cursor)?;
        let id = p.sql.lit(id)?;
        pre.push(format!(
            "(e.received_at < {at} OR (e.received_at = {at} AND e.message_id < {id}))"
        ));
    }
    // One more than asked: whether there is a next page.
    let sql = format!(
        "SELECT {COLUMNS} FROM {} ORDER BY received_at DESC, message_id DESC LIMIT {}",
        p.frame_events_pre(&pre, &[])?,
        limit + 1
    );
    let result = p.run(&sql).await?;
    let (mut events, mut arrivals) = (Vec::new(), Vec::new());
    for row in rows(&result) {
        arrivals.push(row.i64(4)?);
        let json = |i: usize| {
            serde_json::from_str(&row.str(i)).unwrap_or_else(|_| Value::Object(Default::default()))
        };
        events.push(RawEvent {
            message_id: row.str(0),
            kind: row.str(1),
            event: row.str(2),
            timestamp: ms_to_rfc3339(row.i64(3)?),
            received_at: ms_to_rfc3339(row.i64(4)?),
            person: row.opt_str(5),
            user_id: row.opt_str(6),
            anonymous_id: row.opt_str(7),
            session_id: row.opt_str(8),
            group_id: row.opt_str(9),
            browser: row.opt_str(10),
            os: row.opt_str(11),
            device_type: row.opt_str(12),
            is_bot: row.i64(13)? != 0,
            ip: row.opt_str(14),
            properties: json(15),
            traits: json(16),
            context: json(17),
        });
    }
    let next = if events.len() as u64 > limit {
        events.truncate(limit as usize);
        events
            .last()
            .map(|e| format!("{}:{}", arrivals[limit as usize - 1], e.message_id))
    } else {
        None
    };
    Ok(RawEventsResult { events, next })
}

/// `<received_at ms>:<message_id>`.
fn parse_cursor(cursor: &str) -> Result<(i64, &str), QueryError> {
    let bad = || {
        QueryError::Invalid(format!(
            "before: `{cursor}` is not a cursor this query returned as `next`"
        ))
    };
    let (at, id) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(
            parse_cursor("1764324000000:a:b").unwrap(),
            (1_764_324_000_000, "a:b")
        );
        assert!(parse_cursor("x:1").is_err());
        assert!(parse_cursor("17").is_err());
    }
}
