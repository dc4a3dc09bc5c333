//! ClickHouse store (`http://[user:password@]host:8123/db`), over the HTTP interface.
//!
//! # Compatibility
//! Written for ClickHouse 18.16 (Debian's package, what the tests run) and current versions: no
//! `JSONExtract`, no `DateTime64`, no query parameters (literals are escaped by [`lit`]), no
//! `mutations_sync` (erasure and retention poll `system.mutations` until done), nullable columns
//! wrapped in `ifNull` inside mutation predicates (18.16 deletes rows whose predicate is NULL).
//!
//! # Timeouts
//! The location's `timeout=SECS` and `query_timeout=SECS` (see [`Timeouts`]; not passed on as
//! settings, unlike every other parameter) bound each HTTP request: `query_timeout` the query
//! layer's queries and exports, `timeout` everything else (the writes' lookups and inserts, ping,
//! documents, each poll of `system.mutations`). A write is up to four requests (lookup, events,
//! identity links, dead letters), each bounded. An insert that timed out may still complete on
//! the server; the retry then finds its rows stored and reports them as duplicates — or, if it
//! looks before that insert finished, inserts a second copy that `FINAL` collapses.
//!
//! # Dedupe and reads
//! ClickHouse cannot refuse a duplicate on insert, and several collectors may insert the same
//! message at once. `events` is therefore a `ReplacingMergeTree(_version)` whose sorting key is
//! exactly (project_id, message_id) and which is not partitioned, so all copies of a message
//! collapse into one, and `events FINAL` (see [`super::events_relation`]) reads exactly one copy
//! even before the background merge. `_version = u64::MAX - received_at` keeps the copy received
//! first, like the other backends. The sorting key cannot include `ts`: a retried message's
//! skew-corrected `ts` may differ between copies, and copies that differ in the key never
//! collapse; filters on `ts`/`event` therefore scan the project's key range (column-pruned).
//!
//! Before inserting, [`Store::write`] looks the batch's keys up (primary-key range reads) and
//! skips and reports the ones already stored: duplicates are reported best effort (two writers
//! inserting the same new message at the same moment both count it as inserted).
//!
//! # Schema (migration 1, database from the URL path, default `default`)
//! * `events`: columns of store/mod.rs with `String`, `Int64` times, `Nullable(…)` for optional
//!   columns, `is_bot UInt8`, plus `_version UInt64`; `ReplacingMergeTree(_version) ORDER BY
//!   (project_id, message_id)`.
//! * `identities(project_id, anonymous_id, user_id String, linked_at Int64, _version UInt64)`:
//!   `ReplacingMergeTree(_version) ORDER BY (project_id, anonymous_id, user_id)`; read through
//!   [`IDENTITIES_RELATION`] (earliest link, ties to the smaller user id).
//! * `dead_letters`: `MergeTree ORDER BY received_at`.
//! * `documents(kind, project_id, id, body String, updated_at Int64, deleted UInt8, _version
//!   UInt64)`: `ReplacingMergeTree(_version) ORDER BY (kind, project_id, id)`; a put is a new
//!   version, a delete a tombstone (`deleted = 1`); read with `argMax(…, _version)`.
//! * `audit_log`: `ReplacingMergeTree ORDER BY (at, id)`, read with `FINAL` (a retried append
//!   collapses).
//! * `schema_version(version UInt32, applied_at Int64)`: `MergeTree ORDER BY version`.
//!
//! Migration 2 adds the integer identity keys `events.rid_key`, `identities.anon_key` /
//! `user_key` (see [`common::id_key`]) as `MATERIALIZED` columns: ClickHouse computes them on
//! every insert (writers do not send them), and for parts written before the migration from the
//! same expression on read, until a merge stores them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{self, AUDIT_COLUMNS, EVENT_COLUMNS};
use super::{
    AuditEntry, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, Timeouts, WriteBatch,
    WriteReport,
};

/// The winning identity link per (project_id, anonymous_id); see [`super::identities_relation`].
/// (The inner renames avoid ClickHouse's alias substitution: an alias named like a column would
/// replace that column inside the aggregate.)
pub const IDENTITIES_RELATION: &str = "(SELECT project_id, anonymous_id, argMin(uid, (at, uid)) AS user_id, \
    min(at) AS linked_at, any(ak) AS anon_key, argMin(uk, (at, uid)) AS user_key FROM (SELECT project_id, \
    anonymous_id, user_id AS uid, linked_at AS at, anon_key AS ak, user_key AS uk FROM identities) \
    GROUP BY project_id, anonymous_id)";

