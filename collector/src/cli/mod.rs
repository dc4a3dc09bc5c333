//! The `footfall` command line (clap). Configuration precedence: flag > environment variable >
//! config file > default.
//!
//! ```text
//! footfall serve  [--config F] [--listen ADDR] [--data DIR | --store URL]
//!                 [--write-key KEY] [--admin-token TOKEN] [--trust-proxy N] [--demo]
//!                 [--example-dir DIR]... [--no-alerts] [--tls-cert FILE --tls-key FILE]
//! footfall import FILE... [--project ID] [--quiet] [--config F] [--data DIR | --store URL]
//! footfall erase  (--user ID | --anonymous-id ID) [--project ID] [--config F] [--data DIR | --store URL]
//! footfall export (--user ID | --anonymous-id ID) [--project ID] [--out FILE] [--config F] [--data DIR | --store URL]
//! footfall export-events [--from X] [--to Y] [--format ndjson|csv] [--include-bots] [--project ID] [--out FILE] [...]
//! footfall query SPEC.{json,yaml} [--from X] [--to Y] [--format json|table|csv] [--project ID] [...]
//! footfall dashboard render DASHBOARDS.yaml --out REPORT.html [--from X] [--to Y] [--project ID] [...]
//! footfall backup  [--name NAME] [--keep N] [--out DIR] [--url URL] [--admin-token TOKEN]   (a running collector)
//! footfall backups [--format table|json] [--url URL] [--admin-token TOKEN]                 (a running collector)
//! footfall restore --from BACKUP_DIR --data NEW_DATA_DIR                                    (offline)
//! ```
//!
//! `--write-key KEY --admin-token TOKEN` configure a project `default` without a config file.
//! collector/README.md has the full synopsis; `collector/tests/docs.rs` checks it against [`Cli`].
//! To add a subcommand: add a variant to [`Command`] with its `Args` struct (flatten
//! [`StoreArgs`] to get the config/storage flags) and a branch in [`run`].
//!
//! # Layout
//! * this file: [`Cli`] and its [`Command`]s, [`CliError`], [`main`] and the dispatch, [`run`];
//! * `serve.rs`: `footfall serve` ([`ServeArgs`] over the configuration, the demo, the banner);
//! * `store.rs`: [`StoreArgs`] (config file and storage flags) and opening the store of an
//!   offline command;
//! * `data.rs`: `import`, `erase`, `export` and `export-events` (written page by page);
//! * `query.rs`: `query` and `dashboard render`;
//! * `backup.rs`: `backup` and `backups` (a running collector's admin API) and `restore`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use footfall_engine::dashboard::cli::{render_report_file, run_query_file};

use crate::config::ConfigError;
use crate::error::ApiError;
use crate::import::ImportError;
use crate::state::StartError;
use crate::{import, privacy, server};

mod backup;
mod data;
mod query;
mod serve;
mod store;
#[cfg(test)]
mod tests;

pub use backup::{AdminApiArgs, BackupArgs, BackupsArgs, ListFormat, RestoreArgs};
pub use data::{EventsFormat, ExportArgs, ExportEventsArgs, ImportArgs, UserArgs};
pub use query::{DashboardCommand, Format, QueryArgs, RangeArgs, RenderArgs};
pub use serve::ServeArgs;
pub use store::StoreArgs;

use data::export_events;
use serve::serve;
use store::{open_for, warn_if_no_events};

