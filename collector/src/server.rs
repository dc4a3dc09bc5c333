//! Serving: the HTTP server with graceful shutdown, and the periodic jobs (retention, refresh of
//! the suppression list and of the privacy settings, the dashboards' cache warmer, and the alert
//! scheduler when `alerts.enabled`).
//!
//! The cache warmer computes every project's dashboards' widgets (default date ranges) into the
//! dashboards' result cache at start and then every 5 minutes
//! ([`CacheWarmer::DEFAULT_INTERVAL`], counted from the end of a pass), one widget at a time, so
//! opening a dashboard is served from the cache.
//!
//! A collector whose database server (PostgreSQL, ClickHouse) cannot be reached when it starts
//! does not exit: it serves
//! [`wait_for_store`]'s stand-in until it can (`/health` 200 — alive; `/ready` and everything
//! else 503 + Retry-After — not ready), retrying every 1 s, doubling up to [`START_RETRY_MAX`].
//! An orchestrator thus keeps the process (liveness) and sends it no traffic (readiness) until the
//! database is there, as after any later outage. Storage errors that waiting cannot fix (a
//! malformed location, refused credentials, a failed migration) still end the process.
//!
//! Connections are capped (`limits.max_connections`, default derived from the open-files limit,
//! which is raised to its hard limit first): at the cap the accept loops stop accepting and new
//! connections wait in the listen backlog, so a flood of connections cannot take the file
//! descriptors the store needs (see [`connections`]).
//!
//! On SIGTERM or SIGINT the server stops accepting connections, lets every in-flight request
//! finish (each waits for its commit, so every 2xx sent is durable), stops the alert scheduler
//! (it finishes the round it is in, for at most [`ALERTS_STOP_GRACE`]), stops the jobs and
//! returns.
//!
//! # Layout
//!
//! This file holds [`serve`] (the server plus the jobs, and the shutdown sequence) and the
//! shutdown signal; `accept.rs` serves connections (the accept loop, TLS handshakes, HTTP/1.1 with
//! its header timeout, graceful close), `startup.rs` the stand-in served while the storage is
//! unreachable at start ([`wait_for_store`]), `jobs.rs` the periodic jobs and the alert scheduler,
//! and [`connections`] the cap on open connections.
//!
//! [`CacheWarmer::DEFAULT_INTERVAL`]: footfall_engine::dashboard::CacheWarmer::DEFAULT_INTERVAL

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::AppState;
use crate::tls::Tls;

mod accept;
pub mod connections;
mod jobs;
mod startup;

pub use accept::serve_http;
pub use jobs::{spawn_alerts, spawn_dashboard_warmer, spawn_jobs};
pub use startup::wait_for_store;

use accept::serve_connections;

/// Longest pause between two attempts to reach the storage at start (they start at 1 s and
/// double).
pub const START_RETRY_MAX: Duration = Duration::from_secs(10);

/// How long shutdown waits for an alert round in progress (webhooks time out after 10 s).
pub const ALERTS_STOP_GRACE: Duration = Duration::from_secs(15);

/// Serves `state` on `listener` with the periodic jobs until `shutdown` resolves, then drains
/// in-flight requests. HTTPS when the config has `tls` (its files are read here: a bad pair is
/// an `InvalidInput` error; [`serve_with_tls`] takes one loaded beforehand).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = load_tls(&state)?;
    serve_with_tls(state, listener, tls, shutdown).await
}

fn load_tls(state: &AppState) -> std::io::Result<Option<Tls>> {
    let config = state.config.tls.as_ref();
    config
        .map(Tls::load)
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// [`serve`] with `tls` (HTTPS) or without (HTTP).
pub async fn serve_with_tls(
    state: AppState,
    listener: TcpListener,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let jobs = spawn_jobs(state.clone());
    let state_for_close = state.clone();
    let alerts = spawn_alerts(&state, stopped(stop_rx.clone()));
    let result = serve_connections(state, listener, tls, stopped(stop_rx)).await;
    if let Some(alerts) = alerts {
        match tokio::time::timeout(ALERTS_STOP_GRACE, alerts).await {
            Ok(_) => tracing::info!("alert scheduler stopped"),
            Err(_) => tracing::warn!("alert scheduler did not stop in time; abandoning its round"),
        }
    }
    for job in jobs {
        job.abort();
    }
    close_store(&state_for_close).await;
    tracing::info!("collector stopped");
    result
}

/// [`footfall_engine::store::Store::close`] at exit, logged (a failure loses nothing: the
/// embedded store replays its intake log at the next open).
pub async fn close_store(state: &AppState) {
    let started = std::time::Instant::now();
    match state.store.close().await {
        Ok(()) => tracing::info!(elapsed = ?started.elapsed(), "store closed"),
        Err(e) => {
            tracing::warn!(error = %e, "closing the store failed; its intake log is replayed at the next open")
        }
    }
}

/// Resolves once the watch says stop (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called, not
/// when the future is first polled: call it before announcing the address, so that a SIGTERM
/// right after start is a graceful shutdown too, not the default action (killed by the signal).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received: finishing in-flight requests");
    }
}
