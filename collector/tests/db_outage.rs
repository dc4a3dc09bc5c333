//! The database goes away under a running collector (the real `footfall serve` binary): a
//! PostgreSQL or ClickHouse server of the test's own (`common/instance.rs`) is stopped and
//! started again, killed with SIGKILL and recovered, or paused with SIGSTOP and resumed — while
//! an SDK-like client keeps sending batches and retries each one until it gets a 2xx.
//!
//! What must hold (the collector's durable-ack promise, see collector/README.md "When the
//! database goes away"):
//! * during the outage, ingestion answers 503 with `Retry-After` — never 2xx, never 500 — and
//!   within the SDK's 10 s timeout (a paused server: within the store's `timeout`); `/ready`
//!   answers 503, `/health` 200, the query API 503;
//! * after it, without restarting the collector, ingestion and queries work again and every
//!   messageId that got a 2xx (including batches retried with the same messageIds) is stored
//!   exactly once;
//! * a collector started while its database is down serves `/health`, answers 503 elsewhere and
//!   becomes ready once the database is there.
//!
//! The tests run one at a time (each starts a server; not
//! `waiting_for_the_database_ends_on_sigterm`, which needs none). Skipped loudly when PostgreSQL /
//! ClickHouse are not installed (failing under `FOOTFALL_REQUIRE_BACKENDS=1`).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::instance::{Instance, Service};
use common::{ADMIN, Process};
use footfall_engine::store::{events_relation, open_store};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The native SDK's HTTP timeout: an answer later than this is a hang to the client.
const SDK_TIMEOUT: Duration = Duration::from_secs(10);
/// The store timeouts the tests configure (seconds): operations, and the query API's queries.
const STORE_TIMEOUT_SECS: u64 = 2;
const QUERY_TIMEOUT_SECS: u64 = 3;
/// How long the collector may take to be ready again after the database is back.
const RECOVERY: Duration = Duration::from_secs(30);

const PROJECT: &str = "outage";
const KEY: &str = "wk_outage";

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Graceful stop, then start on the same port and data.
    Restart,
    /// SIGKILL of the main process, then start (crash recovery).
    Kill,
    /// SIGSTOP, then SIGCONT: the server hangs with its connections open.
    Pause,
}

/// The store location with short timeouts, so a paused server is noticed within seconds.
fn location(db: &Instance) -> String {
    let sep = if db.url.contains('?') { '&' } else { '?' };
    format!(
        "{}{sep}timeout={STORE_TIMEOUT_SECS}&query_timeout={QUERY_TIMEOUT_SECS}",
        db.url
    )
}

fn spawn_collector(dir: &std::path::Path, db: &Instance) -> Process {
    let mut config = common::config(&location(db), PROJECT, KEY);
    config.limits.retry_after_secs = 1;
    Process::spawn(dir, "collector", &config)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(SDK_TIMEOUT).build().unwrap()
}

fn batch(ids: &[String]) -> Value {
    let batch: Vec<Value> = ids.iter().map(|id| common::track(id, "u1", "outage")).collect();
    json!({ "batch": batch })
}

fn fresh_ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| format!("{prefix}-{}", uuid::Uuid::new_v4().simple()))
        .collect()
}

/// An answer: status, whether `Retry-After` was set, how long it took, the body.
struct Answer {
    status: u16,
    retry_after: bool,
    took: Duration,
    body: Value,
}

/// Sends `req`; a transport error (including the SDK timeout) fails the test.
async fn answer(req: reqwest::RequestBuilder, what: &str) -> Answer {
    let started = Instant::now();
    let r = req.send().await.unwrap_or_else(|e| {
        panic!(
            "{what}: no answer within {SDK_TIMEOUT:?} after {:?}: {e}",
            started.elapsed()
        )
    });
    let retry_after = r.headers().contains_key("retry-after");
    let (status, body) = common::read(r).await;
    Answer {
        status,
        retry_after,
        took: started.elapsed(),
        body,
    }
}

