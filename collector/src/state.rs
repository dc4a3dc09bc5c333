//! The collector's shared state: configuration, projects by write key, the store, the group
//! committer, metrics, the suppression list and the intake limit.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use footfall_engine::store::{Store, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::{RwLock, Semaphore};

use crate::commit::Committer;
use crate::config::{Config, ConfigError, ProjectConfig};
use crate::error::ApiError;
use crate::ingest::enrich::UaCache;
use crate::metrics::Metrics;
use crate::privacy::settings::Registry;
use crate::privacy::suppression::Suppression;
use footfall_engine::dashboard::cache::DataCache;

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub committer: Committer,
    pub metrics: Arc<Metrics>,
    pub suppression: Suppression,
    /// The projects' live privacy settings.
    pub privacy: Registry,
    /// Cached dashboard widget results (fresh 60 s, then served stale while refreshed; kept warm
    /// by the cache warmer of `server::spawn_jobs`; the pages' Refresh bypasses it).
    pub dashboard_cache: DataCache,
    pub ua: UaCache,
    /// Permits for concurrent ingestion requests (`limits.max_inflight_requests`).
    pub intake: Semaphore,
    /// Held shared by ingestion from the suppression check until its commit returns, and
    /// exclusively by erasure while it extends the suppression list: after that, no event of the
    /// erased person validated earlier can still be in flight.
    pub gate: RwLock<()>,
    by_key: HashMap<String, usize>,
    admin_token_digest: Option<[u8; 32]>,
    /// Failed admin-token attempts per client address (see [`crate::auth_limit`]).
    pub admin_failures: crate::auth_limit::AuthLimiter,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Validates the config, migrates the store, loads the suppression list and starts the group
    /// committer (so it must run inside a tokio runtime).
    pub async fn new(config: Config, store: Arc<dyn Store>) -> Result<AppState, StartError> {
        config.validate()?;
        store.migrate().await?;
        let by_key = config
            .projects
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.write_keys.iter().map(move |k| (k.clone(), i)))
            .collect();
        let metrics = Arc::new(Metrics::new());
        let limits = &config.limits;
        let committer = Committer::spawn(
            store.clone(),
            metrics.clone(),
            limits.max_inflight_requests + 16,
            limits.max_commit_events,
        );
        let suppression = Suppression::default();
        let ids: Vec<String> = config.projects.iter().map(|p| p.id.clone()).collect();
        suppression.reload(&*store, &ids).await?;
        let privacy = Registry::from_config(&config);
        privacy.reload(&*store).await?;
        Ok(AppState(Arc::new(Inner {
            intake: Semaphore::new(limits.max_inflight_requests),
            admin_token_digest: config.admin_token.as_deref().map(digest),
            admin_failures: Default::default(),
            config,
            store,
            committer,
            metrics,
            suppression,
            privacy,
            dashboard_cache: DataCache::default(),
            ua: UaCache::default(),
            gate: RwLock::new(()),
            by_key,
        })))
    }

    pub fn project_by_key(&self, write_key: &str) -> Option<&ProjectConfig> {
        self.by_key.get(write_key).map(|&i| &self.config.projects[i])
    }

    pub fn project(&self, id: &str) -> Option<&ProjectConfig> {
        self.config.projects.iter().find(|p| p.id == id)
    }

    /// The named project, or the only one when none is named.
    pub fn resolve_project(&self, id: Option<&str>) -> Result<&ProjectConfig, ApiError> {
        match id {
            Some(id) => self
                .project(id)
                .ok_or_else(|| ApiError::UnknownProject(id.to_string())),
            None if self.config.projects.len() == 1 => Ok(&self.config.projects[0]),
            None if self.config.projects.is_empty() => {
                Err(ApiError::BadRequest("no project is configured".into()))
            }
            None => Err(ApiError::ProjectRequired),
        }
    }

    /// Compares an admin token in constant time (digests of equal length).
    pub fn is_admin_token(&self, token: &str) -> bool {
        match &self.admin_token_digest {
            Some(expected) => {
                digest(token)
                    .iter()
                    .zip(expected)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            None => false,
        }
    }

    /// Reloads the privacy settings (other collector processes may have changed them).
    pub async fn refresh_privacy(&self) -> Result<(), StoreError> {
        self.privacy.reload(&*self.store).await
    }

    /// Reloads the suppression list (other collector processes may have erased persons).
    pub async fn refresh_suppression(&self) -> Result<(), StoreError> {
        let ids: Vec<String> = self.config.projects.iter().map(|p| p.id.clone()).collect();
        self.suppression.reload(&*self.store, &ids).await
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
