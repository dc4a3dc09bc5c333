//! The embedded default store: DuckDB in `DIR/footfall.duckdb` (or in memory).
//!
//! # Concurrency
//! A DuckDB `Connection` is `Send` but not `Sync`. The store keeps one writer connection behind a
//! mutex (DuckDB allows one writing process per file anyway, and the collector group-commits) and
//! a small pool of reader connections (`try_clone`s of the writer, sharing the database), so
//! queries run while a commit is in progress (MVCC). Every call runs on tokio's blocking pool
//! (`spawn_blocking`): async callers never block the runtime. Opening the same directory twice in
//! one process returns the same database (DuckDB would otherwise open a second, diverging
//! instance of the file).
//!
//! # Write path
//! [`Store::write`] decides dedupe in memory, by a digest set of every stored or logged
//! (project_id, message_id) (see [`keys`] for why this replaces a primary key, and for its
//! exactness), appends what is new to the intake log in `DIR/intake/` and fsyncs it: then the
//! write is durable and acknowledged. A loader thread moves logged writes into DuckDB in
//! transactions of two row groups (or after at most a second): events by one `INSERT … SELECT`
//! from a table function reading the logged records in place (see [`scan`]),
//! identity links through a connection-local temp table and the first-link-wins upsert, dead
//! letters appended — see [`intake`] for why, and for its exactly-once replay after a crash.
//! Every read of events or identities (queries, export, the identity lookup) first loads what
//! is pending, and erasure and retention run with the log held, so what was acknowledged is
//! always visible and always erased. An in-memory database keeps the same pending queue without
//! a file.
//!
//! # Schema (see [`super::sql::schema_v1`])
//! Text columns are `TEXT` (VARCHAR), times `BIGINT` ms, `is_bot BOOLEAN`. Keys: identities
//! `PRIMARY KEY (project_id, anonymous_id)`, documents `(kind, project_id, id)`, audit_log `(id)`;
//! events' uniqueness of (project_id, message_id) is enforced by the store (above), dead_letters
//! has no key. No secondary indexes: DuckDB's ART indexes only serve point lookups and would slow
//! ingestion, while its per-row-group min/max zonemaps already prune `project_id`/`ts`/`event`
//! range filters (events arrive roughly in time order).
//!
//! Version 2 ([`super::sql::SCHEMA_V2_DUCKDB_COLUMNS`]) adds the integer identity keys
//! (`events.rid_key`, `identities.anon_key` / `user_key`, see [`super::common::id_key`]): the
//! loader computes them in Rust as it appends (the intake log's encoding is unchanged, so a log
//! written before the upgrade loads too), the migration computes them in SQL for the rows already
//! stored, in resumable chunks of rows.
//!
//! # Settings and fatal errors
//! `duckdb:DIR?memory_limit=2GB&threads=2` opens the store with DuckDB settings (see
//! [`settings`]), and a database instance that DuckDB invalidates after a fatal error (a
//! checkpoint on a full disk) is closed and opened again by the store itself (see
//! [`connection`]); the directory's lock keeps other processes out meanwhile (see [`dir_lock`]).
//!
//! # Backup and restore
//! [`Store::backup`] loads what the intake log holds and opens a snapshot transaction on a
//! connection of its own, both with the writer and the log held (so the snapshot holds every
//! write acknowledged before the call), then releases them and runs DuckDB's `EXPORT DATABASE …
//! (FORMAT parquet)` in that snapshot: ingestion goes on meanwhile (MVCC), its writes land in the
//! next backup. The export is DuckDB's portable format (a `schema.sql`, a `load.sql` and one
//! Parquet file per table), readable by later DuckDB versions. [`DuckDbStore::restore`] runs
//! `IMPORT DATABASE` into a new database file. `intake_state` travels with the tables, so the
//! restored store continues the intake log's sequence numbers.
//!
//! # Files
//! This file holds the store's state and the [`Store`] glue; `open.rs` opening a directory or
//! memory, `blocking.rs` how a call reaches the writer or a reader on tokio's blocking pool,
//! `schema.rs` the migrations, `erasure.rs` erasure, `backup.rs` backup and restore, and the
//! modules linked above for the intake log, its loader (each load's transaction in `insert.rs`)
//! and the connection's upkeep.

mod backup;
mod blocking;
mod connection;
mod dir_lock;
mod erasure;
mod insert;
mod intake;
mod keys;
mod loader;
mod open;
mod scan;
mod schema;
mod settings;
mod values;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, RwLock};

use ::duckdb::{Connection, ToSql};
use async_trait::async_trait;
use serde_json::Value;

