//! Serving: the HTTP server with graceful shutdown, and the periodic jobs (retention, suppression
//! list refresh).
//!
//! On SIGTERM or SIGINT the server stops accepting connections, lets every in-flight request
//! finish (each waits for its commit, so every 2xx sent is durable), stops the jobs and returns.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::state::{AppState, now_ms};

/// Serves `state` on `listener` with the periodic jobs until `shutdown` resolves, then drains
/// in-flight requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = spawn_jobs(state.clone());
    let result = serve_http(state, listener, shutdown).await;
    for job in jobs {
        job.abort();
    }
    tracing::info!("collector stopped");
    result
}

/// The HTTP server alone (no periodic jobs), with graceful shutdown.
pub async fn serve_http(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = crate::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}

/// Starts the retention job and the suppression refresh (every configured interval).
pub fn spawn_jobs(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let retention_every = Duration::from_secs(state.config.retention.interval_secs);
    let refresh_every = Duration::from_secs(state.config.suppression_refresh_secs);
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
    let refresh = tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh_every);
        tick.tick().await; // loaded at start already
        loop {
            tick.tick().await;
            if let Err(e) = state.refresh_suppression().await {
                tracing::warn!(error = %e, "suppression list refresh failed");
            }
        }
    });
    vec![retention, refresh]
}
