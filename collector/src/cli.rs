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

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tracing_subscriber::EnvFilter;

use footfall_engine::dashboard::cli::{OutputFormat, render_report_file, run_query_file};
use footfall_engine::dashboard::{DashboardStore, example_dashboards};
use footfall_engine::store::{Dialect, StoreError};

use crate::config::{Config, ConfigError, ProjectConfig, TlsConfig, TrustProxy};
use crate::error::ApiError;
use crate::import::ImportError;
use crate::privacy::Person;
use crate::state::{AppState, StartError};
use crate::tls::Tls;
use crate::{backend, demo, import, privacy, server};

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

/// Where the configuration and the data are.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// YAML config file (see collector/README.md for every option).
    #[arg(long, short = 'c', env = "FOOTFALL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded DuckDB store [default: ./footfall-data].
    #[arg(long, env = "FOOTFALL_DATA", conflicts_with = "store")]
    pub data: Option<PathBuf>,
    /// Storage URL: postgres://user@host/db or http://host:8123/db (ClickHouse).
    #[arg(long, env = "FOOTFALL_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    /// The config file (or defaults) with these flags applied.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(data) = &self.data {
            config.data = data.clone();
            config.store = None;
        }
        if let Some(store) = &self.store {
            config.store = Some(store.clone());
        }
        Ok(config)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "FOOTFALL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Write key of the project `default` (created when absent).
    #[arg(long, env = "FOOTFALL_WRITE_KEY")]
    pub write_key: Option<String>,
    /// Admin API bearer token.
    #[arg(long, env = "FOOTFALL_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Reverse-proxy hops to trust for X-Forwarded-For: `false` (0), `true` (1) or a number, as
    /// the config's `trust_proxy` [default: false].
    #[arg(long, env = "FOOTFALL_TRUST_PROXY", value_name = "N", value_parser = parse_trust_proxy)]
    pub trust_proxy: Option<TrustProxy>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; config `tls.cert_file`).
    #[arg(long, env = "FOOTFALL_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (config `tls.key_file`).
    #[arg(long, env = "FOOTFALL_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Add a demo project (`demo`, write key `demo` or --write-key) seeded with two months of traffic
    /// and the example dashboards.
    #[arg(long)]
    pub demo: bool,
    /// Serve this directory at /example/ (repeatable: the first directory that has a file wins),
    /// e.g. `--example-dir examples/browser --example-dir js/dist`.
    #[arg(long = "example-dir", value_name = "DIR")]
    pub example_dirs: Vec<PathBuf>,
    /// Do not run the alert scheduler in this process (`alerts.enabled: false`).
    #[arg(long)]
    pub no_alerts: bool,
}

/// `--trust-proxy` / `FOOTFALL_TRUST_PROXY`: the values the config file's `trust_proxy` takes.
fn parse_trust_proxy(s: &str) -> Result<TrustProxy, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(TrustProxy::Flag(true)),
        "false" => Ok(TrustProxy::Flag(false)),
        n => n
            .parse::<u8>()
            .map(TrustProxy::Hops)
            .map_err(|_| format!("`{s}` is not false, true or a number of proxy hops (0-255)")),
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Project to import into [default: the only configured project, else `default`].
    #[arg(long)]
    pub project: Option<String>,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// NDJSON files, one Segment message per line (.gz accepted).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("person").required(true).args(["user", "anonymous_id"])))]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The person's user id.
    #[arg(long)]
    pub user: Option<String>,
    /// A cookie or device id: the person is its linked user when it has one, else just that id.
    #[arg(long)]
    pub anonymous_id: Option<String>,
    /// Project [default: the only configured project, else `default`].
    #[arg(long)]
    pub project: Option<String>,
}

