//! Storage: one trait, one module per backend, one shared test suite.
//!
//! The collector writes through [`Store::write`] (durable: `Ok` means committed — for the
//! embedded DuckDB store, fsynced to its intake log and visible to every later read) and the query
//! layer reads through [`Store::query`] with SQL it generates for the backend's [`Dialect`].
//!
//! # Canonical schema (every backend creates these tables in [`Store::migrate`])
//!
//! `events` — one row per (project_id, message_id), always (exact dedupe):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | project_id | text | owning project |
//! | message_id | text | the SDK's messageId |
//! | type | text | track, page, screen, identify, group, alias |
//! | event | text | normalized event name: track → its `event`; page → `page_view`; screen → `screen_view`; identify → `$identify`; group → `$group`; alias → `$alias` |
//! | ts | int64 | event time, ms since the Unix epoch, UTC, corrected for client clock skew |
//! | received_at | int64 | server receive time, ms |
//! | sent_at | int64 null | client send time, ms |
//! | original_timestamp | text null | the client's timestamp as sent |
//! | anonymous_id, user_id, session_id, group_id | text null | identity and session |
//! | browser, os, device_type | text null | parsed from the user agent |
//! | is_bot | bool (UInt8 on ClickHouse) | flagged by user agent; excluded from analytics by default |
//! | ip | text null | truncated unless the project stores raw IPs |
//! | properties, traits, context | text (JSON object) | as received, after privacy enforcement |
//! | rid_key | int64 | the raw identity as an integer: [`rid_key`] of (user_id, anonymous_id) (schema version 2) |
//!
//! `identities(project_id, anonymous_id, user_id, linked_at, anon_key, user_key)` — first link
//! wins per (project_id, anonymous_id); `anon_key` / `user_key` are [`id_key`] of the ids
//! (schema version 2; the keys let the query layer group and join persons by integers). `dead_letters(project_id, received_at, reason, message_id, payload)`.
//! `documents(kind, project_id, id, body, updated_at)` — JSON documents: dashboards, saved
//! segments, alerts, privacy settings, suppression entries. `audit_log(id, project_id, at, actor,
//! action, target, details)`.
//!
//! Person id (resolved at query time, see the query layer):
//! `coalesce(events.user_id, identities.user_id, events.anonymous_id)`.
//!
//! # Opening a store
//!
//! [`open_store`] picks the backend from a location: `postgres://…` / `postgresql://…` →
//! [`PostgresStore`]; `http://host:8123/db` / `https://…` → [`ClickHouseStore`]; `duckdb:PATH`
//! (`duckdb:PATH?memory_limit=2GB&threads=2`: with DuckDB settings), `:memory:` or any other
//! string (a directory) → [`DuckDbStore`]. Call [`Store::migrate`] once
//! before use (idempotent; safe to run from several processes at once).
//!
//! # Reading events and identities: use the dedupe-safe relations
//!
//! On DuckDB and PostgreSQL the store guarantees the schema's uniqueness on insert, so `events`
//! and `identities` can be read directly. ClickHouse cannot check uniqueness on insert (several
//! collectors may insert the same message concurrently): its `events` table is a
//! `ReplacingMergeTree` keyed by (project_id, message_id) in which duplicates collapse in
//! background merges, and `identities` keeps every distinct (anonymous_id, user_id) pair. The query
//! layer must therefore read through:
//!
//! * [`events_relation`] / [`events_from`] — `events` (DuckDB, PostgreSQL) or `events FINAL`
//!   (ClickHouse; note its syntax `events AS e FINAL`, alias before `FINAL`).
//! * [`identities_relation`] — `identities`, or on ClickHouse a subquery with the winning link
//!   per (project_id, anonymous_id) and the same four columns.
//!
//! On every backend these relations hold exactly one row per (project_id, message_id) and per
//! (project_id, anonymous_id).
//!
//! # Semantics shared by all backends (one test suite: engine/tests/store_suite.rs)
//!
//! * **Dedupe**: the first stored copy of a (project_id, message_id) wins; later copies (in the
//!   same batch or stored before) are reported in [`WriteReport::duplicates`], in ascending index
//!   order. PostgreSQL: exact, by primary key, also between concurrent writers. DuckDB (one
//!   writing process per file): exact up to a 128-bit SHA-256 digest per key, kept in memory
//!   instead of a primary key for ingestion speed (see `store/duckdb/keys.rs`). ClickHouse: the
//!   report is best effort — a copy stored earlier is reported, but two writers inserting the same
//!   new message at the same moment both count it as inserted; reads through [`events_relation`]
//!   still see exactly one copy (the one received first).
//! * **Identity**: first link wins per (project_id, anonymous_id), "first" being the earliest
//!   `linked_at` (ties: the smaller `user_id`, bytewise), so the result never depends on arrival
//!   order: an earlier link arriving later replaces a later one.
//! * **Erasure**: the person's ids are `user_id` plus every anonymous id whose winning link points
//!   to it. [`Store::erase_person`] deletes the events whose `user_id` or `anonymous_id` is one of
//!   them, the identity links of those ids, and the project's dead letters whose payload contains
//!   one of the ids as a JSON string (not counted in [`EraseReport`]; logged). ClickHouse returns
//!   only after its delete mutations finished.
//!   [`Store::export_person`] returns the same set of events, ordered by (ts, message_id).
//!   [`Store::erase_anonymous`] / [`Store::export_anonymous`] name the person by an anonymous id:
//!   its linked user when it has one, else just the events carrying that anonymous id.
//! * **Retention**: [`Store::delete_events_before`] (events), [`Store::clear_sessions_before`]
//!   (sessions: old events keep everything but their `session_id`),
//!   [`Store::delete_identities_before`] (users: old anonymous id → user id links). ClickHouse
//!   returns after its mutations finished.
//! * **Query results**: integers (and decimals of scale 0, e.g. PostgreSQL's `sum(bigint)`) as
//!   JSON integers, other numbers as floats (NaN/∞ as null), **booleans as 0/1** (ClickHouse has
//!   no boolean type), dates as `YYYY-MM-DD`, timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC),
//!   arrays as JSON arrays, everything else as strings.
//! * **Audit log**: [`Store::list_audit`] with `None` lists every project's entries (and those
//!   without a project), ordered by (`at`, `id`) descending; appending an entry whose id exists is
//!   a no-op (idempotent retries). `at` is quoted in SQL (`"at"`): it is a DuckDB keyword.
//! * **Documents**: [`Store::list_documents`] orders by id bytewise on every backend.
//! * **Read-only queries**: [`Store::query`] runs in a read-only transaction (DuckDB,
//!   PostgreSQL) or with `readonly=2` (ClickHouse), one statement per call; a statement that
//!   writes fails with [`StoreError::Query`]. Connection failures and overload are
//!   [`StoreError::Unavailable`] (the collector's 503).
//!
//! The schema as created per backend (types, keys, indexes) is documented in each backend module.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod clickhouse;
mod common;
pub mod duckdb;
pub mod postgres;
mod sql;

