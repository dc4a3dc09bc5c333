//! The privacy control plane end to end, on a real collector (embedded DuckDB store): a privacy
//! team flips `anonymize_ip`, adds a property to the deny list and switches consent to `opt_in`
//! through the admin API; within one settings refresh interval
//!
//! - the native SDK (`footfall::Client`, `delivery.settings_refresh` = 0.5 s) *sends* events that
//!   reflect every change — what leaves the SDK is recorded by a pass-through proxy between the
//!   SDK and the collector, so the SDK's own enforcement is checked, not the collector's;
//! - a raw HTTP client that ignores the settings is held to them by the collector (refusals with
//!   `denied_property` / `no_consent`, a truncated IP);
//! - the audit log lists the three changes with who, old and new value.
//!
//! The browser SDK's half of the same scenario is `js/test/privacy.test.mjs`.

mod common;

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use common::{Env, TestServer};
use footfall::Config as SdkConfig;
use footfall::event::Event;
use footfall::native::Client;
use footfall_collector::config::ProjectConfig;
use serde_json::{Value, json};

/// A pass-through proxy in front of the collector that records every batch body it forwards.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    sent: Arc<Mutex<Vec<Value>>>,
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    if uri.path() == "/v1/batch" {
        let mut json = Vec::new();
        if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut json)
                .unwrap();
        } else {
            json = body.to_vec();
        }
        let batch: Value = serde_json::from_slice(&json).unwrap();
        p.sent
            .lock()
            .unwrap()
            .extend(batch["batch"].as_array().unwrap().iter().cloned());
    }
    let mut req = p.client.request(method, format!("{}{}", p.upstream, uri));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let res = req.body(body).send().await.unwrap();
    let mut out = axum::response::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name, value);
        }
    }
    out.body(Body::from(res.bytes().await.unwrap())).unwrap()
}

async fn start_proxy(upstream: String) -> (String, Arc<Mutex<Vec<Value>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let state = Proxy {
        upstream,
        client: reqwest::Client::new(),
        sent: sent.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), sent)
}

/// The messages the SDK sent whose event name is `event`.
fn sent_named(sent: &Mutex<Vec<Value>>, event: &str) -> Vec<Value> {
    sent.lock()
        .unwrap()
        .iter()
        .filter(|m| m["event"] == event)
        .cloned()
        .collect()
}

async fn admin_put(srv: &TestServer, project: &str, body: Value) {
    srv.put_privacy(project, Some("priya"), &body).await;
}

