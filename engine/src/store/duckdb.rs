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

mod connection;
mod dir_lock;
mod intake;
mod keys;
mod loader;
mod scan;
mod settings;
mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, RwLock, Weak};

use ::duckdb::types::Value as DValue;
use ::duckdb::{Connection, ToSql, params};
use async_trait::async_trait;
use serde_json::Value;

use self::intake::IntakeLog;
use self::keys::KeySet;
use self::loader::Intake;
pub use self::settings::{Settings, parse_settings};
use super::common::{self, EVENT_COLUMNS};
use super::{
    AuditEntry, BackupReport, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, WriteBatch,
    WriteReport, sql,
};

/// Number of reader connections (queries run concurrently with each other and with a commit).
const READERS: usize = 4;
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
    /// DuckDB's `threads` setting as configured (read once; loads lower it, see `loader`).
    threads: Option<i64>,
    /// When the next reopen may run (see [`connection`]).
    reopen: connection::Backoff,
}

/// Databases open in this process, by canonical file path.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

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

impl DuckDbStore {
    /// Opens (creating if needed) the database `dir/footfall.duckdb`, creating `dir` too. Opening
    /// a directory that is already open in this process shares that store.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(dir, Settings::new())
    }

    /// [`Self::open`] with DuckDB settings (`(name, value)`, see [`settings`]), applied when
    /// the file is opened (a directory already open in this process keeps its settings).
    pub fn open_with(dir: impl AsRef<Path>, settings: Settings) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!("cannot create the data directory {}: {e}", dir.display()))
        })?;
        let dir = dir.canonicalize().map_err(|e| {
            StoreError::Config(format!(
                "cannot resolve the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE);
        let mut open = OPEN.lock().map_err(poisoned)?;
        open.retain(|_, weak| weak.strong_count() > 0);
        if let Some(inner) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(Self { inner });
        }
        let dir_lock = dir_lock::acquire(&dir)?;
        let conn = Connection::open(&path).map_err(|e| {
            StoreError::Config(format!("cannot open the DuckDB database {}: {e}", path.display()))
        })?;
        let store = Self::from_connection(
            conn,
            Some(path.clone()),
            Some(dir.join(loader::INTAKE_DIR)),
            settings,
            Some(dir_lock),
        )?;
        open.insert(path, Arc::downgrade(&store.inner));
        Ok(store)
    }

    /// A private in-memory database (tests, demos): gone when the store is dropped.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(err)?;
        Self::from_connection(conn, None, None, Settings::new(), None)
    }

    /// Sets DuckDB up, replays the intake log in `log_dir` (`None`: no file) and starts its
    /// loader.
    fn from_connection(
        conn: Connection,
        path: Option<PathBuf>,
        log_dir: Option<PathBuf>,
        settings: Settings,
        dir_lock: Option<std::fs::File>,
    ) -> Result<Self, StoreError> {
        settings::apply_settings(&conn, &settings)?;
        let loaded_seq = loader::prepare_state(&conn)?;
        let log = IntakeLog::open(log_dir.clone(), loaded_seq).map_err(|e| {
            StoreError::Unavailable(format!("duckdb: cannot read the intake log in {log_dir:?}: {e}"))
        })?;
        let damaged_bytes = log.damaged_bytes;
        let readers = (0..READERS)
            .map(|_| conn.try_clone().map(Mutex::new).map_err(err))
            .collect::<Result<Vec<_>, _>>()?;
        let slot = scan::Slot::default();
        conn.register_table_function_with_extra_info::<scan::IntakeScan, scan::Slot>(
            scan::SCAN_FUNCTION,
            &slot,
        )
        .map_err(err)?;
        let inner = Arc::new(Inner {
            writer: Mutex::new(Writer {
                conn,
                staging_ready: false,
                keyed: None,
                scan: slot,
                threads: None,
                reopen: connection::Backoff::default(),
            }),
            readers,
            next_reader: AtomicUsize::new(0),
            path,
            intake: Arc::new(Intake::new(log)),
            damaged_bytes,
            settings,
            instance: RwLock::new(()),
            reopens: AtomicU64::new(0),
            _dir_lock: dir_lock,
            closed: AtomicBool::new(false),
        });
        // What the log holds beyond DuckDB (a crash before its load) is loaded before any use.
        inner.load_pending()?;
        loader::spawn(&inner);
        Ok(Self { inner })
    }

    /// Restores a backup written by [`Store::backup`] (the directory `from`) into a new database
    /// in the directory `data` (created if needed), which must not hold a database yet. Offline:
    /// nothing may have `data` open.
    pub fn restore(from: &Path, data: &Path) -> Result<(), StoreError> {
        std::fs::create_dir_all(data).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the data directory {}: {e}",
                data.display()
            ))
        })?;
        let path = data.join(DB_FILE);
        if path.exists() {
            return Err(StoreError::Config(format!(
                "{} already holds a database: restore into a new directory",
                data.display()
            )));
        }
        let conn = Connection::open(&path).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the DuckDB database {}: {e}",
                path.display()
            ))
        })?;
        conn.execute_batch(&format!("IMPORT DATABASE {}", sql_path(from)?))
            .map_err(err)?;
        conn.execute_batch("CHECKPOINT").map_err(err)?;
        conn.close().map_err(|(_, e)| err(e))
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    async fn with_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = inner.writer()?;
            let result = f(&mut w);
            drop(w);
            if let Err(e) = &result {
                inner.recover_from(e);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }

    /// Runs `f` on the writer with every acknowledged write loaded and the intake log held (no
    /// write can slip in between): erasure and retention see and change everything stored.
    async fn with_settled_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer, &mut IntakeLog) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_settled(f))
            .await
            .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }

    /// Loads every acknowledged write into DuckDB (if any awaits), so a read that follows sees
    /// it.
    async fn settle(&self) -> Result<(), StoreError> {
        if !lock(&self.inner.intake.log)?.has_pending() {
            return Ok(());
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.load_pending())
            .await
            .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }

    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.settle().await?;
        self.with_plain_reader(f).await
    }

    /// A reader without settling first: for what the intake log never holds (documents, audit).
    async fn with_plain_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take the first idle reader, else wait for the round-robin one.
            let conn = match (0..n).find_map(|k| inner.readers[(start + k) % n].try_lock().ok()) {
                Some(conn) => conn,
                None => inner.readers[start % n].lock().map_err(poisoned)?,
            };
            // Readers only read: generated SQL can never change data. A closed database's stand-in
            // never answers (its failure tries the reopen again, below).
            let result = if inner.is_closed() {
                Err(connection::closed_error())
            } else {
                conn.execute_batch("BEGIN TRANSACTION READ ONLY")
                    .map_err(err)
                    .and_then(|()| {
                        let result = f(&conn);
                        conn.execute_batch("ROLLBACK").map_err(err)?;
                        result
                    })
            };
            drop(conn);
            if let Err(e) = &result {
                inner.recover_from(e);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }
}

