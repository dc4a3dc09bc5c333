//! The backups in `backup_dir`: listing (`GET /v1/admin/backups`, `footfall backups`) and
//! retention (`backup_keep`, `footfall backup --keep N`).
//!
//! * **What counts as a backup**: a real directory (not a symbolic link) whose name does not start
//!   with `.` and whose `manifest.json` reads as ours ([`super::read_manifest`]: it parses, and
//!   its format is one this collector knows). Everything else in `backup_dir` — other files, other
//!   directories, a directory with a missing or broken manifest, a backup in progress
//!   (`.NAME.partial`) — is **never counted and never deleted**; the listing names it under
//!   `ignored`, with the reason, so an operator sees what else takes space there.
//! * **Order**: by the manifest's `created_at_ms` (the snapshot's time), then by name; never by
//!   the directory's name or mtime (a copied or touched directory keeps its place).
//! * **Retention**: after a successful backup, with `keep = N`, the backups beyond the N newest
//!   are deleted; the backup just written is always among the kept ones (even if a clock jumped
//!   back and an older backup claims a later time). A deletion first renames `NAME` to
//!   `.NAME.deleting` (atomic: a half-deleted directory never looks like a complete backup) and
//!   then removes it. A failure is logged and reported, never fails the backup; a
//!   `.NAME.deleting` left by one is removed again by the next retention run.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{MANIFEST, Manifest, read_manifest};

/// Suffix of a backup being deleted (or left by a deletion that failed).
const DELETING: &str = ".deleting";

/// One backup of the listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupInfo {
    /// The directory's name under `backup_dir` (what `footfall restore --from` takes, joined).
    pub name: String,
    /// When the snapshot was taken, RFC 3339 UTC (from the manifest).
    pub created_at: String,
    /// The same instant, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Events in the backup.
    pub events: u64,
    /// Storage schema version of the backed-up database.
    pub schema_version: i64,
    /// Size of its files, in bytes.
    pub bytes: u64,
    /// Version of the collector that wrote it.
    pub collector_version: String,
}

/// An entry of `backup_dir` that is not a backup: neither counted nor deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ignored {
    pub name: String,
    pub reason: String,
    /// A directory `.NAME.deleting` left by a failed deletion of ours: retention removes it.
    #[serde(skip)]
    leftover: bool,
}

/// What `backup_dir` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalog {
    /// The backups, newest first.
    pub backups: Vec<BackupInfo>,
    /// Everything else, by name.
    pub ignored: Vec<Ignored>,
}

/// Reads `root` (missing = no backups).
pub fn scan(root: &Path) -> std::io::Result<Catalog> {
    let mut catalog = Catalog::default();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(catalog),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut ignored = |reason: &str, leftover: bool| {
            catalog.ignored.push(Ignored {
                name: name.clone(),
                reason: reason.to_string(),
                leftover,
            })
        };
        let mut ignore = |reason: &str| ignored(reason, false);
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            ignore("a symbolic link (only real directories are backups)");
        } else if !file_type.is_dir() {
            ignore("not a directory");
        } else if name.ends_with(".partial") && name.starts_with('.') {
            ignore(
                "a backup in progress, or left by one that failed (the next backup of that name removes it)",
            );
        } else if name.ends_with(DELETING) && name.starts_with('.') {
            ignored(
                "left by a failed deletion (the next retention run removes it again)",
                true,
            );
        } else if name.starts_with('.') {
            ignore("a hidden directory");
        } else {
            let path = entry.path();
            match read_manifest(&path) {
                Ok(m) => catalog.backups.push(info(&name, &m, &path)),
                Err(_) if !path.join(MANIFEST).exists() => ignore(&format!("no {MANIFEST}")),
                Err(e) => ignore(&format!("not a valid footfall backup: {e}")),
            }
        }
    }
    catalog
        .backups
        .sort_by(|a, b| (b.created_at_ms, &b.name).cmp(&(a.created_at_ms, &a.name)));
    catalog.ignored.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(catalog)
}

fn info(name: &str, m: &Manifest, dir: &Path) -> BackupInfo {
    BackupInfo {
        name: name.to_string(),
        created_at: m.created_at.clone(),
        created_at_ms: m.created_at_ms,
        events: m.events,
        schema_version: m.schema_version,
        bytes: size(dir),
        collector_version: m.collector_version.clone(),
    }
}

