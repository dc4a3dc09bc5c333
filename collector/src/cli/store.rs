//! [`StoreArgs`]: where the configuration and the data are (the flags every offline command
//! flattens), and opening that store for an offline command.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::backend;
use crate::config::{Config, ConfigError, ProjectConfig};
use crate::error::ApiError;
use crate::state::AppState;

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

/// Reading a project without events gives zeros, easily taken for an answer: says so on stderr,
/// naming the projects that have events (the usual slip: `--project` left out, so `default`).
/// Best effort: a failed check says nothing.
pub(super) async fn warn_if_no_events(state: &AppState, project: &str) {
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

/// Opens the store for an offline command and picks its project: `--project`, else the only
/// configured one, else `default` (created in memory when the config does not name it).
pub(super) async fn open_for(
    args: &StoreArgs,
    project: Option<&str>,
) -> Result<(AppState, String), CliError> {
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
