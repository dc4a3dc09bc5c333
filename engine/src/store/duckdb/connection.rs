//! Opening the database file with its settings, and opening it again after a fatal error.
//!
//! # Settings
//! `duckdb:PATH?memory_limit=2GB&threads=2` passes DuckDB settings (`SET GLOBAL name = 'value'`)
//! when the file is opened; names are DuckDB's (`memory_limit`, `threads`, `temp_directory`,
//! `max_temp_directory_size`, `checkpoint_threshold`, …), and DuckDB checks each: an unknown name
//! or a bad value fails the open with DuckDB's message. Without them DuckDB's defaults hold
//! (memory: 80 % of the machine's RAM; threads: one per core), except `checkpoint_threshold`,
//! ours: [`CHECKPOINT_THRESHOLD`].
//!
//! # Reopening
//! DuckDB *invalidates* a database instance after a fatal error — most often an automatic
//! checkpoint that cannot write the database file (disk full): "Transaction COMMIT succeeded and
//! is durable, but the autocheckpoint failed. Reopen the database instance to recover". Every
//! later call on any of its connections then fails until the instance is closed and opened
//! again. The store does that itself ([`Inner::reopen_locked`]), so the process recovers when the
//! disk does, as it does from a failed write: every connection of the dead instance is dropped
//! (the writer, the readers, and — by waiting for [`Inner::instance`] — a backup's), the file is
//! opened again (DuckDB replays its WAL), and the intake log forgets what the reopened database
//! already holds: a commit that was durable though it reported a failure is not loaded twice.

use std::sync::{MutexGuard, RwLockWriteGuard};

use ::duckdb::Connection;

use super::intake::IntakeLog;
use super::{Inner, Writer, err, loader, lock, poisoned, scan};
use crate::store::StoreError;

/// WAL size that triggers an automatic checkpoint (DuckDB's default is 16 MB). Frequent small
/// checkpoints cost ~2x more in total than larger ones under sustained ingestion (measured with
/// engine/tests/store_throughput.rs); the price is a longer WAL replay after a crash (seconds).
pub const CHECKPOINT_THRESHOLD: &str = "256MB";

/// DuckDB settings given with the location, in order: `(name, value)`.
pub type Settings = Vec<(String, String)>;

/// Parses the `name=value&…` part of `duckdb:PATH?…`. Names are DuckDB setting names (letters,
/// digits, `_`); values are passed as SQL strings.
pub fn parse_settings(query: &str) -> Result<Settings, StoreError> {
    let mut out = Settings::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::Config(format!(
                "duckdb: {pair:?} is not a DuckDB setting name=value (e.g. duckdb:./data?memory_limit=2GB&threads=2)"
            )));
        }
        if value.trim().is_empty() {
            return Err(StoreError::Config(format!(
                "duckdb: the setting {name} has no value (e.g. memory_limit=2GB)"
            )));
        }
        out.push((name, value.trim().to_string()));
    }
    Ok(out)
}

/// Applies our default checkpoint threshold, then `settings`, to a freshly opened database.
pub fn apply_settings(conn: &Connection, settings: &Settings) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "SET GLOBAL checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'"
    ))
    .map_err(err)?;
    for (name, value) in settings {
        let value = value.replace('\'', "''");
        conn.execute_batch(&format!("SET GLOBAL {name} = '{value}'"))
            .map_err(|e| StoreError::Config(format!("duckdb: the setting {name} = {value:?}: {e}")))?;
    }
    Ok(())
}

/// Whether `e` says the database instance is invalidated (see the module docs).
pub fn is_fatal(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains("FATAL Error")
        || m.contains("database has been invalidated")
        || m.contains("Reopen the database instance"))
}

impl Inner {
    /// After a call failed with `e`: reopens the database if `e` is fatal (see the module docs).
    /// Takes the writer and the log; call it holding neither (nor a reader).
    pub(super) fn recover_from(&self, e: &StoreError) {
        if !is_fatal(e) {
            return;
        }
        let (Ok(mut w), Ok(mut log)) = (
            self.writer.lock(),
            // Writer, then log: the order everywhere.
            self.intake.log.lock(),
        ) else {
            return;
        };
        self.reopen_locked(&mut w, &mut log, e);
    }