use self::backup::backup_blocking;
use self::blocking::{execute, query_blocking, run_blocking};
use self::erasure::{delete_events, erase_anonymous_blocking, erase_blocking, linked_user_in};
use self::loader::Intake;
use self::schema::migrate_blocking;
pub use self::settings::{Settings, parse_settings};
use super::common::{self, EVENT_COLUMNS};
use super::{
    AuditEntry, BackupReport, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, WriteBatch,
    WriteReport, sql,
};

const DB_FILE: &str = "footfall.duckdb";

/// The embedded DuckDB store. Cheap to clone (shared connections).
#[derive(Clone)]
pub struct DuckDbStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Writer>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    path: Option<PathBuf>,
    /// The intake log and its loader's signals (see [`intake`]).
    intake: Arc<Intake>,
    /// What replaying the intake log at open skipped as damaged (see `IntakeLog::damaged_bytes`).
    damaged_bytes: u64,
    /// The location's DuckDB settings, applied at every open (see [`settings`]).
    settings: Settings,
    /// Held (shared) by whoever keeps a connection of the instance outside `writer` and
    /// `readers` (a backup); a reopen takes it exclusively (see [`connection`]).
    instance: RwLock<()>,
    /// How often the invalidated instance was reopened (see [`connection`]).
    reopens: AtomicU64,
    /// The data directory's lock, held while the store lives (see [`dir_lock`]).
    _dir_lock: Option<std::fs::File>,
    /// Whether the instance is closed and not open again yet (a reopen failed): the writer and
    /// the readers are stand-ins, and every call fails as unavailable (see [`connection`]).
    /// Changed with the writer and every reader held.
    closed: AtomicBool,
}

struct Writer {
    conn: Connection,
    /// Whether this connection's temp staging table exists (created after migration).
    staging_ready: bool,
    /// Whether the tables have the identity key columns (schema version 2), once known: a
    /// database of an older version loads its intake log before `migrate` adds them.
    keyed: Option<bool>,
    /// Hands the records of a load to `footfall_intake_scan()` (see [`scan`]).
    scan: scan::Slot,
    /// DuckDB's `threads` setting as configured (read once; loads lower it, see `insert`).
    threads: Option<i64>,
    /// When the next reopen may run (see [`connection`]).
    reopen: connection::Backoff,
}

fn err(e: ::duckdb::Error) -> StoreError {
    let msg = e.to_string();
    // I/O failures (disk full, file gone; at commit DuckDB reports them as "Could not write
    // file") and a database invalidated by one are outages: the collector answers 503 and the
    // client retries. Everything else is a query error.
    if msg.starts_with("IO Error")
        || msg.contains("Could not write file")
        || msg.contains("database has been invalidated")
    {
        StoreError::Unavailable(format!("duckdb: {msg}"))
    } else {
        StoreError::Query(format!("duckdb: {msg}"))
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("duckdb: a previous call panicked while holding the connection".into())
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
    m.lock().map_err(poisoned)
}

/// [`EVENT_COLUMNS`] as a list, for the loader's insert (schema version 1).
static EVENT_COLUMN_NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| EVENT_COLUMNS.split(',').map(str::trim).collect());

/// [`EVENT_COLUMN_NAMES`] and `rid_key` (schema version 2).
static KEYED_EVENT_COLUMN_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names = EVENT_COLUMN_NAMES.clone();
    names.push("rid_key");
    names
});

