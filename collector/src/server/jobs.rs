//! The periodic jobs a serving collector runs (retention, the suppression list and privacy
//! settings refreshes, the dashboards' cache warmer) and the alert scheduler.

use std::future::Future;
use std::time::Duration;

use footfall_engine::dashboard::{AlertScheduler, CacheWarmer};

use crate::state::{AppState, now_ms};

/// Starts the dashboards' alert scheduler for every configured project, unless
/// `alerts.enabled` is false; it stops when `shutdown` resolves.
pub fn spawn_alerts(
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    let alerts = &state.config.alerts;
    if !alerts.enabled {
        tracing::info!("alert scheduler disabled (alerts.enabled: false)");
        return None;
    }
    let projects = state.config.projects.iter().map(|p| p.id.clone()).collect();
    let scheduler =
        AlertScheduler::new(state.store.clone(), projects).with_tick(Duration::from_secs(alerts.tick_secs));
    Some(tokio::spawn(scheduler.run(shutdown)))
}

/// Starts the dashboards' cache warmer (see the module docs); it runs until aborted.
pub fn spawn_dashboard_warmer(state: &AppState) -> tokio::task::JoinHandle<()> {
    let projects = state.config.projects.iter().map(|p| p.id.clone()).collect();
    let warmer = CacheWarmer::new(state.store.clone(), state.dashboard_cache.clone(), projects);
    tokio::spawn(warmer.run(std::future::pending()))
}

/// Starts the retention job, the suppression list refresh, the privacy settings refresh (every
/// configured interval) and the dashboards' cache warmer.
pub fn spawn_jobs(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let warmer = spawn_dashboard_warmer(&state);
    let retention_every = Duration::from_secs(state.config.retention.interval_secs);
    let refresh_every = Duration::from_secs(state.config.suppression_refresh_secs);
    let settings_every = Duration::from_secs(state.config.settings_refresh_secs);
    let s = state.clone();
    let retention = tokio::spawn(async move {
        let mut tick = tokio::time::interval(retention_every);
        loop {
            tick.tick().await;
            if let Err(e) = crate::privacy::run_retention(&s, now_ms()).await {
                tracing::warn!(error = %e, "retention job failed; will retry at the next interval");
            }
        }
    });
    let s = state.clone();
    let refresh = tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh_every);
        tick.tick().await; // loaded at start already
        loop {
            tick.tick().await;
            if let Err(e) = s.refresh_suppression().await {
                tracing::warn!(error = %e, "suppression list refresh failed");
            }
        }
    });
    let settings = tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // loaded at start already
        loop {
            tick.tick().await;
            if let Err(e) = state.refresh_privacy().await {
                tracing::warn!(error = %e, "privacy settings refresh failed; keeping the previous ones");
            }
        }
    });
    vec![retention, refresh, settings, warmer]
}
