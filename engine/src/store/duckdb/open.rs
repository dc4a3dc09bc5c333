//! Opening a store: a directory (its lock, its database file, shared by every open of the same
//! directory in this process) or memory; then the intake log's replay and the loader's start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};

use ::duckdb::Connection;

use super::intake::IntakeLog;
use super::loader::{self, Intake};
use super::settings::{self, Settings};
use super::{DB_FILE, DuckDbStore, Inner, Writer, connection, dir_lock, err, poisoned, scan};
use crate::store::StoreError;

/// Number of reader connections (queries run concurrently with each other and with a commit).
const READERS: usize = 4;

/// Databases open in this process, by canonical file path.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

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

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }
}