/// The integer identity keys of schema version 2, `MATERIALIZED` (computed by ClickHouse on
/// insert, and from the same expression on read for parts written before the column existed):
/// (table, column, expression of [`common::id_key`] / [`common::rid_key`]).
fn key_columns() -> [(&'static str, &'static str, String); 3] {
    let d = Dialect::ClickHouse;
    let key = |s: &str| common::id_key_sql(d, s);
    [
        (
            "events",
            "rid_key",
            common::rid_key_sql(d, "user_id", "anonymous_id", &key),
        ),
        ("identities", "anon_key", key("anonymous_id")),
        ("identities", "user_key", key("user_id")),
    ]
}

/// Default time to wait for erasure / retention mutations to finish (10 minutes).
const DEFAULT_MUTATION_TIMEOUT: Duration = Duration::from_secs(600);
/// Message ids per existence lookup (keeps each query well under `max_query_size`, 256 KiB).
const LOOKUP_CHUNK: usize = 1000;

const MIGRATION_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS events (project_id String, message_id String, type String, event String, \
     ts Int64, received_at Int64, sent_at Nullable(Int64), original_timestamp Nullable(String), \
     anonymous_id Nullable(String), user_id Nullable(String), session_id Nullable(String), \
     group_id Nullable(String), browser Nullable(String), os Nullable(String), device_type Nullable(String), \
     is_bot UInt8, ip Nullable(String), properties String, traits String, context String, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, message_id)",
    "CREATE TABLE IF NOT EXISTS identities (project_id String, anonymous_id String, user_id String, \
     linked_at Int64, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, anonymous_id, user_id)",
    "CREATE TABLE IF NOT EXISTS dead_letters (project_id Nullable(String), received_at Int64, reason String, \
     message_id Nullable(String), payload String) ENGINE = MergeTree ORDER BY received_at",
    "CREATE TABLE IF NOT EXISTS documents (kind String, project_id String, id String, body String, \
     updated_at Int64, deleted UInt8, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (kind, project_id, id)",
    "CREATE TABLE IF NOT EXISTS audit_log (id String, project_id Nullable(String), at Int64, actor String, \
     action String, target String, details String) ENGINE = ReplacingMergeTree ORDER BY (at, id)",
];

/// The ClickHouse store. Cheap to clone.
#[derive(Clone)]
pub struct ClickHouseStore {
    http: reqwest::Client,
    /// Server root with credentials and pass-through settings as query parameters.
    base: Url,
    database: String,
    location: String,
    mutation_timeout: Duration,
    timeouts: Timeouts,
}

/// A ClickHouse string literal: `'…'` with `\` and `'` escaped.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// Version that makes ReplacingMergeTree keep the row with the smallest `at`.
fn earliest_wins(at: i64) -> u64 {
    (i64::MAX as i128 - at as i128).clamp(0, u64::MAX as i128) as u64
}

/// ClickHouse error codes that mean "overloaded or not reachable right now" (→ 503 + retry):
/// timeouts (159, 209, 210), too many queries or connections (202, 203), memory (241), a
/// read-only table (242), too many parts (252), unknown status of an insert (319), system errors
/// (425), a full disk (243 NOT_ENOUGH_SPACE), and a query cancelled or aborted by a shutdown
/// (236 ABORTED, 394 QUERY_WAS_CANCELLED).
const TRANSIENT_CODES: &[u32] = &[159, 202, 203, 209, 210, 236, 241, 242, 243, 252, 319, 394, 425];

/// The error of a non-2xx answer: `Unavailable` for a 5xx without a code or with a
/// [`TRANSIENT_CODES`] one (`Code: 243. DB::Exception: ...`), else `Query`.
fn server_error(status: reqwest::StatusCode, text: &str) -> StoreError {
    let code = text
        .strip_prefix("Code: ")
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse::<u32>().ok());
    let msg = format!("clickhouse ({status}): {}", text.trim());
    if status.is_server_error() && code.is_none_or(|c| TRANSIENT_CODES.contains(&c)) {
        StoreError::Unavailable(msg)
    } else {
        StoreError::Query(msg)
    }
}

