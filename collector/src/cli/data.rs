//! The offline commands that move data in and out of a store: `footfall import` (NDJSON files),
//! `erase` and `export` (one person, by user id or anonymous id) and `export-events` (a range,
//! every person, written a page at a time).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CliError, StoreArgs};
use crate::privacy::Person;
use crate::state::AppState;

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
    pub(super) fn person(&self) -> Person<'_> {
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

/// Writes every event of the range, a page (`raw_events`, 1,000 events) at a time; returns how
/// many.
pub(super) async fn export_events(
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