/// Total size of the files under `path` (symbolic links not followed; unreadable parts count 0).
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size(&e.path())).sum())
        .unwrap_or(0)
}

/// A backup that retention deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deleted {
    pub name: String,
    pub created_at: String,
    pub bytes: u64,
}

/// A backup retention failed to delete (it may be left as `.NAME.deleting`); an empty name when
/// the run could not read `backup_dir` at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteFailure {
    pub name: String,
    pub error: String,
}

/// What a retention run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pruned {
    /// The number of backups to keep.
    pub keep: u32,
    /// Backups counted (ours) before the run.
    pub counted: usize,
    pub deleted: Vec<Deleted>,
    pub failed: Vec<DeleteFailure>,
}

impl Pruned {
    /// A run that could not look at the backups at all (`error` says why).
    pub fn failure(keep: u32, error: String) -> Pruned {
        Pruned {
            keep,
            counted: 0,
            deleted: Vec::new(),
            failed: vec![DeleteFailure {
                name: String::new(),
                error,
            }],
        }
    }
}

/// Keeps the `keep` newest backups in `root` (`just_written`, the backup just taken, always
/// among them) and deletes the others (see the module doc). Never fails: a failure to read
/// `root` or to delete a backup is in [`Pruned::failed`].
pub fn prune(root: &Path, keep: u32, just_written: &str) -> Pruned {
    prune_with(root, keep, just_written, |p| std::fs::remove_dir_all(p))
}

/// [`prune`] with the function that removes a renamed directory (tests inject failures).
fn prune_with(
    root: &Path,
    keep: u32,
    just_written: &str,
    remove: impl Fn(&Path) -> std::io::Result<()>,
) -> Pruned {
    let catalog = match scan(root) {
        Ok(c) => c,
        Err(e) => {
            let error = format!("cannot read {}: {e}", root.display());
            tracing::error!(error, "backup retention: nothing deleted");
            return Pruned::failure(keep, error);
        }
    };
    let mut pruned = Pruned {
        keep,
        counted: catalog.backups.len(),
        deleted: Vec::new(),
        failed: Vec::new(),
    };
    // Leftovers of failed deletions: they are no backups any more, just reclaim the space.
    for leftover in catalog.ignored.iter().filter(|i| i.leftover) {
        let path = root.join(&leftover.name);
        if let Err(e) = remove(&path) {
            tracing::warn!(path = %path.display(), error = %e, "backup retention: cannot remove a leftover");
        }
    }
    let others = catalog.backups.iter().filter(|b| b.name != just_written);
    for backup in others.skip((keep as usize).saturating_sub(1)) {
        match delete(root, &backup.name, &remove) {
            Ok(()) => {
                tracing::info!(
                    name = backup.name,
                    created_at = backup.created_at,
                    "backup retention: deleted"
                );
                pruned.deleted.push(Deleted {
                    name: backup.name.clone(),
                    created_at: backup.created_at.clone(),
                    bytes: backup.bytes,
                });
            }
            Err(error) => {
                tracing::error!(
                    name = backup.name,
                    error,
                    "backup retention: cannot delete a backup"
                );
                pruned.failed.push(DeleteFailure {
                    name: backup.name.clone(),
                    error,
                });
            }
        }
    }
    pruned
}

