//! `footfall serve --demo`: a demo project with two realistic months of traffic, so the dashboards
//! have something to show right away.
//!
//! The events come from the engine's deterministic generator
//! ([`footfall_engine::generate`]: visitors, sessions, a signup journey with anonymous →
//! identified users, features, purchases, errors, bots, retried duplicates; 400,000 events over
//! the 61 days ending today: the dashboards' last 30 days and the period before them) and are committed through the collector's group committer, like any
//! other write. Seeding is skipped when the project already holds events, so restarting with
//! `--demo` on the same data directory adds nothing.

use footfall_engine::generate::{GenConfig, Generator};
use footfall_engine::store::events_relation;

use crate::commit::CommitError;
use crate::config::ProjectConfig;
use crate::privacy::sql_string;
use crate::state::{AppState, now_ms};

/// The demo project's id.
pub const PROJECT: &str = "demo";

/// A demo project (write key `demo` unless one is given).
pub fn project(write_key: Option<&str>) -> ProjectConfig {
    let mut p = ProjectConfig::new(PROJECT, write_key.unwrap_or("demo"));
    p.name = Some("Demo shop".into());
    p
}

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// Events written (duplicates of the generator's retries not counted).
    Written(usize),
    /// The project already had this many events; nothing was written.
    AlreadyThere(i64),
}

/// Seeds the demo project unless it already holds events.
pub async fn seed(state: &AppState, project: &ProjectConfig) -> Result<Seeded, CommitError> {
    let d = state.store.dialect();
    let sql = format!(
        "SELECT count(*) FROM {} WHERE project_id = {}",
        events_relation(d),
        sql_string(d, &project.id)
    );
    let existing = state
        .store
        .query(&sql)
        .await?
        .rows
        .first()
        .and_then(|r| r.first()?.as_i64())
        .unwrap_or(0);
    if existing > 0 {
        return Ok(Seeded::AlreadyThere(existing));
    }
    let mut written = 0;
    for batch in Generator::new(GenConfig::demo(&project.id, now_ms())) {
        let events = batch.events.len();
        let outcome = state.committer.commit(batch).await?;
        written += events - outcome.duplicates.len();
    }
    Ok(Seeded::Written(written))
}