pub use self::clickhouse::ClickHouseStore;
pub use self::common::{id_key, redact_location, rid_key};
pub use self::duckdb::DuckDbStore;
pub use self::postgres::PostgresStore;

/// SQL dialect of a backend; the query layer generates SQL per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    DuckDb,
    Postgres,
    ClickHouse,
}

/// One stored event (see the schema table above for each column's meaning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub project_id: String,
    pub message_id: String,
    /// Segment type: track, page, screen, identify, group, alias.
    pub kind: String,
    pub event: String,
    pub ts: i64,
    pub received_at: i64,
    pub sent_at: Option<i64>,
    pub original_timestamp: Option<String>,
    pub anonymous_id: Option<String>,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub group_id: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device_type: Option<String>,
    pub is_bot: bool,
    pub ip: Option<String>,
    /// JSON object text.
    pub properties: String,
    /// JSON object text.
    pub traits: String,
    /// JSON object text.
    pub context: String,
}

/// anonymousId → userId; the first link per (project, anonymous id) wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    pub project_id: String,
    pub anonymous_id: String,
    pub user_id: String,
    pub linked_at: i64,
}

/// A message the collector refused, kept with its reason (nothing is silently dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub project_id: Option<String>,
    pub received_at: i64,
    pub reason: String,
    pub message_id: Option<String>,
    /// The message as received (or the raw body when it could not be parsed), truncated to 64 KB.
    pub payload: String,
}

/// Everything one commit writes, atomically where the backend allows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    pub events: Vec<EventRow>,
    pub links: Vec<IdentityLink>,
    pub dead_letters: Vec<DeadLetter>,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReport {
    /// Events newly stored.
    pub inserted: usize,
    /// Indexes into `WriteBatch::events` that were already stored (same project and messageId).
    pub duplicates: Vec<usize>,
}

/// Rows returned by [`Store::query`], values normalized to JSON (integers as i64, decimals as
/// f64, text as strings, NULL as null).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// One admin action in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub project_id: Option<String>,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
}

/// What erasing a person removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseReport {
    pub events_deleted: u64,
    pub identity_links_deleted: u64,
    /// The user id and every anonymous id that was linked to it.
    pub ids: Vec<String>,
}

/// What [`Store::backup`] wrote: counts read in the backup's own snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// Events in the backup.
    pub events: u64,
    /// The schema version of the backed-up database.
    pub schema_version: i64,
}