fn http_err(e: reqwest::Error) -> StoreError {
    StoreError::Unavailable(format!("clickhouse: {e}"))
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

/// JSONEachRow body: one JSON object per line.
fn json_rows<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Vec<u8> {
    let mut body = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut body, &row).expect("serializing plain structs cannot fail");
        body.push(b'\n');
    }
    body
}

#[derive(Deserialize)]
struct Compact {
    meta: Vec<Meta>,
    data: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

/// `Name(inner)` → `inner`.
fn unwrap_type<'a>(ty: &'a str, name: &str) -> Option<&'a str> {
    ty.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// Splits `A, B(C, D), E` at top-level commas.
fn split_types(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

/// Normalizes a JSONCompact value by its ClickHouse type (see "Query results" in store/mod.rs).
fn ch_value(ty: &str, v: Value) -> Value {
    let ty = ty.trim();
    if v.is_null() {
        return Value::Null;
    }
    if let Some(inner) = unwrap_type(ty, "Nullable").or_else(|| unwrap_type(ty, "LowCardinality")) {
        return ch_value(inner, v);
    }
    if let Some(inner) = unwrap_type(ty, "Array") {
        return match v {
            Value::Array(items) => Value::Array(items.into_iter().map(|x| ch_value(inner, x)).collect()),
            other => other,
        };
    }
    if let Some(inner) = unwrap_type(ty, "Tuple") {
        let types = split_types(inner);
        return match v {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| ch_value(types.get(i).copied().unwrap_or(""), x))
                    .collect(),
            ),
            other => other,
        };
    }
    let text = match &v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if ty.starts_with("Int") || ty.starts_with("UInt") {
        return text.parse::<i128>().map(common::wide_int_value).unwrap_or(v);
    }
    if ty.starts_with("Float") {
        return text
            .parse::<f64>()
            .map(common::float_value)
            .unwrap_or(Value::Null);
    }
    if ty.starts_with("Decimal") {
        let scale = ty
            .rsplit([',', '('])
            .next()
            .and_then(|s| s.trim_end_matches(')').trim().parse::<u32>().ok())
            .unwrap_or(1);
        return common::decimal_text_value(&text, scale);
    }
    match (ty, v) {
        ("Bool", Value::Bool(b)) => Value::from(b as i64),
        (_, v) => v,
    }
}

