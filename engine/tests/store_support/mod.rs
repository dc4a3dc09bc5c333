//! Backends for the shared storage suite (engine/tests/store_suite.rs) and the throughput
//! report (engine/tests/store_throughput.rs): one isolated store per test.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use footfall_engine::store::{EventRow, Store, open_store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DuckDb,
    Postgres,
    ClickHouse,
}

impl Kind {
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Kind::DuckDb => None,
            Kind::Postgres => Some("FOOTFALL_TEST_POSTGRES_URL"),
            Kind::ClickHouse => Some("FOOTFALL_TEST_CLICKHOUSE_URL"),
        }
    }
}

/// One test's store, isolated from every other test's.
pub struct Backend {
    pub kind: Kind,
    pub store: Arc<dyn Store>,
    /// Where `store` lives (another `open_store` of it reaches the same data).
    pub location: String,
    /// Server URL without our isolation (PostgreSQL) / the server root (ClickHouse).
    server: String,
    /// PostgreSQL schema or ClickHouse database created for the test.
    namespace: String,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let short: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "ff_{}_{}_{}_{}",
        short.to_ascii_lowercase(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

impl Backend {
    /// Opens and migrates a fresh store, or `None` (after a loud notice) when the backend's server
    /// is not configured; panics instead when FOOTFALL_REQUIRE_BACKENDS=1.
    pub async fn start(kind: Kind, test: &str) -> Option<Backend> {
        let b = Self::open(kind, test, false).await?;
        b.store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {}: {e}", b.location));
        Some(b)
    }

    /// Like [`Backend::start`], but the storage is created with the schema of version 1 (the
    /// tables as a release before the integer identity keys made them, frozen here) and the
    /// store is opened without migrating: the way an upgrade finds an existing database.
    pub async fn start_v1(kind: Kind, test: &str) -> Option<Backend> {
        Self::open(kind, test, true).await
    }

    /// A fresh store (not migrated), its storage created with schema version 1 when `v1`.
    async fn open(kind: Kind, test: &str, v1: bool) -> Option<Backend> {
        let server = match kind.env_var() {
            None => String::new(),
            Some(var) => match std::env::var(var) {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    let msg = format!(
                        "{var} is not set: {kind:?} store test `{test}` SKIPPED \
                         (start the servers with: eval \"$(scripts/services.sh start)\")"
                    );
                    if std::env::var("FOOTFALL_REQUIRE_BACKENDS").as_deref() == Ok("1") {
                        panic!("FOOTFALL_REQUIRE_BACKENDS=1 but {msg}");
                    }
                    // Straight to stderr (not eprintln!, which the test harness captures), once
                    // per backend and test binary.
                    static WARNED: [Once; 3] = [Once::new(), Once::new(), Once::new()];
                    WARNED[kind as usize].call_once(|| {
                        let banner = format!(
                            "\n!!!!!!!!!! {var} is not set: {kind:?} store tests SKIPPED \
                             (start the servers with: eval \"$(scripts/services.sh start)\") !!!!!!!!!!\n\n"
                        );
                        let _ = std::io::stderr().write_all(banner.as_bytes());
                    });
                    eprintln!("{msg}");
                    return None;
                }
            },
        };
        let namespace = unique_name(test);
        let (location, dir) = match kind {
            Kind::DuckDb => {
                let dir = tempfile::tempdir().unwrap();
                if v1 {
                    let conn = duckdb::Connection::open(dir.path().join("footfall.duckdb")).unwrap();
                    conn.execute_batch(&format!("{};{V1_VERSION}", v1_tables("TEXT", "")))
                        .unwrap();
                }
                (dir.path().display().to_string(), Some(dir))
            }
            Kind::Postgres => {
                if v1 {
                    let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    let key = ",\n PRIMARY KEY (project_id, message_id)";
                    client
                        .batch_execute(&format!(
                            "CREATE SCHEMA {namespace}; SET search_path TO {namespace}; {}; {V1_VERSION}",
                            v1_tables("TEXT COLLATE \"C\"", key)
                        ))
                        .await
                        .unwrap();
                }
                let sep = if server.contains('?') { '&' } else { '?' };
                (format!("{server}{sep}schema={namespace}"), None)
            }
            Kind::ClickHouse => {
                let mut url = reqwest::Url::parse(&server).expect("FOOTFALL_TEST_CLICKHOUSE_URL is a URL");
                url.set_path(&format!("/{namespace}"));
                (url.to_string(), None)
            }
        };
        let b = Backend {
            kind,
            store: open_store(&location).unwrap_or_else(|e| panic!("open {location}: {e}")),
            location,
            server,
            namespace,
            _dir: dir,
        };
        if v1 && kind == Kind::ClickHouse {
            let mut root = reqwest::Url::parse(&b.server).unwrap();
            root.set_path("/");
            let r = reqwest::Client::new()
                .post(root)
                .body(format!("CREATE DATABASE {}", b.namespace))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
            for statement in CLICKHOUSE_V1 {
                b.clickhouse_exec(statement).await;
            }
        }
        Some(b)
    }

    /// A second handle on the same storage: another collector process, in effect, on PostgreSQL
    /// and ClickHouse. DuckDB allows one process per database file; opening it again in the same
    /// process must share the open database.
    pub async fn another_handle(&self) -> Arc<dyn Store> {
        open_store(&self.location).unwrap()
    }

    /// Runs one statement directly on the ClickHouse server, in the test's database.
    pub async fn clickhouse_exec(&self, sql: &str) -> String {
        assert_eq!(self.kind, Kind::ClickHouse);
        let mut url = reqwest::Url::parse(&self.server).unwrap();
        url.set_path("/");
        url.query_pairs_mut().append_pair("database", &self.namespace);
        let r = reqwest::Client::new()
            .post(url)
            .body(sql.to_string())
            .send()
            .await
            .unwrap();
        let ok = r.status().is_success();
        let text = r.text().await.unwrap_or_default();
        assert!(ok, "{sql}: {text}");
        text
    }

    /// Runs statements directly on the PostgreSQL server, in the test's schema (the store's own
    /// `query` is read-only).
    pub async fn postgres_exec(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        assert_eq!(self.kind, Kind::Postgres);
        self.postgres_client()
            .await
            .batch_execute(&format!("SET search_path TO {}; {sql}", self.namespace))
            .await
    }

    /// A connection to the PostgreSQL server (no schema set).
    async fn postgres_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.server, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }

