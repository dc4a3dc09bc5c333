//! Serving connections: the accept loop under the connection cap, the TLS handshake, HTTP/1.1
//! by hyper with the header read timeout, and the graceful close at shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::connections::{ConnectionLimit, Slot};
use super::load_tls;
use crate::state::AppState;
use crate::tls::Tls;

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

pub(super) async fn serve_connections(
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
pub(super) async fn accept_failed(e: std::io::Error) {
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
pub(super) fn spawn_connection(
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
