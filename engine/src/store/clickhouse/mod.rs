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
//!
//! # Files
//! This file holds the store, its location parsing and the [`Store`] glue; `http.rs` the
//! requests (escaping with [`lit`], error classification, result decoding), `schema.rs` the
//! migrations, `write.rs` the existence lookup and inserts, `mutations.rs` erasure and retention
//! (the mutations and the `system.mutations` polling), `tests.rs` the unit tests.

mod http;
mod mutations;
mod schema;
#[cfg(test)]
mod tests;
mod write;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::Value;

pub use self::http::lit;
use self::http::{json_rows, percent_decode};
use self::mutations::anonymous_filter;
use super::common::{self, AUDIT_COLUMNS};
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

/// Default time to wait for erasure / retention mutations to finish (10 minutes).
const DEFAULT_MUTATION_TIMEOUT: Duration = Duration::from_secs(600);

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

#[async_trait]
impl Store for ClickHouseStore {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_schema().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.select("SELECT 1").await.map(|_| ())
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        self.write_batch(batch).await
    }

    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.select_within(sql, self.timeouts.query).await
    }

    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        self.erase_person_by_mutation(project_id, user_id).await
    }

    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let (_, filter) = self.person(project_id, user_id).await?;
        self.events_where(&filter).await
    }

    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.delete_events_by_mutation(project_id, cutoff_ms).await
    }

    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT user_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND anonymous_id = {}",
            lit(project_id),
            lit(anonymous_id)
        );
        Ok(common::first_text(self.select(&sql).await?))
    }

    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        common::erase_anonymous_or_person(self, project_id, anonymous_id, || {
            self.erase_unlinked_anonymous_by_mutation(project_id, anonymous_id)
        })
        .await
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
        self.clear_sessions_by_mutation(project_id, cutoff_ms).await
    }

    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.delete_identities_by_mutation(project_id, cutoff_ms).await
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
