//! The flags of `footfall query` and `footfall dashboard render` (the dispatch runs them with
//! the engine's `dashboard::cli`).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use footfall_engine::dashboard::cli::OutputFormat;

use super::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Render the dashboards of a YAML file (with their data) into one HTML file.
    Render(RenderArgs),
}

/// Output format of `footfall query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
    Csv,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> OutputFormat {
        match f {
            Format::Json => OutputFormat::Json,
            Format::Table => OutputFormat::Table,
            Format::Csv => OutputFormat::Csv,
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct RangeArgs {
    /// Start of the range (2026-10-01, an RFC 3339 instant, today, 7_days_ago, ...) [default: the spec's].
    #[arg(long)]
    pub from: Option<String>,
    /// End of the range (a day is included whole) [default: the spec's].
    #[arg(long)]
    pub to: Option<String>,
    /// Project [default: the only configured project, else `default`].
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// The query spec (`.json` is read as JSON, anything else as YAML).
    pub spec: PathBuf,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Where to write the HTML report.
    #[arg(long)]
    pub out: PathBuf,
    /// The dashboards file (`dashboards:` YAML).
    pub dashboards: PathBuf,
}
