//! The cache warmer: keeps every dashboard's widget results warm in the host's [`DataCache`], so
//! opening a dashboard never waits for its queries (at 10M events a widget takes seconds).
//!
//! A pass lists every dashboard of every project and computes each widget over its default range
//! (no `from`/`to` in the request: the widget's own range, else the dashboard's, else the last 30
//! days), skipping results that are still fresh or being refreshed. Work is **sequential and low
//! priority**: one widget at a time, each holding the cache's single background permit (shared
//! with stale-while-revalidate refreshes), so at most one background query competes with
//! ingestion. A widget that fails is logged and not cached; the pass goes on.
//!
//! [`CacheWarmer::run`] does a pass at start and then every `interval` (default
//! [`CacheWarmer::DEFAULT_INTERVAL`], 5 minutes) after the previous pass ended, until shutdown.
//! [`CacheWarmer::warm_once`] is one pass at an explicit `now` (deterministic in tests).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::cache::{DataCache, Lookup};
use super::crud::DashboardStore;
use super::data::{compute_into, dashboard_context, widget_key, widget_range};
use crate::store::Store;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmReport {
    pub dashboards: usize,
    /// Widgets computed and stored.
    pub computed: usize,
    /// Widgets skipped: fresh in the cache, being refreshed by a request, or computed by a
    /// request while the warmer waited for it.
    pub skipped: usize,
    /// Widgets whose query (or range) failed; also a project whose dashboards could not be listed.
    pub failed: usize,
}

pub struct CacheWarmer {
    store: Arc<dyn Store>,
    cache: DataCache,
    projects: Vec<String>,
    interval: Duration,
}

impl CacheWarmer {
    /// Time between the end of a pass and the start of the next.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

    pub fn new(store: Arc<dyn Store>, cache: DataCache, projects: Vec<String>) -> Self {
        CacheWarmer {
            store,
            cache,
            projects,
            interval: Self::DEFAULT_INTERVAL,
        }
    }

    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_secs(1));
        self
    }

    /// One pass over every project's dashboards; `now_ms` resolves relative dates and stamps the
    /// results.
    pub async fn warm_once(&self, now_ms: i64) -> WarmReport {
        self.pass(|| now_ms).await
    }

    async fn pass(&self, now: impl Fn() -> i64) -> WarmReport {
        let mut report = WarmReport::default();
        let store = self.store.as_ref();
        for project in &self.projects {
            let dashboards = match DashboardStore::new(store, project).list().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(project, error = %e, "cache warmer: cannot list dashboards");
                    report.failed += 1;
                    continue;
                }
            };
            for d in &dashboards {
                report.dashboards += 1;
                let dashboard_id = d.id.clone().unwrap_or_default();
                for (index, w) in d.widgets.iter().enumerate() {
                    let now_ms = now();
                    let range = match widget_range(d, w, None, now_ms) {
                        Ok(r) => r,
                        Err(_) => {
                            report.failed += 1;
                            continue;
                        }
                    };
                    let key = widget_key(project, &dashboard_id, w, range.0, range.1);
                    let claim = match self.cache.lookup(&key, now_ms) {
                        Lookup::Fresh { .. } | Lookup::Stale { refresh: None, .. } => {
                            report.skipped += 1;
                            continue;
                        }
                        Lookup::Stale { refresh, .. } => refresh,
                        Lookup::Miss => None,
                    };
                    let _permit = self.cache.background_permit().await;
                    // A viewer may be computing this missing widget right now: wait and reuse.
                    let slot = if claim.is_none() {
                        Some(self.cache.compute_slot(&key).await)
                    } else {
                        None
                    };
                    if slot.is_some() && self.cache.is_fresh(&key, now_ms) {
                        report.skipped += 1;
                        continue;
                    }
                    let ctx = dashboard_context(project, d, now_ms);
                    match compute_into(store, &self.cache, key, claim, &ctx, index, w, range).await {
                        Ok(()) => report.computed += 1,
                        Err(e) => {
                            tracing::warn!(project, dashboard = dashboard_id, widget = index, error = %e,
                                "cache warmer: widget failed (not cached)");
                            report.failed += 1;
                        }
                    }
                }
            }
        }
        report
    }

    /// Passes at start and every `interval` after the previous one ended, until `shutdown`
    /// resolves (a pass in progress is abandoned: it only fills a cache).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let work = async {
            loop {
                let started = std::time::Instant::now();
                let r = self.pass(|| chrono::Utc::now().timestamp_millis()).await;
                tracing::debug!(
                    ?r,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "dashboard cache warmed"
                );
                tokio::time::sleep(self.interval).await;
            }
        };
        tokio::select! {
            _ = work => {},
            _ = shutdown => {},
        }
    }
}
