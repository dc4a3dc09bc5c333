//! A small axum web service that tracks every request it serves with the Footfall native SDK.
//!
//! ```sh
//! # Against a collector:
//! FOOTFALL_ENDPOINT=http://127.0.0.1:8080 FOOTFALL_WRITE_KEY=wk_dev cargo run -p footfall-example-web-service
//! # Stand-alone (no FOOTFALL_ENDPOINT): a built-in sink on 127.0.0.1 prints what arrives.
//! cargo run -p footfall-example-web-service
//! curl -H 'x-user-id: user_42' localhost:3000/
//! curl -X POST localhost:3000/purchase
//! curl localhost:3000/stats
//! ```
//!
//! Environment (all optional): `PORT` (default 3000), `FOOTFALL_ENDPOINT` (default: the
//! built-in sink), `FOOTFALL_WRITE_KEY` (default `wk_dev`), `FOOTFALL_DATA_DIR` (persist the
//! queue across restarts; default memory only), `FOOTFALL_CONFIG` (path of an
//! `analytics_config.yaml`), `RUST_LOG` (e.g. `footfall=debug` to see the SDK's debug log).
//!
//! Each request becomes an `http_request` event carrying method, route, status and latency,
//! attributed to the `x-user-id` header when present, else to the `x-anonymous-id` header, else
//! to an anonymous id per client address. Ctrl-C shuts the client down gracefully (pending
//! events are delivered, or kept in the data dir for the next start).

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use footfall::{Client, Config, Event};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Tracks one request after it was served.
async fn track_request(State(client): State<Client>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let response = next.run(request).await;
    let mut event = Event::track("http_request")
        .property("method", method)
        .property("path", path)
        .property("status", response.status().as_u16())
        .property("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
    event = identify(event, &headers, peer.as_deref());
    if let Some(ua) = headers.get("user-agent").and_then(|v| v.to_str().ok()) {
        event = event.user_agent(ua);
    }
    client.track(event); // returns immediately; never blocks the response
    response
}

/// Server-side events carry their own identity (one process, many users).
fn identify(event: Event, headers: &HeaderMap, peer: Option<&str>) -> Event {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let event = match peer {
        Some(ip) => event.ip(ip), // truncated by the SDK when privacy.anonymize_ip is on (default)
        None => event,
    };
    match (header("x-user-id"), header("x-anonymous-id")) {
        (Some(user), _) => event.user_id(user),
        (None, Some(anon)) => event.anonymous_id(anon),
        (None, None) => event.anonymous_id(format!("anon-{}", peer.unwrap_or("unknown"))),
    }
}

async fn home() -> &'static str {
    "Hello from the Footfall example service.\n"
}

async fn purchase(State(client): State<Client>, headers: HeaderMap) -> &'static str {
    let user = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("guest");
    client.track(
        Event::purchase(
            "ord_1001",
            49.9,
            "EUR",
            serde_json::json!([{"sku": "sku_1", "quantity": 2}]),
        )
        .user_id(user),
    );
    "Thanks for your order.\n"
}

async fn stats(State(client): State<Client>) -> Json<footfall::Stats> {
    Json(client.stats().await)
}

/// A stand-in collector for running the example alone: accepts `/v1/batch` and prints it.
async fn start_sink() -> String {
    async fn receive(headers: HeaderMap, body: axum::body::Bytes) -> impl IntoResponse {
        let mut json = Vec::new();
        if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            let _ = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut json);
        } else {
            json = body.to_vec();
        }
        let batch: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        let n = batch["batch"].as_array().map_or(0, Vec::len);
        println!("[sink] batch of {n}: {}", String::from_utf8_lossy(&json));
        Json(serde_json::json!({"accepted": n, "rejected": []}))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the sink");
    let addr = listener.local_addr().expect("sink address");
    tokio::spawn(async move { axum::serve(listener, Router::new().route("/v1/batch", post(receive))).await });
    format!("http://{addr}")
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(env("RUST_LOG").unwrap_or_else(|| "footfall=info".into()))
        .init();
    let config = match env("FOOTFALL_CONFIG") {
        Some(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
            Config::from_yaml(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
        None => Config::default(),
    };
    let endpoint = match env("FOOTFALL_ENDPOINT") {
        Some(e) => e,
        None => start_sink().await,
    };
    let mut builder = Client::builder(env("FOOTFALL_WRITE_KEY").unwrap_or_else(|| "wk_dev".into()))
        .config(config)
        .endpoint(endpoint.clone());
    if let Some(dir) = env("FOOTFALL_DATA_DIR") {
        builder = builder.data_dir(dir);
    }
    let client = builder.build().unwrap_or_else(|e| panic!("footfall client: {e}"));
    client.register(
        serde_json::json!({"service": "example-web-service"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );

    let app = Router::new()
        .route("/", get(home))
        .route("/purchase", post(purchase))
        .route("/stats", get(stats))
        .layer(middleware::from_fn_with_state(client.clone(), track_request))
        .with_state(client.clone());
    let port: u16 = env("PORT").and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .unwrap_or_else(|e| panic!("port {port}: {e}"));
    println!(
        "listening on http://{}, sending events to {endpoint}",
        listener.local_addr().expect("address")
    );
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) });
    if let Err(e) = server.await {
        eprintln!("server error: {e}");
    }
    let report = client.shutdown(Duration::from_secs(5)).await;
    println!(
        "footfall: {} sent, {} unsent (persisted: {})",
        report.sent, report.unsent, report.persisted
    );
}