/// Renames the backup `name` out of the way (atomic), then removes it.
fn delete(root: &Path, name: &str, remove: &impl Fn(&Path) -> std::io::Result<()>) -> Result<(), String> {
    let from = root.join(name);
    let to: PathBuf = root.join(format!(".{name}{DELETING}"));
    if to.exists() {
        remove(&to).map_err(|e| format!("cannot remove {}: {e}", to.display()))?;
    }
    std::fs::rename(&from, &to).map_err(|e| format!("cannot rename {}: {e}", from.display()))?;
    remove(&to).map_err(|e| {
        format!(
            "renamed to {} (no longer a backup) but cannot remove it: {e}",
            to.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake backup `name` taken at `ms`, with `events` events and a data file.
    fn backup(root: &Path, name: &str, ms: i64, events: u64) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("events.parquet"), vec![0u8; 1000]).unwrap();
        let m = Manifest {
            format: 1,
            name: name.into(),
            created_at: format!("t{ms}"),
            created_at_ms: ms,
            schema_version: 3,
            events,
            collector_version: "x".into(),
            store: "duckdb".into(),
        };
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
    }

    fn names(c: &Catalog) -> Vec<&str> {
        c.backups.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn backups_are_ordered_by_their_manifest_time_and_everything_else_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Names and creation order disagree with the manifests' times.
        backup(root, "a-newest", 3_000, 30);
        backup(root, "z-oldest", 1_000, 10);
        backup(root, "m-middle", 2_000, 20);
        std::fs::create_dir_all(root.join("photos")).unwrap();
        std::fs::create_dir_all(root.join("broken")).unwrap();
        std::fs::write(root.join("broken").join(MANIFEST), b"{not json").unwrap();
        std::fs::write(root.join("notes.txt"), b"hi").unwrap();
        std::fs::create_dir_all(root.join(".x.partial")).unwrap();
        std::os::unix::fs::symlink(root.join("m-middle"), root.join("link")).unwrap();
        let c = scan(root).unwrap();
        assert_eq!(names(&c), ["a-newest", "m-middle", "z-oldest"]);
        assert_eq!(c.backups[0].events, 30);
        assert!(c.backups[0].bytes >= 1000, "{:?}", c.backups[0]);
        let ignored: Vec<&str> = c.ignored.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(ignored, [".x.partial", "broken", "link", "notes.txt", "photos"]);
        assert!(scan(&root.join("missing")).unwrap().backups.is_empty());
    }

    #[test]
    fn retention_keeps_the_newest_and_the_one_just_written_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (name, ms) in [("b1", 1_000), ("b2", 2_000), ("b3", 3_000), ("b4", 4_000)] {
            backup(root, name, ms, 1);
        }
        // Written last, but its clock was behind: it is kept all the same.
        backup(root, "just", 500, 1);
        std::fs::create_dir_all(root.join("foreign")).unwrap();
        std::fs::create_dir_all(root.join("foreign.deleting")).unwrap();
        std::fs::write(root.join(".file.deleting"), b"not ours").unwrap();
        let pruned = prune(root, 2, "just");
        let deleted: Vec<&str> = pruned.deleted.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deleted, ["b3", "b2", "b1"]);
        assert_eq!((pruned.counted, pruned.failed.len()), (5, 0));
        let c = scan(root).unwrap();
        assert_eq!(names(&c), ["b4", "just"]);
        assert_eq!(c.ignored.len(), 3, "{:?}", c.ignored);
        assert!(root.join("foreign").is_dir() && root.join("foreign.deleting").is_dir());
        assert!(root.join(".file.deleting").is_file());
        // Keeping more than there are deletes nothing.
        assert!(prune(root, 10, "just").deleted.is_empty());
    }

    #[test]
    fn a_failed_deletion_is_reported_leaves_no_backup_behind_and_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (name, ms) in [("old", 1_000), ("older", 500), ("new", 2_000)] {
            backup(root, name, ms, 1);
        }
        let failing = |p: &Path| {
            if p.ends_with(".old.deleting") {
                Err(std::io::Error::other("disk on fire"))
            } else {
                std::fs::remove_dir_all(p)
            }
        };
        let pruned = prune_with(root, 1, "new", failing);
        assert_eq!(pruned.deleted.len(), 1, "{pruned:?}");
        assert_eq!(pruned.deleted[0].name, "older");
        assert_eq!(pruned.failed.len(), 1);
        assert_eq!(pruned.failed[0].name, "old");
        assert!(pruned.failed[0].error.contains("disk on fire"), "{pruned:?}");
        // Not a backup any more: neither listed nor counted; the next run removes it.
        let c = scan(root).unwrap();
        assert_eq!(names(&c), ["new"]);
        assert_eq!(c.ignored[0].name, ".old.deleting");
        let pruned = prune(root, 1, "new");
        assert!(pruned.deleted.is_empty() && pruned.failed.is_empty());
        assert!(!root.join(".old.deleting").exists());
    }
}
