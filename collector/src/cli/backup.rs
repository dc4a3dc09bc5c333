//! The flags of `footfall backup` and `footfall backups` (a running collector, through its admin
//! API: see [`crate::backup`]) and `footfall restore` (offline).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How the backup commands reach a running collector.
#[derive(Debug, Args)]
pub struct AdminApiArgs {
    /// The running collector's base URL.
    #[arg(long, env = "FOOTFALL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Its admin API bearer token.
    #[arg(long, env = "FOOTFALL_ADMIN_TOKEN")]
    pub admin_token: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub api: AdminApiArgs,
    /// Name of the backup under the collector's `backup_dir` [default: footfall-<UTC time>].
    #[arg(long)]
    pub name: Option<String>,
    /// After the backup, keep only the N newest backups in `backup_dir` and delete the older ones
    /// (directories with a footfall manifest only; at least 1). Overrides the collector's
    /// `backup_keep` for this call [default: `backup_keep`, unset = keep every backup].
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// Also copy the backup into this new (or empty) directory; the collector writes it on its
    /// own host, so this works where its `backup_dir` is readable.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BackupsArgs {
    #[command(flatten)]
    pub api: AdminApiArgs,
    /// `table` (aligned columns, then what in `backup_dir` is not a backup) or `json` (the API's answer).
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Output format of `footfall backups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup directory (with its manifest.json).
    #[arg(long)]
    pub from: PathBuf,
    /// The new data directory to create (must be missing or empty).
    #[arg(long)]
    pub data: PathBuf,
}