/// Errors at the storage boundary. The collector maps `Unavailable` to 503 + Retry-After.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage query failed: {0}")]
    Query(String),
    #[error("invalid storage location: {0}")]
    Config(String),
}

/// A storage backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// Creates or migrates the schema; idempotent.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Cheap reachability check for `/ready`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Events acknowledged (durable) but not yet moved into the backend's tables: the embedded
    /// store's intake log (reads load it first, so they are never invisible). `None` for backends
    /// that commit straight into their tables. Cheap; never blocks.
    fn backlog(&self) -> Option<u64> {
        None
    }
    /// Bytes of the store's own log that the last open found damaged and skipped — they may have
    /// held acknowledged events (the embedded store's intake log; also logged with the file and
    /// offset). 0 for backends without such a log, and when nothing was damaged.
    fn damaged_log_bytes(&self) -> u64 {
        0
    }
    /// Prepares for a stream of writes, before a serving process takes requests, so that the
    /// first ones do not wait: the embedded store loads its dedupe set (a digest per stored
    /// event; seconds for tens of millions). Writes work without it (the first one loads it);
    /// read-only commands skip it. Default: nothing.
    async fn prepare_writes(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Starts background upkeep that a long-running (serving) process should do and a one-shot
    /// command should not start: PostgreSQL builds the index Live events needs concurrently (see
    /// `store/postgres/arrival_index.rs`). Returns at once; failures are logged. Default: nothing.
    fn start_maintenance(&self) {}
    /// How often the store reopened its database after the database itself declared it
    /// unusable (the embedded store: DuckDB invalidates its instance after a fatal error such as
    /// a checkpoint on a full disk; the store closes and opens the file again). 0 for backends
    /// that reconnect by themselves.
    fn reopens(&self) -> u64 {
        0
    }
    /// Called once when the process is about to exit, after the last write: moves everything
    /// acknowledged into the backend's own files and stops background work, so that those files
    /// alone are complete (the embedded store loads its intake log, checkpoints DuckDB and joins
    /// its loader thread). Nothing is lost without it (the intake log is replayed at the next
    /// open), it only makes that open fast. Default: nothing.
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Online backup: writes a consistent snapshot of every table into the directory `dir`
    /// (which must not exist yet) while writes go on. Everything acknowledged before the call is
    /// in it; writes acknowledged during the call may or may not be (they are in the next one).
    /// `Ok(None)`: the backend has no such backup (PostgreSQL, ClickHouse: use the database's own
    /// tools). Default: `Ok(None)`.
    async fn backup(&self, dir: &std::path::Path) -> Result<Option<BackupReport>, StoreError> {
        let _ = dir;
        Ok(None)
    }
    /// Durably stores events (skipping duplicates), identity links (first wins) and dead letters.
    /// `Ok` means committed.
    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError>;
    /// Runs read-only SQL generated by the query layer for [`Store::dialect`].
    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError>;
    /// Deletes every event and identity link of `user_id` and of every anonymous id linked to it.
    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError>;
    /// Every stored event of `user_id` and of every anonymous id linked to it, oldest first
    /// (right of access).
    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError>;
    /// Deletes events with `ts` before `cutoff_ms`; returns how many.
    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError>;
    /// The user id `anonymous_id` is linked to (its winning identity link), if any.
    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError>;
    /// Erases the person an anonymous id (cookie, device id) names: when it is linked to a user,
    /// that user exactly as [`Store::erase_person`] (the report's `ids` start with the user id);
    /// otherwise every event carrying that anonymous id and the project's dead letters mentioning
    /// it (`ids` is just the anonymous id).
    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError>;
    /// The events of the person an anonymous id names (as [`Store::erase_anonymous`] selects
    /// them), oldest first.
    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// Sessions retention: clears `session_id` of events with `ts` before `cutoff_ms` (the events
    /// stay); returns how many events had one.
    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError>;
    /// Users retention: deletes the identity links (anonymous id → user id) whose winning link
    /// was made before `cutoff_ms`; returns how many anonymous ids lost their link.
    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError>;
    /// Upserts a JSON document.
    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError>;
    async fn get_document(&self, kind: &str, project_id: &str, id: &str)
    -> Result<Option<Value>, StoreError>;
    /// All documents of a kind in a project, as (id, body), ordered by id.
    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError>;
    /// Returns whether a document was deleted.
    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError>;
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_audit(&self, project_id: Option<&str>, limit: usize)
    -> Result<Vec<AuditEntry>, StoreError>;
}