#[async_trait]
impl Store for DuckDbStore {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.with_settled_writer(|w, _| migrate_blocking(w)).await
    }

    async fn prepare_writes(&self) -> Result<(), StoreError> {
        self.with_settled_writer(loader::ensure_keys).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_plain_reader(|c| c.execute_batch("SELECT 1").map_err(err))
            .await
    }

    fn damaged_log_bytes(&self) -> u64 {
        self.inner.damaged_bytes
    }

    fn reopens(&self) -> u64 {
        self.inner.reopens.load(Ordering::Relaxed)
    }

    fn backlog(&self) -> Option<u64> {
        Some(self.inner.intake.backlog.load(Ordering::Relaxed))
    }

    async fn close(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        run_blocking(move || inner.close()).await?
    }

    async fn backup(&self, dir: &Path) -> Result<Option<BackupReport>, StoreError> {
        let (inner, dir) = (self.inner.clone(), dir.to_path_buf());
        run_blocking(move || backup_blocking(&inner, &dir).map(Some)).await?
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        if batch.events.is_empty() && batch.links.is_empty() && batch.dead_letters.is_empty() {
            return Ok(WriteReport::default());
        }
        let inner = self.inner.clone();
        let (report, duplicates) = run_blocking(move || inner.intake_write(batch)).await?;
        // The rows were allocated by request tasks on the runtime's workers: freeing the
        // duplicates there, not on the blocking thread, keeps those frees thread-local.
        drop(duplicates);
        report
    }

    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        let sql = sql.to_string();
        self.with_reader(move |c| query_blocking(c, &sql, &[])).await
    }

    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        let (p, u) = (project_id.to_string(), user_id.to_string());
        self.with_settled_writer(move |w, log| erase_blocking(w, &mut log.keys, &p, &u))
            .await
    }

    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let (p, u) = (project_id.to_string(), user_id.to_string());
        let result = self
            .with_reader(move |c| query_blocking(c, &sql::export_person(), &[&p, &u]))
            .await?;
        result.rows.iter().map(|r| common::event_from_values(r)).collect()
    }

    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        let p = project_id.to_string();
        self.with_settled_writer(move |w, log| {
            let tx = w.conn.transaction().map_err(err)?;
            let n = delete_events(&tx, &mut log.keys, sql::DELETE_EVENTS_BEFORE, &[&p, &cutoff_ms])?;
            tx.commit().map_err(err)?;
            Ok(n)
        })
        .await
    }

    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        let (p, a) = (project_id.to_string(), anonymous_id.to_string());
        self.with_reader(move |c| linked_user_in(c, &p, &a)).await
    }

    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        let (p, a) = (project_id.to_string(), anonymous_id.to_string());
        self.with_settled_writer(move |w, log| erase_anonymous_blocking(w, &mut log.keys, &p, &a))
            .await
    }

    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (p, a) = (project_id.to_string(), anonymous_id.to_string());
        let result = self
            .with_reader(move |c| match linked_user_in(c, &p, &a)? {
                Some(u) => query_blocking(c, &sql::export_person(), &[&p, &u]),
                None => query_blocking(c, &sql::export_anonymous(), &[&p, &a]),
            })
            .await?;
        result.rows.iter().map(|r| common::event_from_values(r)).collect()
    }

    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        let p = project_id.to_string();
        self.with_settled_writer(move |w, _| {
            execute(w, &sql::clear_sessions_before(), &[&p, &cutoff_ms]).map(|n| n as u64)
        })
        .await
    }

    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        let p = project_id.to_string();
        self.with_settled_writer(move |w, _| {
            execute(w, sql::DELETE_LINKS_BEFORE, &[&p, &cutoff_ms]).map(|n| n as u64)
        })
        .await
    }

    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        let args = [
            kind.to_string(),
            project_id.to_string(),
            id.to_string(),
            body.to_string(),
        ];
        self.with_writer(move |w| {
            execute(
                w,
                sql::DOC_UPSERT,
                &[&args[0], &args[1], &args[2], &args[3], &common::now_ms()],
            )
            .map(|_| ())
        })
        .await
    }

    async fn get_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        let args = [kind.to_string(), project_id.to_string(), id.to_string()];
        let r = self
            .with_plain_reader(move |c| query_blocking(c, sql::DOC_GET, &[&args[0], &args[1], &args[2]]))
            .await?;
        common::document_from(r)
    }

    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let args = [kind.to_string(), project_id.to_string()];
        let r = self
            .with_plain_reader(move |c| query_blocking(c, sql::DOC_LIST, &[&args[0], &args[1]]))
            .await?;
        common::documents_from(r)
    }

    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError> {
        let args = [kind.to_string(), project_id.to_string(), id.to_string()];
        let n = self
            .with_writer(move |w| execute(w, sql::DOC_DELETE, &[&args[0], &args[1], &args[2]]))
            .await?;
        Ok(n > 0)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let e = entry.clone();
        self.with_writer(move |w| {
            let details = e.details.to_string();
            let params: [&dyn ToSql; 7] = [
                &e.id,
                &e.project_id,
                &e.at,
                &e.actor,
                &e.action,
                &e.target,
                &details,
            ];
            execute(w, &sql::audit_insert(), &params).map(|_| ())
        })
        .await
    }

    async fn list_audit(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let p = project_id.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let r = self
            .with_plain_reader(move |c| match &p {
                Some(p) => query_blocking(c, &sql::audit_list(true), &[p, &limit]),
                None => query_blocking(c, &sql::audit_list(false), &[&limit]),
            })
            .await?;
        r.rows.iter().map(|row| common::audit_from_values(row)).collect()
    }
}