impl Writer {
    fn ensure_staging(&mut self) -> Result<(), StoreError> {
        if !self.staging_ready {
            self.conn
                .execute_batch(
                    "DROP TABLE IF EXISTS temp.identities_staging;
                     CREATE TEMP TABLE identities_staging AS SELECT * FROM identities LIMIT 0;",
                )
                .map_err(err)?;
            self.staging_ready = true;
        }
        Ok(())
    }

    /// DuckDB's configured `threads` (1 if it cannot be read: then loads leave it alone).
    fn threads(&mut self) -> i64 {
        *self.threads.get_or_insert_with(|| {
            self.conn
                .query_row("SELECT current_setting('threads')", [], |r| r.get::<_, i64>(0))
                .unwrap_or(1)
        })
    }

    /// Whether `events` has `rid_key` (and `identities` its keys): schema version 2.
    fn keyed(&mut self) -> Result<bool, StoreError> {
        if let Some(k) = self.keyed {
            return Ok(k);
        }
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() \
                 AND schema_name = 'main' AND table_name = 'events' AND column_name = 'rid_key'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        self.keyed = Some(n > 0);
        Ok(n > 0)
    }
}

/// Runs a `DELETE … RETURNING project_id, message_id` in `tx` and forgets the deleted keys.
fn delete_events(
    tx: &::duckdb::Transaction<'_>,
    keys: &mut Option<KeySet>,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<u64, StoreError> {
    let mut stmt = tx
        .prepare(&format!("{sql} RETURNING project_id, message_id"))
        .map_err(err)?;
    let deleted: Vec<(String, String)> = stmt
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    if let Some(set) = keys.as_mut() {
        for (p, m) in &deleted {
            set.remove(&keys::key(p, m));
        }
    }
    Ok(deleted.len() as u64)
}

/// Events whose identity keys one transaction of the version 2 backfill computes (bounded
/// memory: DuckDB keeps a transaction's updates in memory until it commits).
const BACKFILL_ROWS: i64 = 4 << 20;

fn migrate_blocking(w: &mut Writer) -> Result<(), StoreError> {
    let tx = w.conn.transaction().map_err(err)?;
    tx.execute_batch(sql::SCHEMA_VERSION_DDL).map_err(err)?;
    let current: i64 = tx
        .query_row(sql::SCHEMA_VERSION_CURRENT, [], |r| r.get(0))
        .map_err(err)?;
    if current < 1 {
        tx.execute_batch(&sql::schema_v1("TEXT", false)).map_err(err)?;
        tx.execute(sql::SCHEMA_VERSION_RECORD, params![1, common::now_ms()])
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    w.staging_ready = false;
    w.keyed = None;
    if current < 2 {
        // The identity keys: the columns, then the stored rows' keys in chunks of rows, then the
        // version. Resumable: after a crash the version is still 1 and the next start computes
        // the keys still NULL (rows loaded meanwhile already have theirs).
        w.conn.execute_batch(sql::SCHEMA_V2_DUCKDB_COLUMNS).map_err(err)?;
        w.staging_ready = false;
        let end: i64 = w
            .conn
            .query_row("SELECT coalesce(max(rowid) + 1, 0) FROM events", [], |r| r.get(0))
            .map_err(err)?;
        let started = std::time::Instant::now();
        for from in (0..end).step_by(BACKFILL_ROWS as usize) {
            w.conn
                .execute_batch(&sql::backfill_events_duckdb(from, from + BACKFILL_ROWS))
                .map_err(err)?;
        }
        let tx = w.conn.transaction().map_err(err)?;
        tx.execute_batch(&sql::backfill_identities_duckdb())
            .map_err(err)?;
        tx.execute(sql::SCHEMA_VERSION_RECORD, params![2, common::now_ms()])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        if end > 0 {
            tracing::info!(rows = end, elapsed = ?started.elapsed(), "duckdb: identity keys computed (schema version 2)");
        }
    }
    Ok(())
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

/// Runs `sql` and normalizes every value (see "Query results" in store/mod.rs).
fn query_blocking(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<QueryResult, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let mut rows = stmt.query(params).map_err(err)?;
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(values::json_value(row.get::<_, DValue>(i).map_err(err)?));
        }
        out.push(values);
    }
    Ok(QueryResult { columns, rows: out })
}

fn erase_blocking(
    w: &mut Writer,
    keys: &mut Option<KeySet>,
    project_id: &str,
    user_id: &str,
) -> Result<EraseReport, StoreError> {
    let tx = w.conn.transaction().map_err(err)?;
    let anon = query_blocking(&tx, sql::LINKED_ANONYMOUS_IDS, &[&project_id, &user_id])?;
    let mut ids = vec![user_id.to_string()];
    ids.extend(
        anon.rows
            .into_iter()
            .filter_map(|r| r.into_iter().next()?.as_str().map(str::to_string)),
    );
    let events_deleted = delete_events(&tx, keys, &sql::delete_person_events(), &[&project_id, &user_id])?;
    let mut dead_letters = 0;
    for needle in common::json_needles(&ids) {
        dead_letters += tx
            .execute(sql::DELETE_DEAD_LETTERS_MENTIONING, params![project_id, needle])
            .map_err(err)?;
    }
    let links = tx
        .execute(sql::DELETE_PERSON_LINKS, params![project_id, user_id])
        .map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::info!(
        project_id,
        events_deleted,
        links,
        dead_letters,
        "duckdb: person erased"
    );
    Ok(EraseReport {
        events_deleted,
        identity_links_deleted: links as u64,
        ids,
    })
}

/// The user id of an anonymous id's identity link, read inside `tx`.
fn linked_user_in(
    tx: &Connection,
    project_id: &str,
    anonymous_id: &str,
) -> Result<Option<String>, StoreError> {
    let r = query_blocking(tx, sql::LINKED_USER, &[&project_id, &anonymous_id])?;
    Ok(r.rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next()?.as_str().map(str::to_string)))
}

