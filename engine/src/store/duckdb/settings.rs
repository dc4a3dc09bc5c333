//! The DuckDB settings a store is opened with.
//!
//! `duckdb:PATH?memory_limit=2GB&threads=2` passes DuckDB settings (`SET GLOBAL name = 'value'`)
//! when the file is opened (and opened again, see [`super::connection`]); names are DuckDB's
//! (`memory_limit`, `threads`, `temp_directory`, `max_temp_directory_size`,
//! `checkpoint_threshold`, …), and DuckDB checks each: an unknown name or a bad value fails the
//! open with DuckDB's message. Without them DuckDB's defaults hold (memory: 80 % of the
//! machine's RAM; threads: one per core), except `checkpoint_threshold`, ours:
//! [`CHECKPOINT_THRESHOLD`].

use ::duckdb::Connection;

use super::{Writer, err};
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

impl Writer {
    /// DuckDB's configured `threads` (1 if it cannot be read: then loads leave it alone).
    pub(super) fn threads(&mut self) -> i64 {
        *self.threads.get_or_insert_with(|| {
            self.conn
                .query_row("SELECT current_setting('threads')", [], |r| r.get::<_, i64>(0))
                .unwrap_or(1)
        })
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
}