#[derive(Debug, Parser)]
#[command(
    name = "footfall",
    version,
    about = "Footfall collector: Segment-compatible ingestion, admin API and CLI"
)]
pub struct Cli {
    /// Log format on stderr (log level: RUST_LOG, default info).
    #[arg(long, env = "FOOTFALL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (ingestion, admin, operations).
    Serve(ServeArgs),
    /// Import NDJSON files of Segment messages (.gz accepted) through the ingestion pipeline.
    Import(ImportArgs),
    /// Erase a person (events, identity links, linked anonymous ids) and refuse their later events.
    Erase(UserArgs),
    /// Print every stored event of a person as NDJSON (right of access).
    Export(ExportArgs),
    /// Export every stored event of a range (all persons), newest first, as NDJSON or CSV.
    ExportEvents(ExportEventsArgs),
    /// Run a query spec (JSON or YAML file) and print the result.
    Query(QueryArgs),
    /// Dashboards: render a dashboards file as a self-contained HTML report.
    #[command(subcommand)]
    Dashboard(DashboardCommand),
    /// Back up a RUNNING collector's embedded store (through its admin API), without stopping it.
    Backup(BackupArgs),
    /// List the backups of a RUNNING collector's embedded store (through its admin API), newest first.
    Backups(BackupsArgs),
    /// Restore a backup into a new data directory (offline; then `footfall serve --data DIR`).
    Restore(RestoreArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("storage: {0}")]
    Store(#[from] footfall_engine::store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("seeding the demo project: {0}")]
    Demo(String),
    #[error(transparent)]
    Dashboard(#[from] footfall_engine::dashboard::DashboardError),
    #[error("{0} widget(s) failed; the report was written with the errors shown in place")]
    WidgetErrors(usize),
    #[error("{0}")]
    Backup(String),
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("footfall: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("footfall: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Import(args) => {
            let (state, project) = open_for(&args.store, args.project.as_deref()).await?;
            let project = state.project(&project).expect("resolved above").clone();
            let summary = import::import_files(&state, &project, &args.files, !args.quiet).await;
            server::close_store(&state).await;
            let summary = summary?;
            println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            Ok(())
        }
        Command::Erase(args) => {
            let (state, project) = open_for(&args.store, args.project.as_deref()).await?;
            let project = state.project(&project).expect("resolved above").clone();
            let summary = privacy::erase(&state, &project, args.person(), &cli_actor()).await;
            server::close_store(&state).await;
            let summary = summary?;
            println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            Ok(())
        }
        Command::Export(args) => {
            let u = &args.user;
            let (state, project) = open_for(&u.store, u.project.as_deref()).await?;
            let project = state.project(&project).expect("resolved above").clone();
            let ndjson = privacy::export(&state, &project, u.person(), &cli_actor()).await?;
            match &args.out {
                Some(path) => std::fs::write(path, ndjson)?,
                None => std::io::stdout().lock().write_all(ndjson.as_bytes())?,
            }
            Ok(())
        }
        Command::ExportEvents(args) => {
            let (state, project) = open_for(&args.store, args.project.as_deref()).await?;
            warn_if_no_events(&state, &project).await;
            let out: Box<dyn Write> = match &args.out {
                Some(path) => Box::new(std::fs::File::create(path)?),
                None => Box::new(std::io::stdout().lock()),
            };
            let n = export_events(&state, &project, &args, std::io::BufWriter::new(out)).await;
            server::close_store(&state).await;
            eprintln!("footfall: exported {} events", n?);
            Ok(())
        }
        Command::Query(args) => {
            let (state, project) = open_for(&args.store, args.range.project.as_deref()).await?;
            warn_if_no_events(&state, &project).await;
            let r = &args.range;
            let out = run_query_file(
                &*state.store,
                &project,
                &args.spec,
                r.from.as_deref(),
                r.to.as_deref(),
                args.format.into(),
            )
            .await?;
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(())
        }
        Command::Dashboard(DashboardCommand::Render(args)) => {
            let (state, project) = open_for(&args.store, args.range.project.as_deref()).await?;
            warn_if_no_events(&state, &project).await;
            let r = &args.range;
            let report = render_report_file(
                &*state.store,
                &project,
                &args.dashboards,
                r.from.as_deref(),
                r.to.as_deref(),
            )
            .await?;
            std::fs::write(&args.out, &report.html)?;
            eprintln!("footfall: report written to {}", args.out.display());
            for e in &report.widget_errors {
                eprintln!("footfall: warning: {e}");
            }
            if !report.widget_errors.is_empty() {
                return Err(CliError::WidgetErrors(report.widget_errors.len()));
            }
            Ok(())
        }
        Command::Backup(args) => {
            let answer = crate::backup::client(
                &args.api.url,
                &args.api.admin_token,
                args.name.as_deref(),
                args.keep,
                args.out.as_deref(),
            )
            .await
            .map_err(CliError::Backup)?;
            println!("{answer}");
            Ok(())
        }
        Command::Backups(args) => {
            let json = args.format == ListFormat::Json;
            let out = crate::backup::list_client(&args.api.url, &args.api.admin_token, json)
                .await
                .map_err(CliError::Backup)?;
            std::io::stdout().lock().write_all(out.as_bytes())?;
            Ok(())
        }
        Command::Restore(args) => {
            let summary = crate::backup::restore(&args.from, &args.data, &cli_actor())
                .await
                .map_err(CliError::Backup)?;
            println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            Ok(())
        }
    }
}

fn cli_actor() -> String {
    match std::env::var("USER") {
        Ok(u) if !u.is_empty() => format!("cli:{u}"),
        _ => "cli".to_string(),
    }
}
