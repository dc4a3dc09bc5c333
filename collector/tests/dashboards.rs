//! The engine's dashboards mounted on the collector, through the router (`app(state)`): pages,
//! the API with the admin token and `?project=`, the result cache; the alert scheduler inside
//! `server::serve` (fires a webhook, stops on shutdown, can be turned off); the landing page; the
//! browser example served from `--example-dir` directories.

mod common;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use footfall_collector::config::{Config, ProjectConfig};
use footfall_collector::{AppState, app, server};
use footfall_engine::store::open_store;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "wk_dash";
const PROJECT: &str = "shop";

async fn state_with(config: Config) -> AppState {
    AppState::new(config, open_store(":memory:").unwrap())
        .await
        .unwrap()
}

fn config() -> Config {
    let mut c = common::config(":memory:", PROJECT, KEY);
    c.store = None;
    c
}

/// One request through the router: status, content type and body text.
async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    token: bool,
    body: Option<(&str, String)>,
) -> (u16, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", common::ADMIN));
    }
    let req = match body {
        Some((ct, text)) => req.header(header::CONTENT_TYPE, ct).body(Body::from(text)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, ct, String::from_utf8_lossy(&bytes).into_owned())
}

async fn ingest(state: &AppState, messages: Vec<Value>) {
    let body = json!({ "batch": messages }).to_string();
    let req = Request::post("/v1/batch")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Basic d2tfZGFzaDo=") // "wk_dash:"
        .body(Body::from(body))
        .unwrap();
    let res = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn purchase(id: &str, user: &str, amount: f64) -> Value {
    let mut m = common::track(id, user, "purchase");
    m["properties"] = json!({"amount": amount, "currency": "EUR"});
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_are_served_with_the_admin_token() {
    let state = state_with(config()).await;
    ingest(
        &state,
        vec![
            purchase("p1", "ada", 5.0),
            purchase("p2", "bob", 7.5),
            common::track("v1", "ada", "feature_used"),
        ],
    )
    .await;

    // Pages: no data in them, 200 without a token; they load the API with it.
    let (status, ct, html) = call(&state, "GET", "/dashboards", false, None).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        html.contains("footfall_admin_token"),
        "the page's script asks for the token"
    );
    let (status, _, html) = call(&state, "GET", "/dashboards/product-overview", true, None).await;
    assert_eq!(status, 200);
    assert!(html.contains("product-overview"));

    // The API needs the admin token (a write key is not one).
    assert_eq!(call(&state, "GET", "/v1/dashboards", false, None).await.0, 401);
    let yaml = footfall_engine::dashboard::EXAMPLE_DASHBOARDS_YAML.to_string();
    let (status, _, body) = call(
        &state,
        "POST",
        "/v1/dashboards",
        true,
        Some(("application/yaml", yaml)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = call(&state, "GET", "/v1/dashboards", true, None).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["dashboards"][0]["id"], "product-overview");

    let (status, _, body) = call(&state, "GET", "/v1/dashboards/product-overview/data", true, None).await;
    assert_eq!(status, 200, "{body}");
    let data: Value = serde_json::from_str(&body).unwrap();
    let revenue = data["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "revenue")
        .expect("revenue widget");
    assert_eq!(revenue["result"]["value"], 12.5, "{revenue}");
    assert!(revenue.get("error").is_none());
    assert!(
        !state.dashboard_cache.is_empty(),
        "results are cached by the host"
    );
    let (_, _, again) = call(&state, "GET", "/v1/dashboards/product-overview/data", true, None).await;
    assert!(
        again.contains("\"cached\":true"),
        "the second load comes from the cache"
    );
    let (_, _, fresh) = call(
        &state,
        "GET",
        "/v1/dashboards/product-overview/data?refresh=1",
        true,
        None,
    )
    .await;
    assert!(!fresh.contains("\"cached\":true"), "refresh bypasses it");

    // `?project=` selects the project (the pages pass it on); an unknown one is 404.
    let (status, _, body) = call(&state, "GET", "/v1/dashboards?project=shop", true, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = call(&state, "GET", "/v1/dashboards?project=nope", true, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("unknown_project"));

    // Queries run on the same store.
    let spec = json!({"kind": "events", "filters": {"field": "event", "op": "eq", "value": "purchase"},
                      "metrics": [{"type": "count"}]});
    let (status, _, body) = call(
        &state,
        "POST",
        "/v1/query",
        true,
        Some(("application/json", spec.to_string())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let result: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(result["rows"], json!([[2]]), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_projects_need_a_project_parameter() {
    let mut c = config();
    c.projects.push(ProjectConfig::new("blog", "wk_blog"));
    let state = state_with(c).await;
    let (status, _, body) = call(&state, "GET", "/v1/dashboards", true, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("project_required"));
    assert_eq!(
        call(&state, "GET", "/v1/dashboards?project=blog", true, None)
            .await
            .0,
        200
    );
}

type Received = Arc<Mutex<Vec<Value>>>;

async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    async fn hook(State(g): State<Received>, Json(v): Json<Value>) -> StatusCode {
        g.lock().unwrap().push(v);
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_scheduler_fires_and_stops_with_the_server() {
    let (hook, received) = webhook_receiver().await;
    let mut c = config();
    c.alerts.tick_secs = 1;
    let state = state_with(c).await;
    ingest(&state, vec![purchase("p1", "ada", 5.0)]).await;
    let rule = json!({"id": "any-purchase", "name": "Any purchase", "filters": {"event_type": "purchase"},
                      "condition": "> 0", "window": "30_days", "interval": "15_minutes", "webhook": hook});
    let (status, _, body) = call(
        &state,
        "POST",
        "/v1/alerts",
        true,
        Some(("application/json", rule.to_string())),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    while received.lock().unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fired = received.lock().unwrap()[0].clone();
    assert_eq!(
        (fired["status"].as_str(), fired["alert"]["id"].as_str()),
        (Some("firing"), Some("any-purchase"))
    );
    assert_eq!(fired["value"], 1.0);
    // The audit entry is written once the webhook's POST has succeeded, i.e. just after the
    // receiver got it: wait for it (bounded).
    let mut fired_audited = false;
    for _ in 0..200 {
        let audit = state.store.list_audit(Some(PROJECT), 10).await.unwrap();
        if audit.iter().any(|e| e.action == "alert.fired") {
            fired_audited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fired_audited, "alert.fired in the audit log");

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap(); // returns: the scheduler stopped with the server

    // Turned off (one process per fleet runs it): nothing is spawned.
    let mut off = config();
    off.alerts.enabled = false;
    let state = state_with(off).await;
    assert!(server::spawn_alerts(&state, std::future::pending()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_page_says_what_this_is_and_links_everything() {
    let mut c = config();
    let (status, ct, html) = call(&state_with(c.clone()).await, "GET", "/", false, None).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    for link in [
        "href=\"/dashboards\"",
        "href=\"/privacy\"",
        "href=\"/example/\"",
        "href=\"/health\"",
        "href=\"/metrics\"",
    ] {
        assert!(html.contains(link), "{link}");
    }
    assert!(html.contains("Footfall collector"));
    assert!(!html.contains("Demo mode"));
    assert!(!html.contains(KEY), "write keys are not shown outside demo mode");
    assert!(!html.contains(common::ADMIN), "the admin token never is");
    for external in ["<script src", "href=\"http", "src=\"http", "@import"] {
        assert!(!html.contains(external), "no CDN: {external}");
    }
    c.projects.push(footfall_collector::demo::project(None));
    c.demo = true;
    let req = Request::get("/")
        .header(header::HOST, "localhost:8080")
        .body(Body::empty())
        .unwrap();
    let res = app(state_with(c).await).oneshot(req).await.unwrap();
    let html = String::from_utf8(
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        html.contains("Demo mode") && html.contains("Write key: <code>demo</code>"),
        "{html}"
    );
    assert!(
        html.contains("http://localhost:8080/v1/batch"),
        "the curl example uses the Host the page came from"
    );
    assert!(html.contains("admin token"));
    assert!(!html.contains(common::ADMIN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_is_served_from_its_directories() {
    let sdk = tempfile::tempdir().unwrap();
    std::fs::write(sdk.path().join("footfall.js"), "export const Footfall = {};").unwrap();
    std::fs::write(sdk.path().join("footfall_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(sdk.path().join("index.html"), "not this one").unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/browser");
    let mut c = config();
    let state = state_with(c.clone()).await;
    let (status, _, body) = call(&state, "GET", "/example/", false, None).await;
    assert_eq!(status, 404, "not configured");
    assert!(body.contains("--example-dir"));

    c.example_dirs = vec![example.into(), sdk.path().to_path_buf()];
    let state = state_with(c).await;
    let page = std::fs::read_to_string(format!("{example}/index.html")).unwrap();
    let (status, ct, body) = call(&state, "GET", "/example/", false, None).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert_eq!(body, page, "the first directory wins");
    assert!(
        body.contains("/example/footfall.js"),
        "the page loads the SDK from the collector"
    );
    let (status, _, body) = call(&state, "GET", "/example/pricing", false, None).await;
    assert_eq!(
        (status, body == page),
        (200, true),
        "single-page-app routes get index.html"
    );
    let (status, ct, body) = call(&state, "GET", "/example/footfall.js", false, None).await;
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (
            200,
            "text/javascript; charset=utf-8",
            "export const Footfall = {};"
        )
    );
    let (status, ct, _) = call(&state, "GET", "/example/footfall_bg.wasm", false, None).await;
    assert_eq!((status, ct.as_str()), (200, "application/wasm"));
    assert_eq!(
        call(&state, "GET", "/example/missing.js", false, None).await.0,
        404
    );
    assert_eq!(
        call(&state, "GET", "/example/..%2F..%2FCargo.toml", false, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&state, "GET", "/example/../Cargo.toml", false, None).await.0,
        404
    );
    assert_eq!(call(&state, "GET", "/example", false, None).await.0, 308);
}
