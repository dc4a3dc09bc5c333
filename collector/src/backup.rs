//! Backups of the embedded (DuckDB) store, taken while the collector serves, and their restore.
//!
//! * **Take** (`POST /v1/admin/backup`, `footfall backup`): the store writes a consistent
//!   snapshot ([`Store::backup`]: every write acknowledged before the call, loaded from the
//!   intake log first; ingestion goes on meanwhile and what it acknowledges during the backup is
//!   in the next one) into `backup_dir/.NAME.partial`; then `manifest.json` is written and the
//!   directory renamed to `backup_dir/NAME`: a directory with a manifest is a complete backup.
//!   A caller only names the backup (letters, digits, `.`, `_`, `-`; no path): the server decides
//!   where it goes. Backups run one at a time.
//! * **Retention** (`backup_keep`, `footfall backup --keep N`) and **listing**
//!   (`GET /v1/admin/backups`, `footfall backups`): see [`catalog`]. After a successful backup
//!   only, the backups beyond the N newest are deleted (ours only: directories with our manifest).
//! * The CLI clients of both (`footfall backup`, `footfall backups`) are in `remote`.
//! * **Restore** (`footfall restore --from DIR --data NEWDIR`, offline): imports the backup into
//!   a new, empty data directory, migrates it to this version's schema and checks the event
//!   count against the manifest.
//!
//! PostgreSQL and ClickHouse answer 501: back them up with their own tools (`pg_dump`,
//! ClickHouse's `BACKUP`), which see their whole database.
//!
//! # Layout
//!
//! This file holds the manifest, the checks of names and retention, [`take`] and [`list`];
//! [`catalog`] scans and prunes the backup directory, `restore.rs` restores a backup offline
//! ([`restore`]) and `remote` holds the CLI clients.
//!
//! [`Store::backup`]: footfall_engine::store::Store::backup

use std::path::{Path, PathBuf};

use footfall_engine::store::Dialect;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub mod catalog;
mod remote;
mod restore;

pub use remote::{client, list_client};
pub use restore::{RestoreSummary, restore};

use crate::error::ApiError;
use crate::privacy;
use crate::state::AppState;

/// The file that marks a complete backup and describes it.
pub const MANIFEST: &str = "manifest.json";
/// Version of this backup layout (manifest + DuckDB `EXPORT DATABASE` files).
const FORMAT: u32 = 1;
/// Longest backup name, in bytes.
const MAX_NAME: usize = 100;

/// `manifest.json` of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version (1: DuckDB `EXPORT DATABASE … (FORMAT parquet)` files).
    pub format: u32,
    pub name: String,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created_at: String,
    /// The same instant, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Storage schema version of the backed-up database.
    pub schema_version: i64,
    /// Events in the backup.
    pub events: u64,
    /// Version of the collector that wrote it.
    pub collector_version: String,
    /// The backend: always `duckdb`.
    pub store: String,
}

/// Checks a caller's backup name: 1-100 of `[A-Za-z0-9._-]`, not starting with `.` (so no `..`,
/// no hidden or partial directory, no path).
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid backup name {name:?}: use 1-{MAX_NAME} letters, digits, '.', '_' or '-', not starting \
             with '.' (the backup is written under the server's backup_dir)"
        )))
    }
}

/// Checks a requested retention (`keep`, `--keep`): the number of backups to keep, at least 1.
pub fn validate_keep(keep: i64) -> Result<u32, ApiError> {
    u32::try_from(keep).ok().filter(|k| *k >= 1).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "invalid keep {keep}: keep is the number of newest backups to keep, an integer of at least 1 \
             (leave it out to keep every backup, or to use the server's backup_keep)"
        ))
    })
}

/// The message of the 501 for backends without an online backup.
fn unsupported(dialect: Dialect) -> ApiError {
    ApiError::NotImplemented(match dialect {
        Dialect::Postgres => "online backup covers the embedded DuckDB store only: back PostgreSQL up with \
             pg_dump (https://www.postgresql.org/docs/current/backup-dump.html)"
            .into(),
        Dialect::ClickHouse => {
            "online backup covers the embedded DuckDB store only: back ClickHouse up with \
             its BACKUP command or clickhouse-backup \
             (https://clickhouse.com/docs/en/operations/backup)"
                .into()
        }
        Dialect::DuckDb => "this store has no backup (e.g. an in-memory or noop store)".into(),
    })
}

/// Answers 501 unless the store is the embedded one (which alone has backups).
fn check_backend(state: &AppState) -> Result<(), ApiError> {
    match state.store.dialect() {
        Dialect::DuckDb => Ok(()),
        other => Err(unsupported(other)),
    }
}

/// Backups run one at a time.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A backup just taken.
#[derive(Debug, Serialize)]
pub struct Taken {
    pub manifest: Manifest,
    /// Its directory on the collector's host.
    pub path: PathBuf,
    /// What retention did after it (`null` when no `keep` applies: every backup is kept).
    pub retention: Option<catalog::Pruned>,
}