impl ClickHouseStore {
    /// Prepares a client for `url` (`http(s)://[user:password@]host:port[/database][?setting=value…]`;
    /// settings are sent with every request). No request is made until first use.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let location = common::redact_location(url);
        let bad = |why: String| StoreError::Config(format!("invalid ClickHouse location {location}: {why}"));
        let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad("expected http(s)://host:port/database".into()));
        }
        let database = match parsed.path().trim_matches('/') {
            "" => "default".to_string(),
            db if db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => db.to_string(),
            db => return Err(bad(format!("database name {db:?} must be letters, digits and _"))),
        };
        let mut timeouts = Timeouts::default();
        let mut base = parsed.clone();
        base.set_path("/");
        base.set_query(None);
        let _ = base.set_username("");
        let _ = base.set_password(None);
        {
            let mut q = base.query_pairs_mut();
            if !parsed.username().is_empty() {
                q.append_pair("user", &percent_decode(parsed.username()));
            }
            if let Some(p) = parsed.password() {
                q.append_pair("password", &percent_decode(p));
            }
            for (k, v) in parsed.query_pairs() {
                if !timeouts.take_param(&k, &v)? {
                    q.append_pair(&k, &v);
                }
            }
        }
        // Each request is bounded by `timeouts` (see `post`).
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.operation)
            .pool_idle_timeout(Duration::from_secs(2)) // below the server's keep_alive_timeout (3 s)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            http,
            base,
            database,
            location,
            mutation_timeout: DEFAULT_MUTATION_TIMEOUT,
            timeouts,
        })
    }

    /// How long erasure and retention wait for their delete mutations (default 10 minutes).
    pub fn with_mutation_timeout(mut self, timeout: Duration) -> Self {
        self.mutation_timeout = timeout;
        self
    }

    /// The database the tables live in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The location with any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// POSTs `body`; `params` are extra URL parameters (settings, `query=` for inserts). The
    /// whole exchange (connect, send, answer) is bounded by `timeout`; reqwest's timeout is an
    /// `Unavailable` like any transport error.
    async fn post(
        &self,
        params: &[(&str, &str)],
        body: Vec<u8>,
        in_database: bool,
        timeout: Duration,
    ) -> Result<String, StoreError> {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            if in_database {
                q.append_pair("database", &self.database);
            }
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        let response = self
            .http
            .post(url)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(http_err)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http_err)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        Err(server_error(status, &text))
    }

    /// `ALTER TABLE table ADD COLUMN definition` unless the column exists (ClickHouse 18.16
    /// has no `IF NOT EXISTS` there; a concurrent migration adding it first is fine too).
    async fn add_column(&self, table: &str, definition: &str) -> Result<(), StoreError> {
        let name = definition.split_whitespace().next().unwrap_or_default();
        let exists = format!(
            "SELECT count() FROM system.columns WHERE database = {} AND table = {} AND name = {}",
            lit(&self.database),
            lit(table),
            lit(name)
        );
        if self.count(&exists).await? > 0 {
            return Ok(());
        }
        match self
            .execute(&format!("ALTER TABLE {table} ADD COLUMN {definition}"))
            .await
        {
            Err(_) if self.count(&exists).await? > 0 => Ok(()),
            other => other,
        }
    }

    async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.post(&[], sql.as_bytes().to_vec(), true, self.timeouts.operation)
            .await
            .map(|_| ())
    }

    async fn insert(&self, table_and_columns: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let query = format!("INSERT INTO {table_and_columns} FORMAT JSONEachRow");
        self.post(&[("query", &query)], body, true, self.timeouts.operation)
            .await
            .map(|_| ())
    }

    /// A read bounded by the operation timeout.
    async fn select(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.select_within(sql, self.timeouts.operation).await
    }

    async fn select_within(&self, sql: &str, timeout: Duration) -> Result<QueryResult, StoreError> {
        let params = [("default_format", "JSONCompact"), ("readonly", "2")];
        let text = self.post(&params, sql.as_bytes().to_vec(), true, timeout).await?;
        let parsed: Compact = serde_json::from_str(&text)
            .map_err(|e| StoreError::Query(format!("clickhouse: unreadable result ({e}) for: {sql}")))?;
        let rows = parsed
            .data
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&parsed.meta)
                    .map(|(v, m)| ch_value(&m.ty, v))
                    .collect()
            })
            .collect();
        Ok(QueryResult {
            columns: parsed.meta.into_iter().map(|m| m.name).collect(),
            rows,
        })
    }

    async fn count(&self, sql: &str) -> Result<u64, StoreError> {
        let r = self.select(sql).await?;
        Ok(r.rows
            .first()
            .and_then(|row| row.first())
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }

    /// Waits until no mutation of this database is pending.
    async fn wait_for_mutations(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.mutation_timeout;
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND is_done = 0",
            lit(&self.database)
        );
        let mut pause = Duration::from_millis(20);
        while self.count(&sql).await? > 0 {
            if Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "clickhouse: delete mutations in {} still running after {:?}; they continue in the background",
                    self.database, self.mutation_timeout
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Ok(())
    }

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

    /// The person's ids (user id first) and the predicate selecting their events.
    async fn person(&self, project_id: &str, user_id: &str) -> Result<(Vec<String>, String), StoreError> {
        let sql = format!(
            "SELECT anonymous_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND user_id = {} ORDER BY anonymous_id",
            lit(project_id),
            lit(user_id)
        );
        let mut ids = vec![user_id.to_string()];
        ids.extend(
            self.select(&sql)
                .await?
                .rows
                .into_iter()
                .filter_map(|r| r.into_iter().next()?.as_str().map(str::to_string)),
        );
        let mut filter = format!(
            "project_id = {} AND (ifNull(user_id, '') = {}",
            lit(project_id),
            lit(user_id)
        );
        if ids.len() > 1 {
            filter.push_str(&format!(" OR ifNull(anonymous_id, '') IN ({})", list(&ids[1..])));
        }
        filter.push(')');
        Ok((ids, filter))
    }

    /// The events matching `filter`, oldest first (exports).
    async fn events_where(&self, filter: &str) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE {filter} ORDER BY ts, message_id");
        self.select_within(&sql, self.timeouts.query)
            .await?
            .rows
            .iter()
            .map(|r| common::event_from_values(r))
            .collect()
    }

    /// The latest version of a document: `Some(body)` unless missing or deleted.
    async fn latest_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        let sql = format!(
            "SELECT argMax(body, _version) AS b, argMax(deleted, _version) AS d FROM documents \
             WHERE kind = {} AND project_id = {} AND id = {} GROUP BY id",
            lit(kind),
            lit(project_id),
            lit(id)
        );
        let r = self.select(&sql).await?;
        match r.rows.first().map(|row| (row.first(), row.get(1))) {
            Some((Some(Value::String(body)), Some(d))) if d.as_i64() == Some(0) => {
                common::parse_json(body, "documents.body").map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn put_document_version(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &str,
        deleted: u8,
    ) -> Result<(), StoreError> {
        let row = serde_json::json!({
            "kind": kind, "project_id": project_id, "id": id, "body": body,
            "updated_at": common::now_ms(), "deleted": deleted, "_version": common::next_version(),
        });
        self.insert(
            "documents (kind, project_id, id, body, updated_at, deleted, _version)",
            json_rows([row]),
        )
        .await
    }
}

/// The events of an anonymous id linked to no user (nullable column wrapped for mutations).
fn anonymous_filter(project_id: &str, anonymous_id: &str) -> String {
    format!(
        "project_id = {} AND ifNull(anonymous_id, '') = {}",
        lit(project_id),
        lit(anonymous_id)
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten();
        if let Some(Ok(b)) = escaped.map(|hex| u8::from_str_radix(hex, 16)) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[async_trait]
impl Store for ClickHouseStore {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let create_db = format!("CREATE DATABASE IF NOT EXISTS {}", self.database);
        self.post(&[], create_db.into_bytes(), false, self.timeouts.operation)
            .await?;
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version UInt32, applied_at Int64) ENGINE = MergeTree ORDER BY version",
        )
        .await?;
        let current = self.count("SELECT max(version) FROM schema_version").await?;
        let migrations: [(u64, &[&str]); 2] = [(1, MIGRATION_V1), (2, &[])];
        for (version, statements) in migrations.iter().filter(|(v, _)| *v > current) {
            // Every statement is idempotent (IF NOT EXISTS): concurrent migrations are harmless.
            for statement in statements.iter() {
                self.execute(statement).await?;
            }
            if *version == 2 {
                for (table, column, expr) in key_columns() {
                    self.add_column(table, &format!("{column} Int64 MATERIALIZED {expr}"))
                        .await?;
                }
            }
            let row = serde_json::json!({ "version": version, "applied_at": common::now_ms() });
            self.insert("schema_version (version, applied_at)", json_rows([row]))
                .await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.select("SELECT 1").await.map(|_| ())
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
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

    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.select_within(sql, self.timeouts.query).await
    }

    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        let (ids, filter) = self.person(project_id, user_id).await?;
        let events_deleted = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
            .await?;
        let links = format!(
            "project_id = {} AND (user_id = {} OR anonymous_id IN ({}))",
            lit(project_id),
            lit(user_id),
            list(&ids)
        );
        self.execute(&format!("ALTER TABLE identities DELETE WHERE {links}"))
            .await?;
        let mentions: Vec<String> = common::json_needles(&ids)
            .iter()
            .map(|n| format!("position(payload, {}) > 0", lit(n)))
            .collect();
        self.execute(&format!(
            "ALTER TABLE dead_letters DELETE WHERE ifNull(project_id, '') = {} AND ({})",
            lit(project_id),
            mentions.join(" OR ")
        ))
        .await?;
        self.wait_for_mutations().await?;
        tracing::info!(
            project_id,
            events_deleted,
            links = ids.len() - 1,
            "clickhouse: person erased"
        );
        Ok(EraseReport {
            events_deleted,
            identity_links_deleted: (ids.len() - 1) as u64,
            ids,
        })
    }

    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let (_, filter) = self.person(project_id, user_id).await?;
        self.events_where(&filter).await
    }

    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        let filter = format!("project_id = {} AND ts < {cutoff_ms}", lit(project_id));
        let n = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        if n > 0 {
            self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
                .await?;
            self.wait_for_mutations().await?;
        }
        Ok(n)
    }

    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT user_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND anonymous_id = {}",
            lit(project_id),
            lit(anonymous_id)
        );
        Ok(self
            .select(&sql)
            .await?
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next()?.as_str().map(str::to_string)))
    }

    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        if let Some(user_id) = self.linked_user(project_id, anonymous_id).await? {
            return self.erase_person(project_id, &user_id).await;
        }
        let filter = anonymous_filter(project_id, anonymous_id);
        let events_deleted = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
            .await?;
        let needle = &common::json_needles(&[anonymous_id.to_string()])[0];
        self.execute(&format!(
            "ALTER TABLE dead_letters DELETE WHERE ifNull(project_id, '') = {} AND position(payload, {}) > 0",
            lit(project_id),
            lit(needle)
        ))
        .await?;
        self.wait_for_mutations().await?;
        tracing::info!(project_id, events_deleted, "clickhouse: anonymous person erased");
        Ok(common::anonymous_erase_report(anonymous_id, events_deleted))
    }

    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        let filter = match self.linked_user(project_id, anonymous_id).await? {
            Some(user_id) => self.person(project_id, &user_id).await?.1,
            None => anonymous_filter(project_id, anonymous_id),
        };
        self.events_where(&filter).await
    }

    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        let filter = format!(
            "project_id = {} AND ts < {cutoff_ms} AND (isNotNull(session_id) OR position(context, '\"sessionId\"') > 0)",
            lit(project_id)
        );
        let n = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        if n > 0 {
            let [first, last] = common::SESSION_ID_MEMBER;
            self.execute(&format!(
                "ALTER TABLE events UPDATE session_id = NULL, \
                 context = replaceRegexpOne(replaceRegexpOne(context, {}, ''), {}, '') WHERE {filter}",
                lit(first),
                lit(last)
            ))
            .await?;
            self.wait_for_mutations().await?;
        }
        Ok(n)
    }

    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        // Every row of an anonymous id whose winning (earliest) link is older than the cutoff:
        // deleting only the old rows would promote a later, losing link.
        let sql = format!(
            "SELECT anonymous_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND linked_at < {cutoff_ms}",
            lit(project_id)
        );
        let ids: Vec<String> = self
            .select(&sql)
            .await?
            .rows
            .into_iter()
            .filter_map(|r| r.into_iter().next()?.as_str().map(str::to_string))
            .collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            self.execute(&format!(
                "ALTER TABLE identities DELETE WHERE project_id = {} AND anonymous_id IN ({})",
                lit(project_id),
                list(chunk)
            ))
            .await?;
        }
        if !ids.is_empty() {
            self.wait_for_mutations().await?;
        }
        Ok(ids.len() as u64)
    }

    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.put_document_version(kind, project_id, id, &body.to_string(), 0)
            .await
    }

    async fn get_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.latest_document(kind, project_id, id).await
    }

    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let sql = format!(
            "SELECT id, argMax(body, _version) AS b, argMax(deleted, _version) AS d FROM documents \
             WHERE kind = {} AND project_id = {} GROUP BY id HAVING d = 0 ORDER BY id",
            lit(kind),
            lit(project_id)
        );
        common::documents_from(self.select(&sql).await?)
    }

    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError> {
        if self.latest_document(kind, project_id, id).await?.is_none() {
            return Ok(false);
        }
        self.put_document_version(kind, project_id, id, "", 1).await?;
        Ok(true)
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let row = serde_json::json!({
            "id": e.id, "project_id": e.project_id, "at": e.at, "actor": e.actor, "action": e.action,
            "target": e.target, "details": e.details.to_string(),
        });
        self.insert(&format!("audit_log ({AUDIT_COLUMNS})"), json_rows([row]))
            .await
    }

    async fn list_audit(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = project_id
            .map(|p| format!("WHERE ifNull(project_id, '') = {} ", lit(p)))
            .unwrap_or_default();
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log FINAL {filter}ORDER BY at DESC, id DESC LIMIT {limit}"
        );
        self.select(&sql)
            .await?
            .rows
            .iter()
            .map(|r| common::audit_from_values(r))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_and_cancelled_queries_are_unavailable_syntax_errors_are_not() {
        use reqwest::StatusCode;
        let unavailable = |status, text| matches!(server_error(status, text), StoreError::Unavailable(_));
        let e500 = StatusCode::INTERNAL_SERVER_ERROR;
        assert!(unavailable(
            e500,
            "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space"
        ));
        assert!(unavailable(e500, "Code: 394. DB::Exception: Query was cancelled"));
        assert!(unavailable(e500, "Code: 236. DB::Exception: Aborted"));
        assert!(unavailable(StatusCode::BAD_GATEWAY, "<html>proxy</html>"));
        assert!(!unavailable(e500, "Code: 62. DB::Exception: Syntax error"));
        assert!(!unavailable(
            StatusCode::BAD_REQUEST,
            "Code: 243. DB::Exception: ..."
        ));
    }

    #[test]
    fn escapes_literals() {
        assert_eq!(lit(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn normalizes_values_by_type() {
        assert_eq!(ch_value("UInt64", Value::from("42")), Value::from(42));
        assert_eq!(ch_value("Nullable(Int64)", Value::Null), Value::Null);
        assert_eq!(
            ch_value("Array(Int64)", serde_json::json!(["1", "2"])),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            ch_value("Decimal(9, 2)", serde_json::json!(1.5)),
            serde_json::json!(1.5)
        );
        assert_eq!(
            ch_value("Decimal(18, 0)", serde_json::json!(7)),
            serde_json::json!(7)
        );
        assert_eq!(
            ch_value("Tuple(String, UInt8)", serde_json::json!(["a", 1])),
            serde_json::json!(["a", 1])
        );
        assert_eq!(ch_value("Float64", Value::from("nan")), Value::Null);
        assert_eq!(
            ch_value("Date", Value::from("2026-01-02")),
            Value::from("2026-01-02")
        );
    }

    #[test]
    fn parses_locations() {
        let s = ClickHouseStore::connect("http://u:p%40ss@127.0.0.1:8123/analytics?max_threads=2").unwrap();
        assert_eq!(s.database(), "analytics");
        assert_eq!(
            s.location(),
            "http://u:***@127.0.0.1:8123/analytics?max_threads=2"
        );
        let q: Vec<(String, String)> = s.base.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert!(q.contains(&("password".into(), "p@ss".into())), "{q:?}");
        assert_eq!(
            ClickHouseStore::connect("http://h:8123").unwrap().database(),
            "default"
        );
        assert!(ClickHouseStore::connect("http://h:8123/bad-name").is_err());
    }

    /// `timeout` / `query_timeout` are ours: parsed, not sent to the server as settings.
    #[test]
    fn takes_the_timeouts_off_the_settings() {
        let s =
            ClickHouseStore::connect("http://h:8123/db?timeout=3&max_threads=2&query_timeout=60").unwrap();
        assert_eq!(
            s.timeouts,
            Timeouts {
                operation: Duration::from_secs(3),
                query: Duration::from_secs(60)
            }
        );
        let keys: Vec<String> = s.base.query_pairs().map(|(k, _)| k.into()).collect();
        assert_eq!(keys, ["max_threads"]);
        assert_eq!(
            ClickHouseStore::connect("http://h:8123").unwrap().timeouts,
            Timeouts::default()
        );
        for bad in ["timeout=0", "timeout=x", "query_timeout=-1"] {
            assert!(
                ClickHouseStore::connect(&format!("http://h:8123/db?{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    /// A server that accepts connections and never answers (a hung ClickHouse): calls fail as
    /// unavailable after the timeout instead of waiting forever.
    #[tokio::test]
    async fn a_server_that_never_answers_is_unavailable() {
        let (addr, hold) = crate::store::silent_server().await;
        let s = ClickHouseStore::connect(&format!("http://{addr}/db?timeout=1&query_timeout=1")).unwrap();
        assert!(matches!(s.ping().await, Err(StoreError::Unavailable(_))));
        assert!(matches!(
            s.query("SELECT 1").await,
            Err(StoreError::Unavailable(_))
        ));
        hold.abort();
    }
}
