//! Shared helpers of the query-layer suites (engine/tests/query_*.rs): the backends every test
//! runs on, and a terse builder for hand-made events.
//!
//! DuckDB (in memory) always runs. PostgreSQL and ClickHouse run when
//! FOOTFALL_TEST_POSTGRES_URL / FOOTFALL_TEST_CLICKHOUSE_URL are set (`eval "$(scripts/services.sh
//! start)"`); otherwise the test says loudly that it skipped them, and fails when
//! FOOTFALL_REQUIRE_BACKENDS=1. Tests share one schema / database per server and isolate
//! themselves by project id.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use footfall_engine::query::QueryContext;
use footfall_engine::store::{DuckDbStore, EventRow, IdentityLink, Store, WriteBatch, open_store};

/// 2026-10-01T00:00:00Z.
pub const D0: i64 = 1_790_812_800_000;
pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;
/// "Now" of every test context: 2026-10-31T12:00:00Z.
pub const NOW: i64 = D0 + 30 * DAY + 12 * HOUR;

/// Namespace (PostgreSQL schema, ClickHouse database) of the query suites.
const NAMESPACE: &str = "ff_query_tests";

pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
}

fn configured(var: &str, name: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let msg = format!(
                "{var} is not set: {name} run of query test `{test}` SKIPPED \
                 (start the servers with: eval \"$(scripts/services.sh start)\")"
            );
            if std::env::var("FOOTFALL_REQUIRE_BACKENDS").as_deref() == Ok("1") {
                panic!("FOOTFALL_REQUIRE_BACKENDS=1 but {msg}");
            }
            eprintln!("\n!!!!!!!!!! {msg} !!!!!!!!!!\n");
            None
        }
    }
}

/// Every backend available to this run, migrated.
pub async fn backends(test: &str) -> Vec<Backend> {
    let duck: Arc<dyn Store> = Arc::new(DuckDbStore::open_in_memory().expect("duckdb"));
    let mut out = vec![Backend {
        name: "duckdb",
        store: duck,
    }];
    if let Some(url) = configured("FOOTFALL_TEST_POSTGRES_URL", "PostgreSQL", test) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let store = open_store(&format!("{url}{sep}schema={NAMESPACE}")).expect("open postgres");
        out.push(Backend {
            name: "postgres",
            store,
        });
    }
    if let Some(url) = configured("FOOTFALL_TEST_CLICKHOUSE_URL", "ClickHouse", test) {
        let mut u = reqwest::Url::parse(&url).expect("clickhouse url");
        u.set_path(&format!("/{NAMESPACE}"));
        let store = open_store(u.as_str()).expect("open clickhouse");
        out.push(Backend {
            name: "clickhouse",
            store,
        });
    }
    for b in &out {
        b.store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {}: {e}", b.name));
    }
    out
}

/// A project id unique to this process and call.
pub fn project(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{test}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_007
    )
}

pub fn ctx(project: &str) -> QueryContext {
    QueryContext::at(project, NOW)
}

/// Day `d` (0 = 2026-10-01) at h:m:s UTC.
pub fn at(d: i64, h: i64, m: i64, s: i64) -> i64 {
    D0 + d * DAY + h * HOUR + m * MIN + s * 1000
}

/// A track event of anonymous id `anon` (message id assigned by [`load`] unless set).
pub fn ev(anon: &str, event: &str, ts: i64) -> EventRow {
    EventRow {
        project_id: String::new(),
        message_id: String::new(),
        kind: if event == "page_view" {
            "page".into()
        } else {
            "track".into()
        },
        event: event.into(),
        ts,
        received_at: ts + 5,
        sent_at: None,
        original_timestamp: None,
        anonymous_id: Some(anon.into()),
        user_id: None,
        session_id: None,
        group_id: None,
        browser: Some("Chrome".into()),
        os: Some("macOS".into()),
        device_type: Some("desktop".into()),
        is_bot: false,
        ip: None,
        properties: "{}".into(),
        traits: "{}".into(),
        context: "{}".into(),
    }
}

/// Fluent tweaks of a test event.
pub trait Tweak {
    fn user(self, u: &str) -> Self;
    fn props(self, p: serde_json::Value) -> Self;
    fn traits(self, t: serde_json::Value) -> Self;
    fn bot(self) -> Self;
    fn browser(self, b: &str) -> Self;
    fn session(self, s: &str) -> Self;
    fn msg(self, id: &str) -> Self;
    fn kind(self, k: &str) -> Self;
}

impl Tweak for EventRow {
    fn user(mut self, u: &str) -> Self {
        self.user_id = Some(u.into());
        self
    }
    fn props(mut self, p: serde_json::Value) -> Self {
        self.properties = p.to_string();
        self
    }
    fn traits(mut self, t: serde_json::Value) -> Self {
        self.traits = t.to_string();
        self
    }
    fn bot(mut self) -> Self {
        self.is_bot = true;
        self
    }
    fn browser(mut self, b: &str) -> Self {
        self.browser = Some(b.into());
        self
    }
    fn session(mut self, s: &str) -> Self {
        self.session_id = Some(s.into());
        self
    }
    fn msg(mut self, id: &str) -> Self {
        self.message_id = id.into();
        self
    }
    fn kind(mut self, k: &str) -> Self {
        self.kind = k.into();
        self
    }
}

/// anonymous id → user id, linked at `ts`.
pub fn link(anon: &str, user: &str, ts: i64) -> IdentityLink {
    IdentityLink {
        project_id: String::new(),
        anonymous_id: anon.into(),
        user_id: user.into(),
        linked_at: ts,
    }
}

/// Writes `events` (project set, missing message ids numbered) and `links` into the project.
pub async fn load(store: &dyn Store, project: &str, events: Vec<EventRow>, links: Vec<IdentityLink>) {
    let events = events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.project_id = project.into();
            if e.message_id.is_empty() {
                e.message_id = format!("m{i:05}");
            }
            e
        })
        .collect();
    let links = links.into_iter().map(|mut l| {
        l.project_id = project.into();
        l
    });
    store
        .write(WriteBatch {
            events,
            links: links.collect(),
            dead_letters: vec![],
        })
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
}
