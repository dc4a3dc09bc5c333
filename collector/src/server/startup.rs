//! Starting while the storage is unreachable: the stand-in served meanwhile (`/health` alive,
//! everything else 503 + Retry-After) and the retries of [`wait_for_store`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use footfall_engine::store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::START_RETRY_MAX;
use super::accept::{accept_failed, spawn_connection};
use super::connections::ConnectionLimit;
use crate::config::Config;
use crate::error::ApiError;
use crate::state::{AppState, StartError};
use crate::tls::Tls;

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