/// [`Store::erase_anonymous`]: the linked user's erasure, or the anonymous id's own events, under
/// the writer lock (no write can link the id in between).
fn erase_anonymous_blocking(
    w: &mut Writer,
    keys: &mut Option<KeySet>,
    project_id: &str,
    anonymous_id: &str,
) -> Result<EraseReport, StoreError> {
    if let Some(user_id) = linked_user_in(&w.conn, project_id, anonymous_id)? {
        return erase_blocking(w, keys, project_id, &user_id);
    }
    let tx = w.conn.transaction().map_err(err)?;
    let events_deleted = delete_events(
        &tx,
        keys,
        &sql::delete_anonymous_events(),
        &[&project_id, &anonymous_id],
    )?;
    let mut dead_letters = 0;
    for needle in common::json_needles(&[anonymous_id.to_string()]) {
        dead_letters += tx
            .execute(sql::DELETE_DEAD_LETTERS_MENTIONING, params![project_id, needle])
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    tracing::info!(
        project_id,
        events_deleted,
        dead_letters,
        "duckdb: anonymous person erased"
    );
    Ok(common::anonymous_erase_report(anonymous_id, events_deleted))
}

/// `path` as a SQL string literal.
fn sql_path(path: &Path) -> Result<String, StoreError> {
    let text = path
        .to_str()
        .ok_or_else(|| StoreError::Config(format!("{} is not a UTF-8 path", path.display())))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// [`Store::backup`] (see "Backup and restore" above).
fn backup_blocking(inner: &Inner, dir: &Path) -> Result<BackupReport, StoreError> {
    if inner.path.is_none() {
        return Err(StoreError::Query(
            "duckdb: an in-memory database has no backup".into(),
        ));
    }
    let target = sql_path(dir)?;
    // The snapshot starts at the transaction's first read, taken while nothing can be written.
    let (conn, report, instance) = inner.with_settled(|w, _| {
        // Taken with the writer held (the order of a reopen): no reopen while `conn` lives.
        let instance = inner.instance.read().map_err(poisoned)?;
        let conn = w.conn.try_clone().map_err(err)?;
        conn.execute_batch("BEGIN TRANSACTION").map_err(err)?;
        let events: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(err)?;
        let schema_version: i64 = conn
            .query_row(sql::SCHEMA_VERSION_CURRENT, [], |r| r.get(0))
            .map_err(err)?;
        let report = BackupReport {
            events: events.max(0) as u64,
            schema_version,
        };
        Ok((conn, report, instance))
    })?;
    let result = conn
        .execute_batch(&format!("EXPORT DATABASE {target} (FORMAT parquet)"))
        .map_err(err);
    let _ = conn.execute_batch("ROLLBACK");
    // The connection goes before the instance guard: a reopen may then close the instance.
    drop(conn);
    drop(instance);
    if let Err(e) = &result {
        inner.recover_from(e);
    }
    result.map(|()| report)
}

fn execute(w: &mut Writer, sql: &str, params: &[&dyn ToSql]) -> Result<usize, StoreError> {
    w.conn.execute(sql, params).map_err(err)
}

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
        tokio::task::spawn_blocking(move || inner.close())
            .await
            .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }

    async fn backup(&self, dir: &Path) -> Result<Option<BackupReport>, StoreError> {
        let (inner, dir) = (self.inner.clone(), dir.to_path_buf());
        tokio::task::spawn_blocking(move || backup_blocking(&inner, &dir).map(Some))
            .await
            .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        if batch.events.is_empty() && batch.links.is_empty() && batch.dead_letters.is_empty() {
            return Ok(WriteReport::default());
        }
        let inner = self.inner.clone();
        let (report, duplicates) = tokio::task::spawn_blocking(move || inner.intake_write(batch))
            .await
            .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))?;
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