async fn send(client: &reqwest::Client, collector: &Process, ids: &[String]) -> Answer {
    let req = client
        .post(collector.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .json(&batch(ids));
    answer(req, "POST /v1/batch").await
}

async fn get(client: &reqwest::Client, collector: &Process, path: &str) -> Answer {
    answer(client.get(collector.url(path)), path).await
}

/// `POST /v1/query` counting the project's events.
async fn count_query(client: &reqwest::Client, collector: &Process) -> Answer {
    let spec = json!({"kind": "events", "metrics": [{"type": "count"}]});
    let req = client
        .post(collector.url("/v1/query"))
        .bearer_auth(ADMIN)
        .json(&spec);
    answer(req, "POST /v1/query").await
}

/// An answer while the database is away: 503 with Retry-After, within the SDK's timeout.
fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!(a.status, 503, "{what} while the database is away: {}", a.body);
    assert!(a.retry_after, "{what}: 503 without Retry-After");
    assert!(a.took < SDK_TIMEOUT, "{what} took {:?}", a.took);
}

/// What the SDK-like client did: every messageId it got a 2xx for, and how many 503s it saw.
#[derive(Default)]
struct Load {
    acked: Vec<String>,
    unavailable: usize,
    slowest: Duration,
}

/// Sends batches of 5 fresh messages in a loop; each batch is retried (same messageIds) until it
/// gets a 2xx. Any other answer than 2xx or 503 + Retry-After fails. Ends after `stop` turns
/// true, with the batch in hand acknowledged.
async fn sdk_load(client: reqwest::Client, url: String, mut stop: watch::Receiver<bool>) -> Load {
    let mut load = Load::default();
    loop {
        if *stop.borrow_and_update() {
            return load;
        }
        let ids = fresh_ids("load", 5);
        loop {
            let started = Instant::now();
            let sent = client
                .post(&url)
                .basic_auth(KEY, Some(""))
                .json(&batch(&ids))
                .send()
                .await;
            load.slowest = load.slowest.max(started.elapsed());
            match sent {
                Ok(r) if r.status().is_success() => {
                    load.acked.extend(ids.iter().cloned());
                    break;
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let retry_after = r.headers().contains_key("retry-after");
                    let text = r.text().await.unwrap_or_default();
                    assert!(
                        status == 503 && retry_after,
                        "the load got {status} (Retry-After: {retry_after}): {text}"
                    );
                    load.unavailable += 1;
                }
                Err(e) => panic!("the load got no answer within {SDK_TIMEOUT:?}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Polls `/ready` until it answers 200.
async fn wait_ready(client: &reqwest::Client, collector: &Process) {
    let started = Instant::now();
    loop {
        let a = get(client, collector, "/ready").await;
        if a.status == 200 {
            return;
        }
        assert!(
            started.elapsed() < RECOVERY,
            "not ready {RECOVERY:?} after the database came back: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every id is stored exactly once (through the dedupe-safe relation), and nothing else is.
async fn assert_stored_once(db: &Instance, ids: &HashSet<String>) {
    let store = open_store(&db.url).unwrap();
    let stored = common::message_ids(&*store, PROJECT).await;
    let missing: Vec<_> = ids.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    let extra: Vec<_> = stored.difference(ids).collect();
    assert!(extra.is_empty(), "stored but never sent: {extra:?}");
    let d = store.dialect();
    let rows = common::count(
        &*store,
        &format!(
            "SELECT count(*) FROM {} WHERE project_id = {}",
            events_relation(d),
            common::sql_str(d, PROJECT)
        ),
    )
    .await;
    assert_eq!(rows as usize, ids.len(), "some message is stored more than once");
    if db.service == Service::ClickHouse {
        // Copies a retried insert may have left before the background merge (read through FINAL
        // they are one): reported, not asserted (see engine/src/store/clickhouse/mod.rs).
        let raw = common::count(
            &*store,
            &format!("SELECT count() FROM events WHERE project_id = '{PROJECT}'"),
        )
        .await;
        eprintln!(
            "clickhouse: {} messages, {raw} physical rows before merges",
            ids.len()
        );
    }
}

async fn outage(service: Service, outage: Outage) {
    let _serial = SERIAL.lock().await;
    let Some(db) = Instance::start(service) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let collector = spawn_collector(dir.path(), &db);
    let client = client();
    let mut sent: HashSet<String> = HashSet::new();

    let before = fresh_ids("before", 10);
    let a = send(&client, &collector, &before).await;
    assert_eq!(a.status, 200, "{}", a.body);
    sent.extend(before.iter().cloned());

    let (stop_load, stop_rx) = watch::channel(false);
    let load = tokio::spawn(sdk_load(client.clone(), collector.url("/v1/batch"), stop_rx));
    tokio::time::sleep(Duration::from_millis(500)).await;

    match outage {
        Outage::Restart => db.stop(),
        Outage::Kill => db.kill(),
        Outage::Pause => db.pause(),
    }
    let during = fresh_ids("during", 10);
    for attempt in 0..2 {
        let a = send(&client, &collector, &during).await;
        assert_unavailable(&a, &format!("POST /v1/batch (attempt {attempt})"));
    }
    assert_unavailable(&get(&client, &collector, "/ready").await, "GET /ready");
    assert_unavailable(&count_query(&client, &collector).await, "POST /v1/query");
    let dashboards = client.get(collector.url("/v1/dashboards")).bearer_auth(ADMIN);
    assert_unavailable(
        &answer(dashboards, "GET /v1/dashboards").await,
        "GET /v1/dashboards",
    );
    assert_eq!(get(&client, &collector, "/health").await.status, 200, "liveness");
    tokio::time::sleep(Duration::from_secs(1)).await;

    match outage {
        Outage::Restart | Outage::Kill => db.restart(),
        Outage::Pause => db.resume(),
    }
    wait_ready(&client, &collector).await;
    // The batch refused during the outage, retried with the same messageIds; then everything
    // once more (all duplicates now).
    for ids in [&during, &during, &before] {
        let a = send(&client, &collector, ids).await;
        assert_eq!(a.status, 200, "after recovery: {}", a.body);
        assert_eq!(a.body["accepted"], ids.len(), "{}", a.body);
    }
    sent.extend(during.iter().cloned());

    let _ = stop_load.send(true);
    let load = load.await.unwrap();
    eprintln!(
        "{service:?} {outage:?}: the load got {} messages acknowledged, {} answers 503, slowest answer {:?}",
        load.acked.len(),
        load.unavailable,
        load.slowest
    );
    sent.extend(load.acked);

    let q = count_query(&client, &collector).await;
    assert_eq!(q.status, 200, "query after recovery: {}", q.body);
    assert_eq!(q.body["rows"], json!([[sent.len()]]), "{}", q.body);
    assert_stored_once(&db, &sent).await;
    collector.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart() {
    outage(Service::Postgres, Outage::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed() {
    outage(Service::Postgres, Outage::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_paused() {
    outage(Service::Postgres, Outage::Pause).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_restart() {
    outage(Service::ClickHouse, Outage::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_killed() {
    outage(Service::ClickHouse, Outage::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_paused() {
    outage(Service::ClickHouse, Outage::Pause).await;
}

/// A collector started while its database is down: alive (`/health`), not ready, 503 +
/// Retry-After for ingestion; ready and storing once the database is there.
async fn start_while_down(service: Service) {
    let _serial = SERIAL.lock().await;
    let Some(db) = Instance::start(service) else {
        return;
    };
    db.stop();
    let dir = tempfile::tempdir().unwrap();
    let collector = spawn_collector(dir.path(), &db);
    let client = client();
    assert_eq!(get(&client, &collector, "/health").await.status, 200);
    assert_unavailable(&get(&client, &collector, "/ready").await, "GET /ready");
    let ids = fresh_ids("early", 5);
    assert_unavailable(&send(&client, &collector, &ids).await, "POST /v1/batch");
    assert_unavailable(&count_query(&client, &collector).await, "POST /v1/query");

    db.restart();
    wait_ready(&client, &collector).await;
    let a = send(&client, &collector, &ids).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_stored_once(&db, &ids.into_iter().collect()).await;
    assert!(collector.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_at_start() {
    start_while_down(Service::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_at_start() {
    start_while_down(Service::ClickHouse).await;
}

/// Without any server installed: a collector whose PostgreSQL refuses connections stays up (not
/// ready) and still shuts down cleanly on SIGTERM while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_the_database_ends_on_sigterm() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(
        &format!("postgres://footfall@127.0.0.1:{port}/footfall?timeout=2"),
        PROJECT,
        KEY,
    );
    let collector = Process::spawn(dir.path(), "collector", &config);
    let client = client();
    assert_eq!(get(&client, &collector, "/health").await.status, 200);
    let ready = get(&client, &collector, "/ready").await;
    assert_unavailable(&ready, "GET /ready");
    assert_eq!(ready.body["error"], "store_unavailable", "{}", ready.body);
    assert_unavailable(
        &send(&client, &collector, &fresh_ids("w", 1)).await,
        "POST /v1/batch",
    );
    assert!(collector.terminate().success());
}
