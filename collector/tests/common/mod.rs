//! Shared helpers of the collector's integration tests: backends (DuckDB always; PostgreSQL and
//! ClickHouse when `FOOTFALL_TEST_POSTGRES_URL` / `FOOTFALL_TEST_CLICKHOUSE_URL` are set, loudly
//! skipped otherwise, failing when `FOOTFALL_REQUIRE_BACKENDS=1`), servers on 127.0.0.1:0, the
//! golden fixtures and store inspection.

#![allow(dead_code)]

pub mod browser;
pub mod instance;

use std::net::SocketAddr;
use std::sync::Arc;

use footfall_collector::config::{Config, ProjectConfig};
use footfall_collector::{AppState, server};
use footfall_engine::store::{Dialect, Store, events_relation, identities_relation, open_store};
use serde_json::Value;
use tokio::sync::oneshot;

pub const ADMIN: &str = "admin-token-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    DuckDb,
    Postgres,
    ClickHouse,
}

/// Where a backend under test lives; keeps its temporary directory alive.
pub struct Env {
    pub backend: Backend,
    pub location: String,
    _dir: Option<tempfile::TempDir>,
}

fn required() -> bool {
    std::env::var("FOOTFALL_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// The environment of `backend`, or `None` (with a loud message) when it is not configured.
pub fn env(backend: Backend) -> Option<Env> {
    let var = match backend {
        Backend::DuckDb => {
            let dir = tempfile::tempdir().expect("tempdir");
            let location = dir.path().join("data").to_string_lossy().into_owned();
            return Some(Env {
                backend,
                location,
                _dir: Some(dir),
            });
        }
        Backend::Postgres => "FOOTFALL_TEST_POSTGRES_URL",
        Backend::ClickHouse => "FOOTFALL_TEST_CLICKHOUSE_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(Env {
            backend,
            location: url,
            _dir: None,
        }),
        _ => {
            if required() {
                panic!(
                    "{var} is not set but FOOTFALL_REQUIRE_BACKENDS=1 (run: eval \"$(scripts/services.sh start)\")"
                );
            }
            eprintln!(
                "\n*** SKIPPED ({backend:?}): {var} is not set. Run `eval \"$(scripts/services.sh start)\"` to test this backend. ***\n"
            );
            None
        }
    }
}

/// Runs `suite` against `backend` when it is available.
pub async fn run_on<F, Fut>(backend: Backend, suite: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if let Some(env) = env(backend) {
        suite(env).await;
    }
}

