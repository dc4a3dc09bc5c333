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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use footfall_engine::dashboard::{AlertScheduler, CacheWarmer};
use footfall_engine::store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::{AppState, StartError, now_ms};
use crate::tls::Tls;

pub mod connections;

use connections::{ConnectionLimit, Slot};

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

/// Builds the state once the store is reachable; meanwhile serves `listener` with a stand-in:
/// `GET /health` 200, everything else 503 + Retry-After naming the last failure, each
/// connection closed after one answer (so a client's next request reaches the real server).
/// `first_failure` is why the first attempt failed. Returns `None` when `shutdown` comes first,
/// an error when the store fails otherwise than "unavailable".
pub async fn wait_for_store(
    config: Config,
    store: Arc<dyn Store>,
    listener: &TcpListener,
    tls: Option<&Tls>,
    first_failure: String,
    shutdown: impl Future<Output = ()>,
) -> Result<Option<AppState>, StartError> {
    tracing::warn!(error = %first_failure, "storage unreachable at start: not ready (503) until it is reachable");
    let header_timeout = Duration::from_secs(config.limits.header_timeout_secs.max(1));
    let limit = ConnectionLimit::new(&config.limits);
    let why = Arc::new(Mutex::new(first_failure));
    let router = stand_in(config.limits.retry_after_secs, why.clone());
    let init = async {
        let mut pause = Duration::from_secs(1);
        loop {
            tokio::time::sleep(pause).await;
            match AppState::new(config.clone(), store.clone()).await {
                Err(StartError::Store(StoreError::Unavailable(e))) => {
                    tracing::warn!(error = %e, retry_in = ?pause, "storage still unreachable");
                    *why.lock().unwrap_or_else(|e| e.into_inner()) = e;
                    pause = (pause * 2).min(START_RETRY_MAX);
                }
                other => return other,
            }
        }
    };
    let (close_tx, close_rx) = watch::channel(false);
    let mut init = std::pin::pin!(init);
    let mut shutdown = std::pin::pin!(shutdown);
    let result = loop {
        tokio::select! {
            state = &mut init => break state.map(Some),
            () = &mut shutdown => break Ok(None),
            accepted = limit.accept(listener) => match accepted {
                Ok(accepted) => {
                    spawn_connection(router.clone(), accepted, header_timeout, close_rx.clone(), tls);
                }
                Err(e) => accept_failed(e).await,
            },
        }
    };
    let _ = close_tx.send(true);
    if matches!(result, Ok(Some(_))) {
        tracing::info!("storage reachable: starting");
    }
    result
}

/// The routes of [`wait_for_store`].
fn stand_in(retry_after: u64, why: Arc<Mutex<String>>) -> axum::Router {
    fn closing(mut response: Response) -> Response {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
    axum::Router::new()
        .route(
            "/health",
            axum::routing::get(|| async { closing(crate::routes::ops::health().await.into_response()) }),
        )
        .fallback(move || {
            let why = why.lock().unwrap_or_else(|e| e.into_inner()).clone();
            async move {
                closing(
                    ApiError::StoreUnavailable {
                        message: format!("the collector is starting and waits for its storage: {why}"),
                        retry_after,
                    }
                    .into_response(),
                )
            }
        })
}

/// Resolves once the watch says stop (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The HTTP server alone (no periodic jobs), with graceful shutdown.
///
/// HTTP/1.1 served by hyper with a header read timeout (`limits.header_timeout_secs`, counted
/// from the connection's start or the previous response): a client that sends its headers slowly
/// or never (slowloris, idle connections) is cut off, so connections cannot pile up. The body has
/// its own timeout (`limits.body_timeout_secs`, 408). At shutdown the listener closes, idle
/// connections close, and each connection finishes the request it is serving.
///
/// HTTPS when the config has `tls` (see [`crate::tls`]).
pub async fn serve_http(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = load_tls(&state)?;
    serve_connections(state, listener, tls, shutdown).await
}

async fn serve_connections(
    state: AppState,
    listener: TcpListener,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_secs(state.config.limits.header_timeout_secs.max(1));
    let limit = ConnectionLimit::new(&state.config.limits);
    // Renewed certificate files are picked up while serving (aborted when serving ends).
    let reloader = match (&tls, &state.config.tls) {
        (Some(tls), Some(config)) => Some(AbortOnDrop(
            tls.spawn_reloader(Duration::from_secs(config.reload_secs)),
        )),
        _ => None,
    };
    let router = crate::app(state);
    let (close_tx, close_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = limit.accept(&listener) => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        spawn_connection(
            router.clone(),
            accepted,
            header_timeout,
            close_rx.clone(),
            tls.as_ref(),
        );
    }
    drop(listener);
    drop(reloader);
    let _ = close_tx.send(true);
    drop(close_rx);
    // Every connection task holds a receiver: this resolves when the last one ends.
    close_tx.closed().await;
    Ok(())
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An accept error: per-connection ones (the client gave up) are skipped; others (out of file
/// descriptors) are logged and retried after a pause instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves one accepted connection on its own task: through the TLS handshake first with `tls`
/// (which shares the header timeout: a client that never finishes it is cut off). The task
/// holds the connection's [`Slot`] until it ends.
fn spawn_connection(
    router: axum::Router,
    (stream, remote, slot): (tokio::net::TcpStream, SocketAddr, Slot),
    header_timeout: Duration,
    close: watch::Receiver<bool>,
    tls: Option<&Tls>,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        tokio::spawn(async move {
            serve_connection(router, stream, remote, header_timeout, close).await;
            drop(slot);
        });
        return;
    };
    let acceptor = tls.acceptor().clone();
    tokio::spawn(async move {
        let _slot = slot;
        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => serve_connection(router, stream, remote, header_timeout, close).await,
            Ok(Err(e)) => tracing::debug!(error = %e, %remote, "TLS handshake failed"),
            Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
        }
    });
}

async fn serve_connection<S>(
    router: axum::Router,
    stream: S,
    remote: SocketAddr,
    header_timeout: Duration,
    mut close: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            return;
        }
        _ = close.wait_for(|closing| *closing) => {}
    }
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, %remote, "connection ended with an error");
    }
}

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