/// Takes a backup named `name` (default `footfall-<UTC time>`) into the configured backup
/// directory; then, with `keep` (else the config's `backup_keep`), deletes the backups beyond
/// the `keep` newest ([`catalog::prune`]); audits it all as `backup` by `actor`.
pub async fn take(
    state: &AppState,
    name: Option<&str>,
    keep: Option<u32>,
    actor: &str,
) -> Result<Taken, ApiError> {
    let now = chrono::Utc::now();
    let name = match name {
        Some(n) => n.to_string(),
        None => format!("footfall-{}", now.format("%Y%m%dT%H%M%S%3fZ")),
    };
    validate_name(&name)?;
    if let Some(keep) = keep {
        validate_keep(keep.into())?;
    }
    let keep = keep.or(state.config.backup_keep);
    check_backend(state)?;
    let dialect = state.store.dialect();
    let _running = RUNNING.lock().await;
    let root = state.config.backup_dir();
    let io = |what: &str, path: &Path, e: std::io::Error| {
        ApiError::Internal(format!("backup: cannot {what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(&root).map_err(|e| io("create", &root, e))?;
    let root = root.canonicalize().map_err(|e| io("resolve", &root, e))?;
    let target = root.join(&name);
    if target.exists() {
        return Err(ApiError::Conflict(format!(
            "a backup named {name:?} exists: choose another name"
        )));
    }
    let partial = root.join(format!(".{name}.partial"));
    if partial.exists() {
        // Left by a backup that failed or was interrupted.
        std::fs::remove_dir_all(&partial).map_err(|e| io("remove", &partial, e))?;
    }
    let started = std::time::Instant::now();
    let report = match state.store.backup(&partial).await {
        Ok(Some(report)) => report,
        Ok(None) => return Err(unsupported(dialect)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            state.metrics.backups_failed.inc();
            return Err(ApiError::from_store(e, state.config.limits.retry_after_secs));
        }
    };
    let manifest = Manifest {
        format: FORMAT,
        name: name.clone(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        created_at_ms: now.timestamp_millis(),
        schema_version: report.schema_version,
        events: report.events,
        collector_version: env!("CARGO_PKG_VERSION").to_string(),
        store: "duckdb".into(),
    };
    let finish = || -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        write_synced(&partial.join(MANIFEST), &text)?;
        std::fs::rename(&partial, &target)?;
        std::fs::File::open(&root)?.sync_all()
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_dir_all(&partial);
        state.metrics.backups_failed.inc();
        return Err(io("complete", &target, e));
    }
    state.metrics.backup_last_success.set(now.timestamp());
    tracing::info!(name, events = report.events, elapsed = ?started.elapsed(), path = %target.display(), "backup written");
    let retention =
        match keep {
            Some(keep) => {
                let (root, name) = (root.clone(), name.clone());
                let pruned = tokio::task::spawn_blocking(move || catalog::prune(&root, keep, &name)).await;
                // Retention never fails the backup, not even when its task does.
                Some(pruned.unwrap_or_else(|e| {
                    catalog::Pruned::failure(keep, format!("retention task failed: {e}"))
                }))
            }
            None => None,
        };
    let mut details = json!({ "events": report.events, "schema_version": report.schema_version });
    if let Some(r) = &retention {
        details["keep"] = json!(r.keep);
        details["deleted"] = json!(r.deleted.iter().map(|d| &d.name).collect::<Vec<_>>());
        if !r.failed.is_empty() {
            details["delete_failed"] = json!(r.failed);
        }
    }
    privacy::audit(state, None, actor, "backup", &format!("backup:{name}"), details)
        .await
        .map_err(|e| ApiError::from_store(e, state.config.limits.retry_after_secs))?;
    Ok(Taken {
        manifest,
        path: target,
        retention,
    })
}

/// The backups in the configured backup directory, newest first, and what else is there
/// (`GET /v1/admin/backups`). 501 on PostgreSQL/ClickHouse.
pub async fn list(state: &AppState) -> Result<(PathBuf, catalog::Catalog), ApiError> {
    check_backend(state)?;
    let root = state.config.backup_dir();
    let dir = root.clone();
    let catalog = tokio::task::spawn_blocking(move || catalog::scan(&dir))
        .await
        .map_err(|e| ApiError::Internal(format!("backup listing task failed: {e}")))?
        .map_err(|e| ApiError::Internal(format!("cannot read {}: {e}", root.display())))?;
    Ok((std::path::absolute(&root).unwrap_or(root), catalog))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads and checks the manifest of the backup in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "{} is not a complete footfall backup (cannot read {}: {e})",
            dir.display(),
            path.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| format!("invalid {}: {e}", path.display()))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "{}: backup format {} is not supported by this collector (it reads format {FORMAT})",
            path.display(),
            manifest.format
        ));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for ok in ["nightly", "2026-11-29T14.00", "a_b-c.d", "x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "../etc",
            "a\\b",
            "a b",
            "é",
            long.as_str(),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_directory_without_manifest_is_no_backup() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_manifest(dir.path())
                .unwrap_err()
                .contains("not a complete footfall backup")
        );
    }
}