/// Generates one `#[tokio::test]` per backend calling `suite(env)`.
#[macro_export]
macro_rules! per_backend {
    ($suite:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn duckdb() {
            common::run_on(common::Backend::DuckDb, $suite).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            common::run_on(common::Backend::Postgres, $suite).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn clickhouse() {
            common::run_on(common::Backend::ClickHouse, $suite).await;
        }
    };
}

/// A project id no other test uses (tests share the PostgreSQL and ClickHouse databases).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A config with one project (`project`, write key `key`) and the admin token [`ADMIN`].
pub fn config(location: &str, project: &str, key: &str) -> Config {
    Config {
        store: Some(location.to_string()),
        admin_token: Some(ADMIN.to_string()),
        projects: vec![ProjectConfig::new(project, key)],
        ..Config::default()
    }
}

pub fn open(location: &str) -> Arc<dyn Store> {
    open_store(location).expect("open store")
}

/// A collector serving on 127.0.0.1 (random port) until dropped (the binary's periodic jobs are
/// exercised by the process tests).
pub struct TestServer {
    pub state: AppState,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(config: Config, store: Arc<dyn Store>) -> TestServer {
        let state = AppState::new(config, store).await.expect("collector state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        // Without the periodic jobs: tests run retention and refreshes explicitly.
        let task = tokio::spawn(server::serve_http(state.clone(), listener, async move {
            let _ = stopped.await;
        }));
        TestServer {
            state,
            addr,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs JSON with the write key as HTTP Basic username.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .basic_auth(key, Some(""))
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// `PUT /v1/admin/projects/{project}/privacy` as the admin, named `actor` when given (the
    /// audit log then says `admin:<actor>`, else `admin`); asserts 200 and returns the answer
    /// (the settings and their `changes`).
    pub async fn put_privacy(&self, project: &str, actor: Option<&str>, body: &Value) -> Value {
        let mut req = self
            .client
            .put(self.url(&format!("/v1/admin/projects/{project}/privacy")))
            .bearer_auth(ADMIN);
        if let Some(actor) = actor {
            req = req.header("x-footfall-actor", actor);
        }
        let r = req.json(body).send().await.unwrap();
        let (status, body) = read(r).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
    }

    /// Stops accepting, drains in-flight requests and waits for the server to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The `(index, reason)` of every refusal in a `/v1/batch` answer.
pub fn rejections(body: &Value) -> Vec<(u64, &str)> {
    body["rejected"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| (r["index"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A golden fixture from `tests/fixtures/` of the repository.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The six fixture messages of `batch.json`.
pub fn fixture_batch() -> Vec<Value> {
    fixture("batch")["batch"].as_array().unwrap().clone()
}

/// Replaces every messageId (and ids ending in the old value) so a fixture can be reused.
pub fn with_fresh_ids(mut messages: Vec<Value>) -> Vec<Value> {
    for m in &mut messages {
        m["messageId"] = Value::String(uuid::Uuid::new_v4().to_string());
    }
    messages
}

/// A minimal valid track message.
pub fn track(id: &str, user: &str, event: &str) -> Value {
    serde_json::json!({
        "type": "track",
        "messageId": id,
        "userId": user,
        "event": event,
        "timestamp": footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis()),
        "properties": {"n": 1},
    })
}

pub fn sql_str(dialect: Dialect, s: &str) -> String {
    footfall_collector::privacy::sql_string(dialect, s)
}

/// Rows of `sql` (values normalized by the store).
pub async fn rows(store: &dyn Store, sql: &str) -> Vec<Vec<Value>> {
    store
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .rows
}

pub async fn count(store: &dyn Store, sql: &str) -> i64 {
    rows(store, sql).await[0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("count of {sql}"))
}

/// Number of (deduplicated) events of a project.
pub async fn event_count(store: &dyn Store, project: &str) -> i64 {
    let d = store.dialect();
    count(
        store,
        &format!(
            "SELECT count(*) FROM {} WHERE project_id = {}",
            events_relation(d),
            sql_str(d, project)
        ),
    )
    .await
}

/// Number of physical event rows with this project and messageId (for exactly-once checks; on
/// ClickHouse read through FINAL, where duplicates collapse).
pub async fn copies(store: &dyn Store, project: &str, message_id: &str) -> i64 {
    let d = store.dialect();
    count(
        store,
        &format!(
            "SELECT count(*) FROM {} WHERE project_id = {} AND message_id = {}",
            events_relation(d),
            sql_str(d, project),
            sql_str(d, message_id)
        ),
    )
    .await
}

/// One event row as a JSON object keyed by column name.
pub async fn event(
    store: &dyn Store,
    project: &str,
    message_id: &str,
) -> Option<serde_json::Map<String, Value>> {
    let d = store.dialect();
    let sql = format!(
        "SELECT message_id, type, event, ts, received_at, sent_at, original_timestamp, anonymous_id, user_id, \
         session_id, group_id, browser, os, device_type, is_bot, ip, properties, traits, context FROM {} \
         WHERE project_id = {} AND message_id = {}",
        events_relation(d),
        sql_str(d, project),
        sql_str(d, message_id)
    );
    let result = store.query(&sql).await.unwrap();
    let row = result.rows.into_iter().next()?;
    Some(result.columns.into_iter().zip(row).collect())
}

/// Dead letters of a project: (reason, message_id, payload).
pub async fn dead_letters(store: &dyn Store, project: &str) -> Vec<(String, Option<String>, String)> {
    let d = store.dialect();
    let sql = format!(
        "SELECT reason, message_id, payload FROM dead_letters WHERE project_id = {} ORDER BY received_at, reason",
        sql_str(d, project)
    );
    rows(store, &sql)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().map(str::to_string),
                r[2].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The winning identity link of an anonymous id.
pub async fn linked_user(store: &dyn Store, project: &str, anonymous_id: &str) -> Option<String> {
    let d = store.dialect();
    let sql = format!(
        "SELECT user_id FROM {} AS i WHERE project_id = {} AND anonymous_id = {}",
        identities_relation(d),
        sql_str(d, project),
        sql_str(d, anonymous_id)
    );
    rows(store, &sql)
        .await
        .into_iter()
        .next()
        .and_then(|r| r[0].as_str().map(str::to_string))
}

/// The `footfall` binary of this build.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_footfall")
}

/// A `footfall serve` child process (the real binary) on 127.0.0.1 with a random port.
pub struct Process {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl Process {
    /// Writes `config` as YAML into `dir` and starts `footfall serve --config` on it.
    pub fn spawn(dir: &std::path::Path, name: &str, config: &Config) -> Process {
        Self::spawn_with(dir, name, config, |_| {})
    }

    /// [`Self::spawn`], with `setup` applied to the command last (limits, signals, stderr).
    pub fn spawn_with(
        dir: &std::path::Path,
        name: &str,
        config: &Config,
        setup: impl FnOnce(&mut std::process::Command),
    ) -> Process {
        use std::io::BufRead;
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, serde_norway::to_string(config).unwrap()).unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let mut command = std::process::Command::new(binary());
        command
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .env_remove("FOOTFALL_DATA")
            .env_remove("FOOTFALL_STORE")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        setup(&mut command);
        let mut child = command.spawn().expect("spawn footfall");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            panic!("footfall serve printed nothing; its log:\n{log}")
        });
        let addr = first
            .rsplit("://")
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{first}"));
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Process { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` to `url` with the write key `key` as the SDKs do (Basic auth, empty password).
pub async fn send_batch(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    http.post(url).basic_auth(key, Some("")).json(body).send().await
}

/// The `message_id`s of an NDJSON export (`/v1/admin/…/export`), in the export's order.
pub fn export_message_ids(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            row["message_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no message_id: {l}"))
                .to_string()
        })
        .collect()
}

/// Every stored messageId of a project.
pub async fn message_ids(store: &dyn Store, project: &str) -> std::collections::HashSet<String> {
    let d = store.dialect();
    let sql = format!(
        "SELECT message_id FROM {} WHERE project_id = {}",
        events_relation(d),
        sql_str(d, project)
    );
    rows(store, &sql)
        .await
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

/// The value of the unlabelled metric `name` in the `/metrics` answer at `url` (fails the test
/// when it is missing).
pub async fn metric(url: &str, name: &str) -> f64 {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A batch of `n` track messages `{prefix}-m{i}` (event `event`) of user `user`: their ids and
/// the `/v1/batch` body.
pub fn batch(prefix: &str, n: usize, user: &str, event: &str) -> (Vec<String>, Value) {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-m{i}")).collect();
    let messages: Vec<Value> = ids.iter().map(|id| track(id, user, event)).collect();
    (ids, serde_json::json!({ "batch": messages }))
}

/// Reads until the peer closes or `limit` passes; returns what was read and whether the
/// connection was closed (EOF or reset) in time.
pub async fn read_until_closed(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: std::time::Duration,
) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}