/// Polls `check` every 50 ms for up to `secs` seconds of real time.
async fn eventually(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn raw(id: &str, extra: Value) -> Value {
    let ts = footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis() - 1000);
    let mut m = json!({"type": "track", "messageId": id, "anonymousId": "raw-anon", "timestamp": ts});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

async fn three_changes_reach_both_clients(env: Env) {
    let project = common::unique("e2e");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let mut config = common::config(&env.location, &project, &key);
    // The project starts permissive: IPs not anonymized by the SDKs, no deny list, opt-out.
    let mut p = ProjectConfig::new(&project, &key);
    p.privacy.anonymize_ip = false;
    config.projects = vec![p];
    let srv = TestServer::start(config, store.clone()).await;
    let (proxy, sent) = start_proxy(format!("http://{}", srv.addr)).await;

    // The service's local configuration is as loose as the project (raw IPs), and refreshes the
    // privacy team's settings every 0.5 s.
    let sdk_config = SdkConfig::from_value(json!({
        "tracking": {"batch_size": 1, "flush_interval": 0.05},
        "privacy": {"anonymize_ip": false},
        "delivery": {"settings_refresh": 0.5},
    }))
    .unwrap();
    let client = Client::builder(key.as_str())
        .endpoint(proxy.clone())
        .config(sdk_config)
        .build()
        .unwrap();
    let before = || {
        Event::track("checkout")
            .ip("203.0.113.77")
            .property("email", "ada@example.com")
            .property("plan", "pro")
    };
    client.track(before());
    assert_eq!(client.flush().await, 0);
    let first = sent_named(&sent, "checkout");
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        first[0]["context"]["ip"], "203.0.113.77",
        "raw IP before the change"
    );
    assert_eq!(first[0]["properties"]["email"], "ada@example.com");

    // The privacy team's three changes.
    admin_put(&srv, &project, json!({"anonymize_ip": true})).await;
    admin_put(&srv, &project, json!({"property_deny_list": ["email"]})).await;
    admin_put(&srv, &project, json!({"consent_mode": "opt_in"})).await;
    let changed_at = tokio::time::Instant::now();

    // Within one refresh interval (0.5 s) the SDK has them; the deadline leaves slack for a
    // loaded machine (a client that only read settings at start would never get there).
    eventually(5, "the SDK to apply the new settings", async || {
        client.privacy_settings().await.is_some_and(|s| {
            s.anonymize_ip
                && s.property_deny_list.iter().any(|p| p == "email")
                && s.consent_mode == footfall::settings::ConsentMode::OptIn
        })
    })
    .await;
    assert!(changed_at.elapsed() < Duration::from_secs(5));

    // opt_in without a choice: nothing leaves the SDK; the event waits for the user's decision.
    client.track(Event::track("before_choice").property("email", "ada@example.com"));
    assert_eq!(client.flush().await, 0);
    assert!(
        sent_named(&sent, "before_choice").is_empty(),
        "sent without consent"
    );
    let stats = client.stats().await;
    assert_eq!(stats.pending_consent, 1, "{stats:?}");

    // After the user opts in: sent, with the IP truncated and the denied property removed.
    client.grant(&["analytics"]);
    client.track(before());
    assert_eq!(client.flush().await, 0);
    let after = sent_named(&sent, "checkout");
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[1]["context"]["ip"], "203.0.113.0", "anonymized by the SDK");
    assert_eq!(after[1]["properties"].get("email"), None, "denied by the SDK");
    assert_eq!(after[1]["properties"]["plan"], "pro");
    let waited = sent_named(&sent, "before_choice");
    assert_eq!(waited.len(), 1, "sent once the user opted in");
    assert_eq!(waited[0]["properties"].get("email"), None, "denied by the SDK");
    assert_eq!(
        waited[0]["context"]["consent"]["categoryPreferences"]["analytics"],
        true
    );
    client.shutdown(Duration::from_secs(5)).await;

    // The collector stored the SDK's events and refused none of them.
    let stored = common::event(&*store, &project, after[1]["messageId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored["ip"].as_str(), Some("203.0.113.0"));
    assert!(
        common::dead_letters(&*store, &project).await.is_empty(),
        "the SDK obeyed: nothing refused"
    );

    // A raw HTTP client that ignores the settings is held to them by the collector.
    let batch = json!({"batch": [
        raw("raw_denied", json!({"event": "checkout", "properties": {"email": "bob@example.com"},
            "context": {"consent": {"categoryPreferences": {"analytics": true}}}})),
        raw("raw_no_consent", json!({"event": "checkout"})),
        raw("raw_ok", json!({"event": "checkout", "properties": {"plan": "free"},
            "context": {"ip": "198.51.100.23", "consent": {"categoryPreferences": {"analytics": true}}}})),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &batch).await;
    assert_eq!(status, 200, "{body}");
    let reasons = common::rejections(&body);
    assert_eq!(reasons, [(0, "denied_property"), (1, "no_consent")], "{body}");
    let ok = common::event(&*store, &project, "raw_ok").await.unwrap();
    assert_eq!(
        ok["ip"].as_str(),
        Some("198.51.100.0"),
        "anonymized by the collector"
    );

    // The audit log lists the three changes: who, old value, new value.
    let (status, audit) =
        common::read(srv.admin_get(&format!("/v1/admin/audit?project={project}")).await).await;
    assert_eq!(status, 200, "{audit}");
    let changes: Vec<(String, Value, Value, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "privacy.update")
        .flat_map(|e| {
            let actor = e["actor"].as_str().unwrap_or_default().to_string();
            e["details"]["changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |c| {
                    (
                        c["field"].as_str().unwrap_or_default().to_string(),
                        c["old"].clone(),
                        c["new"].clone(),
                        actor.clone(),
                    )
                })
        })
        .collect();
    for expected in [
        ("anonymize_ip", json!(false), json!(true)),
        ("property_deny_list", json!([]), json!(["email"])),
        ("consent_mode", json!("opt_out"), json!("opt_in")),
    ] {
        let found = changes.iter().find(|c| c.0 == expected.0);
        let (_, old, new, actor) =
            found.unwrap_or_else(|| panic!("no audit entry for {}: {audit}", expected.0));
        assert_eq!((old, new), (&expected.1, &expected.2), "{}", expected.0);
        assert_eq!(actor, "admin:priya");
    }
    assert_eq!(changes.len(), 3, "exactly the three changes: {changes:?}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_changes_reach_the_native_sdk_and_raw_clients_duckdb() {
    common::run_on(common::Backend::DuckDb, three_changes_reach_both_clients).await;
}