    /// [`Self::recover_from`] with the writer and the log held.
    pub(super) fn recover_locked(&self, w: &mut Writer, log: &mut IntakeLog, e: &StoreError) {
        if is_fatal(e) {
            self.reopen_locked(w, log, e);
        }
    }

    /// Closes the invalidated instance and opens the file again (no-op if the writer works: a
    /// concurrent caller reopened it already). Failures are logged; the next fatal error tries
    /// again.
    fn reopen_locked(&self, w: &mut Writer, log: &mut IntakeLog, cause: &StoreError) {
        let Some(path) = self.path.as_ref() else {
            tracing::error!(error = %cause, "duckdb: the in-memory database was invalidated; it cannot be reopened");
            return;
        };
        if w.conn.execute_batch("SELECT 1").is_ok() {
            return;
        }
        match self.reopen(w, path) {
            Ok(loaded_seq) => {
                let forgotten = log.forget_loaded(loaded_seq);
                self.reopens.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    error = %cause,
                    path = %path.display(),
                    loaded_seq,
                    already_loaded_records = forgotten,
                    "duckdb: the database instance was invalidated by a fatal error; reopened it (WAL replayed, \
                     the intake log goes on after the last load it holds)"
                );
            }
            Err(e) => tracing::error!(
                error = %e,
                cause = %cause,
                path = %path.display(),
                "duckdb: the database instance was invalidated and cannot be reopened yet; retrying at the next failure"
            ),
        }
    }

    /// Drops every connection of the current instance and opens `path` again; returns the
    /// reopened database's last loaded intake sequence number.
    fn reopen(&self, w: &mut Writer, path: &std::path::Path) -> Result<u64, StoreError> {
        // A backup's connection is the only one outside `writer` and `readers`: wait for it.
        let _instance: RwLockWriteGuard<'_, ()> = self.instance.write().map_err(poisoned)?;
        let mut readers: Vec<MutexGuard<'_, Connection>> =
            self.readers.iter().map(lock).collect::<Result<_, _>>()?;
        // Stand-ins while the file is closed (a private in-memory database each).
        let stand_in = Connection::open_in_memory().map_err(err)?;
        for r in readers.iter_mut() {
            **r = stand_in.try_clone().map_err(err)?;
        }
        w.conn = stand_in;
        let conn = Connection::open(path).map_err(err)?;
        apply_settings(&conn, &self.settings)?;
        let loaded_seq = loader::prepare_state(&conn)?;
        for r in readers.iter_mut() {
            **r = conn.try_clone().map_err(err)?;
        }
        conn.register_table_function_with_extra_info::<scan::IntakeScan, scan::Slot>(
            scan::SCAN_FUNCTION,
            &w.scan,
        )
        .map_err(err)?;
        w.conn = conn;
        w.staging_ready = false;
        w.keyed = None;
        w.threads = None;
        Ok(loaded_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_by_name() {
        let s = parse_settings("memory_limit=2GB&threads=2&&checkpoint_threshold = 16MB").unwrap();
        let want: Settings = [
            ("memory_limit", "2GB"),
            ("threads", "2"),
            ("checkpoint_threshold", "16MB"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(s, want);
        for bad in ["memory_limit", "memory_limit=", "x;DROP=1", "=2GB", "a b=1"] {
            let e = parse_settings(bad).unwrap_err().to_string();
            assert!(e.contains("duckdb"), "{bad}: {e}");
        }
    }

    #[test]
    fn fatal_errors_are_told_apart() {
        let fatal = StoreError::Unavailable(
            "duckdb: FATAL Error: Transaction COMMIT succeeded and is durable, but the autocheckpoint failed. \
             Reopen the database instance to recover."
                .into(),
        );
        assert!(is_fatal(&fatal));
        let invalidated = StoreError::Unavailable(
            "duckdb: FATAL Error: Failed: database has been invalidated because of a previous fatal error"
                .into(),
        );
        assert!(is_fatal(&invalidated));
        assert!(!is_fatal(&StoreError::Unavailable(
            "duckdb: IO Error: Could not write file \"x.wal\": No space left on device".into()
        )));
        assert!(!is_fatal(&StoreError::Query(
            "duckdb: FATAL Error in a string literal".into()
        )));
    }
}