    /// Drops the test's schema / database (DuckDB: the temp dir goes with the value).
    pub async fn cleanup(&self) {
        match self.kind {
            Kind::DuckDb => {}
            Kind::Postgres => {
                self.postgres_client()
                    .await
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.namespace))
                    .await
                    .unwrap();
            }
            Kind::ClickHouse => {
                let mut url = reqwest::Url::parse(&self.server).unwrap();
                url.set_path("/");
                let r = reqwest::Client::new()
                    .post(url)
                    .body(format!("DROP DATABASE IF EXISTS {}", self.namespace))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    r.status().is_success(),
                    "drop database: {}",
                    r.text().await.unwrap_or_default()
                );
            }
        }
    }
}

/// A plain track event; tests override what they need.
pub fn event(project: &str, message_id: &str, ts: i64) -> EventRow {
    EventRow {
        project_id: project.into(),
        message_id: message_id.into(),
        kind: "track".into(),
        event: "Signed Up".into(),
        ts,
        received_at: ts + 10,
        sent_at: None,
        original_timestamp: None,
        anonymous_id: Some(format!("anon-{message_id}")),
        user_id: None,
        session_id: None,
        group_id: None,
        browser: None,
        os: None,
        device_type: None,
        is_bot: false,
        ip: None,
        properties: "{}".into(),
        traits: "{}".into(),
        context: "{}".into(),
    }
}

/// Events `msg-{i}` for `i` in `range`, with `ts(i)`.
pub fn events(project: &str, range: std::ops::Range<i64>, ts: impl Fn(i64) -> i64) -> Vec<EventRow> {
    range
        .map(|i| event(project, &format!("msg-{i:06}"), ts(i)))
        .collect()
}

/// `events` and `identities` of schema version 1 on DuckDB / PostgreSQL (`text`: the text type;
/// `events_key`: the primary key clause of `events`, PostgreSQL only).
fn v1_tables(text: &str, events_key: &str) -> String {
    format!(
        "CREATE TABLE events (project_id {text} NOT NULL, message_id {text} NOT NULL, type {text} NOT NULL, \
         event {text} NOT NULL, ts BIGINT NOT NULL, received_at BIGINT NOT NULL, sent_at BIGINT, \
         original_timestamp {text}, anonymous_id {text}, user_id {text}, session_id {text}, group_id {text}, \
         browser {text}, os {text}, device_type {text}, is_bot BOOLEAN NOT NULL DEFAULT false, ip {text}, \
         properties {text} NOT NULL, traits {text} NOT NULL, context {text} NOT NULL{events_key});
         CREATE TABLE identities (project_id {text} NOT NULL, anonymous_id {text} NOT NULL, \
         user_id {text} NOT NULL, linked_at BIGINT NOT NULL, PRIMARY KEY (project_id, anonymous_id));
         CREATE TABLE dead_letters (project_id {text}, received_at BIGINT NOT NULL, reason {text} NOT NULL, \
         message_id {text}, payload {text} NOT NULL);
         CREATE TABLE documents (kind {text} NOT NULL, project_id {text} NOT NULL, id {text} NOT NULL, \
         body {text} NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (kind, project_id, id));
         CREATE TABLE audit_log (id {text} PRIMARY KEY, project_id {text}, \"at\" BIGINT NOT NULL, \
         actor {text} NOT NULL, action {text} NOT NULL, target {text} NOT NULL, details {text} NOT NULL)"
    )
}

const V1_VERSION: &str = "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); \
    INSERT INTO schema_version VALUES (1, 0)";

const CLICKHOUSE_V1: &[&str] = &[
    "CREATE TABLE events (project_id String, message_id String, type String, event String, \
     ts Int64, received_at Int64, sent_at Nullable(Int64), original_timestamp Nullable(String), \
     anonymous_id Nullable(String), user_id Nullable(String), session_id Nullable(String), \
     group_id Nullable(String), browser Nullable(String), os Nullable(String), device_type Nullable(String), \
     is_bot UInt8, ip Nullable(String), properties String, traits String, context String, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, message_id)",
    "CREATE TABLE identities (project_id String, anonymous_id String, user_id String, \
     linked_at Int64, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, anonymous_id, user_id)",
    "CREATE TABLE dead_letters (project_id Nullable(String), received_at Int64, reason String, \
     message_id Nullable(String), payload String) ENGINE = MergeTree ORDER BY received_at",
    "CREATE TABLE documents (kind String, project_id String, id String, body String, \
     updated_at Int64, deleted UInt8, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (kind, project_id, id)",
    "CREATE TABLE audit_log (id String, project_id Nullable(String), at Int64, actor String, \
     action String, target String, details String) ENGINE = ReplacingMergeTree ORDER BY (at, id)",
    "CREATE TABLE schema_version (version UInt32, applied_at Int64) ENGINE = MergeTree ORDER BY version",
    "INSERT INTO schema_version VALUES (1, 0)",
];
