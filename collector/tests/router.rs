//! Behaviour that does not depend on the backend, on the in-memory DuckDB wrapped in the
//! `ControlledStore` test double (held or failing writes): overload shedding, group commit,
//! unavailable storage, limits, CORS, consent, bots, admin auth, proxies, retention.
//! No timed assertions: tests wait for observable states (writes started, requests in flight).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestServer;
use footfall_collector::config::{BotHandling, Config, ConsentMode, ProjectConfig, TrustProxy};
use footfall_collector::testing::{ControlledStore, WriteMode};
use footfall_engine::store::open_store;
use serde_json::{Value, json};

const KEY: &str = "wk_router";
const PROJECT: &str = "router";

fn config() -> Config {
    let mut c = common::config(":memory:", PROJECT, KEY);
    c.store = None;
    c
}

async fn server(config: Config) -> (TestServer, Arc<ControlledStore>) {
    let store = ControlledStore::new(open_store(":memory:").unwrap());
    (TestServer::start(config, store.clone()).await, store)
}

fn batch(n: usize, tag: &str) -> Value {
    json!({"batch": (0..n).map(|i| common::track(&format!("{tag}-{i}"), "u", "e")).collect::<Vec<_>>()})
}

/// Polls until `f` holds (no time limit of its own: the test harness bounds the run).
async fn until(mut f: impl FnMut() -> bool) {
    while !f() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_with_503_and_retry_after() {
    let mut c = config();
    c.limits.max_inflight_requests = 2;
    c.limits.retry_after_secs = 7;
    let (srv, store) = server(c).await;
    store.hold();
    let srv = Arc::new(srv);
    let mut pending = Vec::new();
    for i in 0..2 {
        let srv = srv.clone();
        pending.push(tokio::spawn(async move {
            srv.post("/v1/batch", KEY, &batch(1, &format!("held{i}"))).await
        }));
    }
    store.wait_writes_started(1).await;
    until(|| srv.state.metrics.inflight.get() == 2).await;
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .json(&batch(1, "shed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(common::read(r).await.1["error"], "overloaded");
    store.release();
    for p in pending {
        assert_eq!(p.await.unwrap().0, 200);
    }
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 2);
    assert!(
        srv.state
            .metrics
            .render()
            .contains("footfall_requests_rejected_total{reason=\"overloaded\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_commit() {
    let (srv, store) = server(config()).await;
    let srv = Arc::new(srv);
    store.hold();
    let first = {
        let srv = srv.clone();
        tokio::spawn(async move { srv.post("/v1/batch", KEY, &batch(3, "first")).await })
    };
    store.wait_writes_started(1).await;
    let mut rest = Vec::new();
    for i in 0..5 {
        let srv = srv.clone();
        rest.push(tokio::spawn(async move {
            srv.post("/v1/batch", KEY, &batch(3, &format!("g{i}"))).await
        }));
    }
    until(|| srv.state.committer.queued() == 5).await;
    store.release();
    assert_eq!(first.await.unwrap().0, 200);
    for r in rest {
        let (status, body) = r.await.unwrap();
        assert_eq!((status, body["accepted"].as_u64()), (200, Some(3)));
    }
    assert_eq!(
        store.writes_started(),
        2,
        "the five queued requests were committed together"
    );
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_down_answers_503_and_nothing_is_acked() {
    let (srv, store) = server(config()).await;
    store.set_mode(WriteMode::Unavailable);
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .json(&batch(2, "down"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(common::read(r).await.1["error"], "store_unavailable");
    store.set_ping_down(true);
    let (status, body) = common::read(srv.client.get(srv.url("/ready")).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("store_unavailable")));
    // A refused request cannot record its dead letter either: 503, so the client retries.
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    store.set_ping_down(false);
    store.set_mode(WriteMode::Pass);
    let (status, _) = srv.post("/v1/batch", KEY, &batch(2, "down")).await;
    assert_eq!(status, 200);
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 2);
    // A batch the backend refuses is a 500 (not retried forever by a well-behaved client).
    store.set_mode(WriteMode::Fail);
    let (status, body) = srv.post("/v1/batch", KEY, &batch(1, "refused")).await;
    assert_eq!((status, body["error"].as_str()), (500, Some("store_error")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits() {
    let mut c = config();
    c.limits.max_batch_messages = 3;
    c.limits.max_request_bytes = 10_000;
    let (srv, _store) = server(c).await;
    let (status, body) = srv.post("/v1/batch", KEY, &batch(4, "many")).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("too_many_messages")));
    let big = json!({"batch": [common::track("big", "u", "e")], "pad": "x".repeat(20_000)});
    let (status, body) = srv.post("/v1/batch", KEY, &big).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));
    // gzip bomb: 50 KB that inflate to 50 MB
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut e, &vec![b' '; 50_000_000]).unwrap();
    let bomb = e.finish().unwrap();
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    let (status, body) = common::read(r).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .header("content-type", "application/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(r).await.0, 415);
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .header("content-encoding", "br")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read(r).await.1["error"], "unsupported_encoding");
    let (status, body) = srv.post("/v1/batch", KEY, &json!({"batch": []})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("empty_batch")));
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 0);
    let reasons: Vec<String> = common::dead_letters(&*srv.state.store, PROJECT)
        .await
        .into_iter()
        .map(|l| l.0)
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_the_projects_origins() {
    let mut c = config();
    c.projects[0].allowed_origins = vec!["https://shop.example.com".into()];
    let (srv, _store) = server(c).await;
    let preflight = |origin: &'static str| {
        srv.client
            .request(reqwest::Method::OPTIONS, srv.url("/v1/batch"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
    };
    let r = preflight("https://shop.example.com").await.unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    assert!(
        r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let send = |origin: &'static str| {
        srv.client
            .post(srv.url("/v1/batch"))
            .basic_auth(KEY, Some(""))
            .header("origin", origin)
            .json(&batch(1, origin))
            .send()
    };
    let r = send("https://shop.example.com").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let (status, body) = common::read(send("https://evil.example").await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("origin_not_allowed"))
    );
    // Admin routes are not offered cross-origin.
    let r = srv
        .client
        .get(srv.url("/v1/admin/projects"))
        .bearer_auth(common::ADMIN)
        .header("origin", "https://shop.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_modes_and_privacy_signals() {
    let mut c = config();
    c.projects.push(ProjectConfig::new("strict", "wk_strict"));
    c.projects[1].privacy.consent_mode = ConsentMode::OptIn;
    let (srv, _store) = server(c).await;
    let plain = json!({"batch": [common::track("c1", "u", "e")]});
    let (status, body) = srv.post("/v1/batch", "wk_strict", &plain).await;
    assert_eq!(
        (status, body["rejected"][0]["reason"].as_str()),
        (400, Some("no_consent"))
    );
    let mut granted = common::track("c2", "u", "e");
    granted["context"] = json!({"consent": {"categoryPreferences": {"analytics": true}}});
    let (status, _) = srv
        .post("/v1/batch", "wk_strict", &json!({"batch": [granted]}))
        .await;
    assert_eq!(status, 200);
    // Sec-GPC: 1 turns an opt-out project into opt-in for that request.
    let send_gpc = |body: Value| {
        srv.client
            .post(srv.url("/v1/batch"))
            .basic_auth(KEY, Some(""))
            .header("sec-gpc", "1")
            .json(&body)
            .send()
    };
    let (status, body) = common::read(send_gpc(plain.clone()).await.unwrap()).await;
    assert_eq!(
        (status, body["rejected"][0]["reason"].as_str()),
        (400, Some("no_consent"))
    );
    let mut necessary = common::track("c3", "u", "consent_updated");
    necessary["context"] = json!({"category": "necessary"});
    let (status, _) = common::read(send_gpc(json!({"batch": [necessary]})).await.unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = srv.post("/v1/batch", KEY, &plain).await;
    assert_eq!(status, 200, "opt_out without signals accepts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_tagged_or_refused() {
    let mut c = config();
    c.projects.push(ProjectConfig::new("nobots", "wk_nobots"));
    c.projects[1].privacy.bots = BotHandling::Reject;
    let (srv, _store) = server(c).await;
    let mut m = common::track("bot-1", "u", "e");
    m["context"] =
        json!({"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"});
    let (status, _) = srv.post("/v1/batch", KEY, &json!({"batch": [m.clone()]})).await;
    assert_eq!(status, 200);
    let row = common::event(&*srv.state.store, PROJECT, "bot-1").await.unwrap();
    assert!(
        row["is_bot"] == json!(1) || row["is_bot"] == json!(true),
        "{row:?}"
    );
    assert_eq!(row["device_type"], "bot");
    let (status, body) = srv.post("/v1/batch", "wk_nobots", &json!({"batch": [m]})).await;
    assert_eq!(
        (status, body["rejected"][0]["reason"].as_str()),
        (400, Some("bot"))
    );
    assert_eq!(
        common::dead_letters(&*srv.state.store, "nobots").await[0].0,
        "bot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_the_admin_token() {
    let (srv, _store) = server(config()).await;
    let r = srv.client.get(srv.url("/v1/admin/audit")).send().await.unwrap();
    assert_eq!(
        common::read(r).await,
        (
            401,
            json!({"error": "unauthorized", "message": "missing or wrong admin token (send `Authorization: Bearer <admin token>`)"})
        )
    );
    let r = srv
        .client
        .get(srv.url("/v1/admin/audit"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a write key is not an admin token");
    let r = srv
        .client
        .get(srv.url("/v1/admin/projects"))
        .basic_auth(common::ADMIN, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "only Bearer");
    let (status, body) = common::read(srv.admin_get("/v1/admin/projects").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["projects"][0]["id"], PROJECT);
    assert!(!body.to_string().contains(KEY), "write keys are not listed");
    let (status, body) = common::read(srv.admin_get("/v1/admin/audit?project=nope").await).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_project")));

    let mut c = config();
    c.admin_token = None;
    let (srv, _store) = server(c).await;
    let r = srv
        .client
        .get(srv.url("/v1/admin/audit"))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no admin token configured: admin API closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ip_from_trusted_proxies_only() {
    for (hops, expected) in [(0u8, "127.0.0.0"), (1, "198.51.100.0")] {
        let mut c = config();
        c.trust_proxy = TrustProxy::Hops(hops);
        let (srv, _store) = server(c).await;
        let r = srv
            .client
            .post(srv.url("/v1/batch"))
            .basic_auth(KEY, Some(""))
            .header("x-forwarded-for", "203.0.113.9, 198.51.100.7")
            .json(&batch(1, "ip"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let row = common::event(&*srv.state.store, PROJECT, "ip-0").await.unwrap();
        assert_eq!(row["ip"], expected, "hops {hops}");
    }
    let mut c = config();
    c.projects[0].privacy.anonymize_ip = false;
    c.projects[0].privacy.store_raw_ip = true;
    let (srv, _store) = server(c).await;
    srv.post("/v1/batch", KEY, &batch(1, "raw")).await;
    assert_eq!(
        common::event(&*srv.state.store, PROJECT, "raw-0").await.unwrap()["ip"],
        "127.0.0.1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_job_deletes_old_events_and_audits() {
    let mut c = config();
    c.projects[0].retention_days = Some(30);
    let (srv, _store) = server(c).await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut old = common::track("old", "u", "e");
    old["timestamp"] = json!(footfall_collector::ingest::iso(now - 40 * 86_400_000));
    let body = json!({"batch": [old, common::track("new", "u", "e")]});
    assert_eq!(srv.post("/v1/batch", KEY, &body).await.0, 200);
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 2);
    let runs = footfall_collector::privacy::run_retention(&srv.state, now)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].project.as_str(), runs[0].events_deleted), (PROJECT, 1));
    assert!(common::event(&*srv.state.store, PROJECT, "old").await.is_none());
    assert!(common::event(&*srv.state.store, PROJECT, "new").await.is_some());
    let (_, audit) = common::read(srv.admin_get("/v1/admin/audit").await).await;
    assert_eq!(audit["entries"][0]["action"], "retention");
    assert_eq!(audit["entries"][0]["details"]["events_deleted"], 1);
    assert_eq!(audit["entries"][0]["details"]["retention"]["events_days"], 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_commits() {
    let (srv, store) = server(config()).await;
    let state = srv.state.clone();
    let (url, client) = (srv.url("/v1/batch"), srv.client.clone());
    store.hold();
    let in_flight = tokio::spawn(async move {
        let r = client
            .post(url)
            .basic_auth(KEY, Some(""))
            .json(&batch(5, "inflight"))
            .send()
            .await
            .unwrap();
        common::read(r).await
    });
    store.wait_writes_started(1).await;
    // Shutdown begins while the commit is held; it must wait for it.
    let stopping = tokio::spawn(srv.shutdown());
    tokio::task::yield_now().await;
    assert!(
        !stopping.is_finished(),
        "the server waits for the in-flight request"
    );
    store.release();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(5)));
    stopping.await.unwrap();
    assert_eq!(
        common::event_count(&*state.store, PROJECT).await,
        5,
        "acknowledged means stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_within_one_request_are_stored_once() {
    let (srv, _store) = server(config()).await;
    let m = common::track("twice", "u", "e");
    let (status, body) = srv
        .post(
            "/v1/batch",
            KEY,
            &json!({"batch": [m.clone(), m, common::track("once", "u", "e")]}),
        )
        .await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(3)));
    assert_eq!(common::event_count(&*srv.state.store, PROJECT).await, 2);
    assert!(
        srv.state
            .metrics
            .render()
            .contains("footfall_messages_deduplicated_total 1")
    );
}
