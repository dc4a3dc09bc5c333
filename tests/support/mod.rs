//! A tiny Segment-compatible collector for integration tests: axum on 127.0.0.1:0 that records
//! every request (headers, gunzipped body) and answers from a script (default: 200 with
//! `{"accepted":n,"rejected":[]}`). It also serves `GET /v1/settings` (privacy settings with an
//! `ETag`, 304 for a matching `If-None-Match`; 404 until [`TestCollector::serve_settings`]) and
//! records each settings request.
#![allow(dead_code)]

pub mod transport;

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use footfall::Batch;
use tokio::sync::Notify;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Option<String>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: None,
        }
    }
    pub fn retry_after(status: u16, secs: u64) -> Answer {
        Answer {
            status,
            retry_after: Some(secs.to_string()),
            body: None,
        }
    }
    pub fn with_body(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: Some(body.to_string()),
        }
    }
}

/// What arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub content_encoding: Option<String>,
    pub content_type: Option<String>,
    pub raw_len: usize,
    pub batch: Batch,
}

impl Received {
    pub fn ids(&self) -> Vec<String> {
        self.batch.batch.iter().map(|m| m.message_id.clone()).collect()
    }
}

/// One `GET /v1/settings`.
#[derive(Debug, Clone)]
pub struct SettingsHit {
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<Answer>>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    /// (body, etag) served, or a status to fail with.
    settings: Mutex<Option<Result<(String, String), u16>>>,
    settings_hits: Mutex<Vec<SettingsHit>>,
    settings_arrived: Notify,
}

async fn settings(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let if_none_match = header("if-none-match");
    let served = inner.settings.lock().unwrap().clone();
    let response = match served {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Err(status)) => StatusCode::from_u16(status).unwrap().into_response(),
        Some(Ok((_, etag))) if if_none_match.as_deref() == Some(etag.as_str()) => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut().insert("etag", etag.parse().unwrap());
            r
        }
        Some(Ok((body, etag))) => {
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert("etag", etag.parse().unwrap());
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        }
    };
    inner.settings_hits.lock().unwrap().push(SettingsHit {
        authorization: header("authorization"),
        if_none_match,
        status: response.status().as_u16(),
    });
    inner.settings_arrived.notify_waiters();
    response
}

/// The running test collector.
pub struct TestCollector {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

async fn batch(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_encoding = header("content-encoding");
    let json = if content_encoding.as_deref() == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    } else {
        body.to_vec()
    };
    let batch: Batch = match serde_json::from_slice(&json) {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad batch: {e}")).into_response(),
    };
    let n = batch.batch.len();
    inner.received.lock().unwrap().push(Received {
        authorization: header("authorization"),
        content_encoding,
        content_type: header("content-type"),
        raw_len: body.len(),
        batch,
    });
    inner.arrived.notify_waiters();
    let answer = inner.script.lock().unwrap().pop_front();
    let answer =
        answer.unwrap_or_else(|| Answer::with_body(200, serde_json::json!({"accepted": n, "rejected": []})));
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        answer.body.unwrap_or_default(),
    )
        .into_response();
    if let Some(secs) = answer.retry_after {
        response
            .headers_mut()
            .insert("retry-after", secs.parse().unwrap());
    }
    response
}

impl TestCollector {
    /// Starts the server on the current tokio runtime.
    pub async fn start() -> TestCollector {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/batch", post(batch))
            .route("/v1/settings", get(settings))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestCollector { addr, inner }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues answers for the next requests (in order).
    pub fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.script.lock().unwrap().extend(answers);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.received.lock().unwrap().len()
    }

    /// Serves `body` as the privacy settings with `etag` from now on.
    pub fn serve_settings(&self, body: serde_json::Value, etag: &str) {
        *self.inner.settings.lock().unwrap() = Some(Ok((body.to_string(), etag.to_string())));
    }

    /// Answers settings requests with `status` from now on.
    pub fn fail_settings(&self, status: u16) {
        *self.inner.settings.lock().unwrap() = Some(Err(status));
    }

    /// Every settings request so far.
    pub fn settings_hits(&self) -> Vec<SettingsHit> {
        self.inner.settings_hits.lock().unwrap().clone()
    }

    /// Waits until `n` settings requests arrived (20 s guard against a hang).
    pub async fn wait_for_settings(&self, n: usize) -> Vec<SettingsHit> {
        let wait = async {
            loop {
                let notified = self.inner.settings_arrived.notified();
                if self.settings_hits().len() >= n {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), wait).await.is_err() {
            panic!("expected {n} settings requests, got {:?}", self.settings_hits());
        }
        self.settings_hits()
    }

    /// Waits until `n` requests arrived. The 20 s limit only guards against a hang; nothing
    /// about timing is asserted.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let wait = async {
            loop {
                let notified = self.inner.arrived.notified();
                if self.count() >= n {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), wait).await.is_err() {
            panic!(
                "expected {n} requests, got {}: {:?}",
                self.count(),
                self.received()
            );
        }
        self.received()
    }
}

/// A client of `server` on the virtual `clock`, configured from JSON, with a seeded RNG.
pub fn client_builder(
    server: &TestCollector,
    clock: &footfall::testing::ManualClock,
    config: serde_json::Value,
    seed: u64,
) -> footfall::ClientBuilder {
    footfall::Client::builder("wk_test")
        .endpoint(server.endpoint())
        .config(footfall::Config::from_value(config).unwrap())
        .clock(Arc::new(clock.clone()))
        .rng(Box::new(footfall::testing::SeededRng::new(seed)))
}

/// Whether a live client holds the lock of `dir` (a data dir or one of its `slot-N`), i.e.
/// whether `flock` on `{dir}/lock` would block. Probes with a lock of its own, released at once.
pub fn lock_held(dir: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(dir.join("lock")) else {
        return false;
    };
    // SAFETY: plain `flock` calls on a descriptor `file` keeps open.
    unsafe {
        if libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 {
            libc::flock(file.as_raw_fd(), libc::LOCK_UN);
            false
        } else {
            true
        }
    }
}