/// The dedupe-safe relation to read `events` from, for use without an alias:
/// `events` on DuckDB and PostgreSQL, `events FINAL` on ClickHouse.
pub fn events_relation(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::DuckDb | Dialect::Postgres => "events",
        Dialect::ClickHouse => "events FINAL",
    }
}

/// The dedupe-safe `FROM` item for `events` under `alias`: `events AS e`, or on ClickHouse
/// `events AS e FINAL` (ClickHouse wants the alias before `FINAL`).
pub fn events_from(dialect: Dialect, alias: &str) -> String {
    match dialect {
        Dialect::DuckDb | Dialect::Postgres => format!("events AS {alias}"),
        Dialect::ClickHouse => format!("events AS {alias} FINAL"),
    }
}

/// The relation holding exactly the winning identity link per (project_id, anonymous_id), with
/// the columns project_id, anonymous_id, user_id, linked_at. Append an alias after it
/// (`{identities_relation} AS i`). A plain table on DuckDB and PostgreSQL; a subquery on
/// ClickHouse, whose table keeps every distinct (anonymous_id, user_id) pair.
pub fn identities_relation(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::DuckDb | Dialect::Postgres => "identities",
        Dialect::ClickHouse => clickhouse::IDENTITIES_RELATION,
    }
}

/// Opens the store at `location` (see the module docs for the forms). Does not touch the schema:
/// call [`Store::migrate`] before use. Errors name the location (with any password hidden).
pub fn open_store(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    let trimmed = location.trim();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(trimmed)?));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Arc::new(ClickHouseStore::connect(trimmed)?));
    }
    let path = trimmed.strip_prefix("duckdb:").unwrap_or(trimmed);
    if path.is_empty() {
        return Err(StoreError::Config(format!(
            "empty storage location {location:?}: give a directory, duckdb:PATH, postgres://… or http://host:8123/db"
        )));
    }
    if path == ":memory:" {
        return Ok(Arc::new(DuckDbStore::open_in_memory()?));
    }
    // `duckdb:PATH?name=value&…`: DuckDB settings (see `duckdb/connection.rs`).
    if trimmed.starts_with("duckdb:")
        && let Some((dir, settings)) = path.split_once('?')
    {
        return Ok(Arc::new(DuckDbStore::open_with(
            dir,
            self::duckdb::parse_settings(settings)?,
        )?));
    }
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(StoreError::Config(format!(
            "unsupported storage location {:?}: scheme {scheme:?} is not one of postgres, postgresql, http, https \
             (a directory or duckdb:PATH selects the embedded DuckDB store)",
            common::redact_location(location)
        )));
    }
    Ok(Arc::new(DuckDbStore::open(path)?))
}

/// How long a server backend (PostgreSQL, ClickHouse) waits for its database before the call
/// fails with [`StoreError::Unavailable`] (the collector's 503 + Retry-After): a database that
/// hangs (paused, overloaded, a network path that drops packets) must not hang ingestion past the
/// SDKs' own timeout (10 s). Set per location with the parameters `timeout=SECS` and
/// `query_timeout=SECS` (positive integers; our parameters, not sent to the server).
///
/// The time a call took is not a verdict on its effect: a write that timed out may still commit
/// on the server; its client retries and the retry is deduplicated by messageId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `timeout`: ingestion writes, `/ready`'s ping, documents, audit log, identity lookups,
    /// connecting. Default 5 s.
    pub operation: std::time::Duration,
    /// `query_timeout`: the query layer's queries, exports and erasures (which may scan much).
    /// Default 30 s.
    pub query: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            operation: std::time::Duration::from_secs(5),
            query: std::time::Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// Takes `key=value` when it is one of the timeout parameters (`Ok(true)`); `Ok(false)` for
    /// any other parameter.
    pub(crate) fn take_param(&mut self, key: &str, value: &str) -> Result<bool, StoreError> {
        let slot = match key {
            "timeout" => &mut self.operation,
            "query_timeout" => &mut self.query,
            _ => return Ok(false),
        };
        match value.parse::<u64>() {
            Ok(secs) if secs > 0 => {
                *slot = std::time::Duration::from_secs(secs);
                Ok(true)
            }
            _ => Err(StoreError::Config(format!(
                "{key}={value:?}: give a whole number of seconds greater than 0"
            ))),
        }
    }
}

/// Runs `op` for at most `limit`; no answer in time is [`StoreError::Unavailable`], naming
/// `backend` and the limit.
pub(crate) async fn within<T>(
    backend: &str,
    limit: std::time::Duration,
    op: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "{backend}: no answer within {} s",
            limit.as_secs()
        ))),
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers (a hung database), for
/// the server backends' timeout tests; abort the handle to stop it.
#[cfg(test)]
pub(crate) async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    (addr, hold)
}