impl UserArgs {
    fn person(&self) -> Person<'_> {
        match (&self.user, &self.anonymous_id) {
            (Some(u), _) => Person::UserId(u),
            (None, Some(a)) => Person::AnonymousId(a),
            (None, None) => unreachable!("clap requires one of --user and --anonymous-id"),
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportEventsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Range start (2026-10-01, an RFC 3339 instant, 7_days_ago, ...), over the events' own time
    /// [default: 30_days_ago].
    #[arg(long)]
    pub from: Option<String>,
    /// Range end (a day is included whole) [default: today].
    #[arg(long)]
    pub to: Option<String>,
    /// Include events flagged as bots.
    #[arg(long)]
    pub include_bots: bool,
    /// Output format: one JSON object per line, or CSV with a header (properties, traits and
    /// context as JSON cells).
    #[arg(long, value_enum, default_value_t = EventsFormat::Ndjson)]
    pub format: EventsFormat,
    /// Project [default: the only configured project, else `default`].
    #[arg(long)]
    pub project: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Output format of `footfall export-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    Ndjson,
    Csv,
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

/// Opens the store for an offline command and picks its project: `--project`, else the only
/// configured one, else `default` (created in memory when the config does not name it).
/// Reading a project without events gives zeros, easily taken for an answer: says so on stderr,
/// naming the projects that have events (the usual slip: `--project` left out, so `default`).
/// Best effort: a failed check says nothing.
async fn warn_if_no_events(state: &AppState, project: &str) {
    use footfall_engine::query::sql::Sql;
    let Ok(lit) = Sql::new(state.store.dialect()).lit(project) else {
        return;
    };
    let any = format!("SELECT 1 FROM events WHERE project_id = {lit} LIMIT 1");
    if !matches!(state.store.query(&any).await, Ok(r) if r.rows.is_empty()) {
        return;
    }
    let others = state
        .store
        .query("SELECT project_id, count(*) AS n FROM events GROUP BY project_id ORDER BY n DESC LIMIT 10")
        .await
        .map(|r| {
            r.rows
                .iter()
                .map(|row| {
                    format!(
                        "{} ({})",
                        footfall_engine::dashboard::tabulate::cell(&row[0]),
                        row[1]
                    )
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if others.is_empty() {
        eprintln!("footfall: warning: the store holds no events yet: every number below is 0");
    } else {
        eprintln!(
            "footfall: warning: project `{project}` has no events in this store (projects with events: {}); \
             pass --project ID",
            others.join(", ")
        );
    }
}

async fn open_for(args: &StoreArgs, project: Option<&str>) -> Result<(AppState, String), CliError> {
    let mut config = args.load()?;
    let id = match project {
        Some(id) => id.to_string(),
        None if config.projects.len() == 1 => config.projects[0].id.clone(),
        None if config.projects.is_empty() => "default".to_string(),
        None => return Err(ApiError::ProjectRequired.into()),
    };
    if !config.projects.iter().any(|p| p.id == id) {
        config
            .projects
            .push(ProjectConfig::new(&id, &format!("cli-{}", uuid::Uuid::new_v4())));
    }
    let store = backend::open(&config)?;
    Ok((AppState::new(config, store).await?, id))
}

/// Writes every event of the range, a page (`raw_events`, 1,000 events) at a time; returns how
/// many.
async fn export_events(
    state: &AppState,
    project: &str,
    args: &ExportEventsArgs,
    mut out: impl Write,
) -> Result<u64, CliError> {
    use footfall_engine::dashboard::tabulate::to_table;
    use footfall_engine::query::{QueryContext, RawEventsQuery, get_raw_events, raw_events::MAX_LIMIT};
    let mut q = RawEventsQuery::new(MAX_LIMIT);
    q.from = args.from.clone();
    q.to = args.to.clone();
    q.include_bots = args.include_bots;
    let ctx = QueryContext::new(project);
    let mut n = 0u64;
    loop {
        let page = get_raw_events(&*state.store, &ctx, &q)
            .await
            .map_err(|e| CliError::Io(std::io::Error::other(format!("export-events: {e}"))))?;
        match args.format {
            EventsFormat::Ndjson => {
                for e in &page.events {
                    serde_json::to_writer(&mut out, e).map_err(std::io::Error::other)?;
                    out.write_all(b"\n")?;
                }
            }
            EventsFormat::Csv if !page.events.is_empty() || n == 0 => {
                let events = serde_json::to_value(&page.events).map_err(std::io::Error::other)?;
                let mut table = to_table(&events);
                if table.columns.is_empty() || table.columns == ["value"] {
                    // An empty range: the header alone.
                    table.columns = RAW_EVENT_COLUMNS.iter().map(|c| c.to_string()).collect();
                    table.rows.clear();
                }
                let csv = table.to_csv();
                // The header once, before the first page.
                let body = if n == 0 {
                    &csv[..]
                } else {
                    csv.split_once("\r\n").map_or("", |(_, rows)| rows)
                };
                out.write_all(body.as_bytes())?;
            }
            EventsFormat::Csv => {}
        }
        n += page.events.len() as u64;
        match page.next {
            Some(cursor) => q.before = Some(cursor),
            None => break,
        }
    }
    out.flush()?;
    Ok(n)
}

/// The CSV header of an export without events (the columns of the rows otherwise).
const RAW_EVENT_COLUMNS: [&str; 18] = [
    "event",
    "person",
    "anonymous_id",
    "browser",
    "context",
    "device_type",
    "group_id",
    "ip",
    "is_bot",
    "message_id",
    "os",
    "properties",
    "received_at",
    "session_id",
    "timestamp",
    "traits",
    "type",
    "user_id",
];

/// Adds `key` to the project `default` (created when absent), unless a project has it already.
fn add_default_key(config: &mut Config, key: &str) {
    if config
        .projects
        .iter()
        .any(|p| p.write_keys.iter().any(|k| k == key))
    {
        return;
    }
    match config.projects.iter_mut().find(|p| p.id == "default") {
        Some(p) => p.write_keys.push(key.to_string()),
        None => config.projects.push(ProjectConfig::new("default", key)),
    }
}

/// The machine-readable first line on stdout (tests and scripts read the port from it).
fn announce(scheme: &str, addr: SocketAddr) {
    println!("footfall: listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let mut config = args.store.load()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(token) = &args.admin_token {
        config.admin_token = Some(token.clone());
    }
    if let Some(trust) = args.trust_proxy {
        config.trust_proxy = trust;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let reload_secs = config.tls.as_ref().map(|t| t.reload_secs);
        let mut tls = TlsConfig::new(cert, key);
        tls.reload_secs = reload_secs.unwrap_or(tls.reload_secs);
        config.tls = Some(tls);
    }
    if !args.example_dirs.is_empty() {
        config.example_dirs = args.example_dirs.clone();
    }
    for dir in &config.example_dirs {
        if !dir.is_dir() {
            return Err(CliError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("example directory {} does not exist", dir.display()),
            )));
        }
    }
    if args.no_alerts {
        config.alerts.enabled = false;
    }
    config.demo = args.demo;
    let demo_project = if args.demo {
        let p = demo::project(args.write_key.as_deref());
        config.projects.retain(|q| q.id != p.id);
        config.projects.push(p.clone());
        if config.admin_token.is_none() {
            config.admin_token = Some(format!("demo-admin-{}", uuid::Uuid::new_v4().simple()));
        }
        Some(p)
    } else {
        if let Some(key) = &args.write_key {
            add_default_key(&mut config, key);
        }
        None
    };
    if config.projects.is_empty() {
        tracing::warn!(
            "no project configured: every ingestion request will get 401 (use --write-key or a config file)"
        );
    }
    let store = backend::open(&config)?;
    // A bad certificate pair stops the start before anything listens.
    let tls = config.tls.as_ref().map(Tls::load).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Before the address is announced: a SIGTERM from then on shuts down gracefully.
    let mut shutdown = Box::pin(server::shutdown_signal());
    let mut announced = false;
    let state = match AppState::new(config.clone(), store.clone()).await {
        Ok(state) => state,
        // The database server is not there (yet): serve /health and 503 until it is (see
        // `server`). The embedded store has no server to wait for: it refuses to start.
        Err(StartError::Store(StoreError::Unavailable(why))) if store.dialect() != Dialect::DuckDb => {
            announce(scheme, addr);
            announced = true;
            match server::wait_for_store(config, store, &listener, tls.as_ref(), why, &mut shutdown).await? {
                Some(state) => state,
                None => return Ok(()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(project) = &demo_project {
        tracing::info!(project = %project.id, "seeding the demo project (once per data directory)");
        match demo::seed(&state, project)
            .await
            .map_err(|e| CliError::Demo(e.to_string()))?
        {
            demo::Seeded::Written(n) => tracing::info!(events = n, "demo project seeded"),
            demo::Seeded::AlreadyThere(n) => tracing::info!(events = n, "demo project already seeded"),
        }
        DashboardStore::new(&*state.store, &project.id)
            .upsert_all(&example_dashboards())
            .await
            .map_err(|e| CliError::Demo(format!("example dashboards: {e}")))?;
    }
    // Loaded before the first request, not by it (read-only commands never load it).
    state.store.prepare_writes().await.map_err(StartError::Store)?;
    // The location may hold a password (postgres://user:secret@…): never in the log.
    let store = footfall_engine::store::redact_location(&backend::location(&state.config));
    tracing::info!(%addr, %store, projects = state.config.projects.len(), "collector ready");
    state.store.start_maintenance();
    if !announced {
        announce(scheme, addr);
    }
    if let Some(project) = &demo_project {
        println!(
            "footfall: demo project `{}`, write key `{}`",
            project.id, project.write_keys[0]
        );
        let token = state.config.admin_token.as_deref().unwrap_or_default();
        println!("footfall: admin token `{token}`");
        // The pages take `#token=` once into the tab's session storage and drop it from the URL.
        // URL-encoded but for RFC 3986's unreserved characters (tokens are mostly those).
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let fragment = format!("#token={}", utf8_percent_encode(token, UNRESERVED));
        println!("footfall: dashboards {scheme}://{addr}/dashboards{fragment}");
        println!("footfall: privacy {scheme}://{addr}/privacy{fragment}");
        println!("footfall: live events {scheme}://{addr}/events{fragment}");
    }
    if !state.config.example_dirs.is_empty() {
        let key = state
            .config
            .projects
            .first()
            .map(|p| p.write_keys[0].clone())
            .unwrap_or_default();
        println!("footfall: example page {scheme}://{addr}/example/?writeKey={key}");
    }
    let _ = std::io::stdout().flush();
    server::serve_with_tls(state, listener, tls, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "footfall",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            "/tmp/x",
            "--write-key",
            "k",
            "--admin-token",
            "t",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else { panic!() };
        assert_eq!(s.write_key.as_deref(), Some("k"));
        assert_eq!(s.store.load().unwrap().data, PathBuf::from("/tmp/x"));
        assert!(
            Cli::try_parse_from(["footfall", "serve", "--data", "d", "--store", "postgres://x"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["footfall", "import"]).is_err(),
            "files are required"
        );
        assert!(Cli::try_parse_from(["footfall", "erase", "--user", "u"]).is_ok());
        assert!(Cli::try_parse_from(["footfall", "erase", "--anonymous-id", "a"]).is_ok());
        assert!(
            Cli::try_parse_from(["footfall", "erase"]).is_err(),
            "a person is required"
        );
        assert!(
            Cli::try_parse_from(["footfall", "export", "--user", "u", "--anonymous-id", "a"]).is_err(),
            "one way to name the person"
        );
        let cli = Cli::try_parse_from([
            "footfall",
            "query",
            "q.yaml",
            "--format",
            "csv",
            "--from",
            "7_days_ago",
        ])
        .unwrap();
        let Command::Query(q) = cli.command else { panic!() };
        assert_eq!(
            (q.format, q.range.from.as_deref()),
            (Format::Csv, Some("7_days_ago"))
        );
        let cli =
            Cli::try_parse_from(["footfall", "dashboard", "render", "d.yaml", "--out", "r.html"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Dashboard(DashboardCommand::Render(_))
        ));
        let cli = Cli::try_parse_from([
            "footfall",
            "serve",
            "--example-dir",
            "a",
            "--example-dir",
            "b",
            "--no-alerts",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else { panic!() };
        assert_eq!(s.example_dirs, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert!(s.no_alerts);
    }

    #[test]
    fn trust_proxy_flag_takes_the_config_values() {
        // collector/README.md: `--trust-proxy` / `FOOTFALL_TRUST_PROXY` take `false`, `true` (= 1)
        // or N, like the config file's `trust_proxy`.
        let hops = |v: &str| {
            let cli =
                Cli::try_parse_from(["footfall", "serve", "--trust-proxy", v]).map_err(|e| e.to_string())?;
            let Command::Serve(s) = cli.command else { panic!() };
            Ok::<_, String>(s.trust_proxy.map(TrustProxy::hops))
        };
        assert_eq!(hops("true"), Ok(Some(1)));
        assert_eq!(hops("false"), Ok(Some(0)));
        assert_eq!(hops("2"), Ok(Some(2)));
        let err = hops("maybe").unwrap_err();
        assert!(err.contains("not false, true or a number"), "{err}");
    }

    #[test]
    fn default_key_project() {
        let mut c = Config::default();
        add_default_key(&mut c, "k1");
        add_default_key(&mut c, "k1");
        add_default_key(&mut c, "k2");
        assert_eq!(c.projects.len(), 1);
        assert_eq!(c.projects[0].write_keys, vec!["k1", "k2"]);
    }
}
