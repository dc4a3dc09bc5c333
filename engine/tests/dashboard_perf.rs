//! The seed's dashboard KPIs (dashboard load < 2 s, query < 5 s at 10M events), measured on the
//! embedded store with the engine's generator. A benchmark, not a test: it prints a table and
//! asserts nothing about time.
//!
//! ```sh
//! FOOTFALL_PERF_EVENTS=10000000 FOOTFALL_PERF_DIR=/tmp/ff-perf \
//!   cargo test -p footfall-engine --test dashboard_perf -- --ignored --nocapture
//! ```
//!
//! `FOOTFALL_PERF_EVENTS` (default 1,000,000) events over 30 days from 2026-10-01 are generated
//! into the DuckDB store in `FOOTFALL_PERF_DIR` (default: a temporary directory), unless it already
//! holds them. Each measurement is the median of 3 runs; the peer is a plain full scan
//! (`count(*)` and `count(DISTINCT anonymous_id)` of the project's events) in the same run.

mod dashboard_support;

use std::time::Instant;

use footfall_engine::dashboard::cache::DataCache;
use footfall_engine::dashboard::data::{DataRequest, dashboard_data_at, dashboard_data_with};
use footfall_engine::dashboard::model::Dashboard;
use footfall_engine::dashboard::parse_dashboards;
use footfall_engine::generate::{GenConfig, seed_store};
use footfall_engine::store::{Store, open_store};

const DAY: i64 = 86_400_000;

async fn median_ms<F, Fut>(mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut t = Vec::new();
    for _ in 0..3 {
        let s = Instant::now();
        f().await;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(f64::total_cmp);
    t[1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn dashboard_kpis() {
    let events: usize = std::env::var("FOOTFALL_PERF_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("FOOTFALL_PERF_DIR").unwrap_or_else(|_| tmp.path().display().to_string());
    let store = open_store(&dir).unwrap();
    store.migrate().await.unwrap();
    let cfg = GenConfig::new("perf", events);
    let have = store
        .query("SELECT count(*) FROM events WHERE project_id = 'perf'")
        .await
        .unwrap()
        .rows[0][0]
        .as_i64()
        .unwrap_or(0);
    if have == 0 {
        let s = Instant::now();
        let r = seed_store(store.as_ref(), cfg.clone()).await.unwrap();
        eprintln!(
            "generated {} events ({} stored) in {:.1} s",
            r.events,
            r.inserted,
            s.elapsed().as_secs_f64()
        );
    }
    let stored = store
        .query("SELECT count(*) FROM events WHERE project_id = 'perf'")
        .await
        .unwrap()
        .rows[0][0]
        .clone();
    let now = cfg.start_ms + i64::from(cfg.days) * DAY - 12 * 3_600_000;
    let d: Dashboard = parse_dashboards(&dashboard_support::example_yaml())
        .unwrap()
        .remove(0);

    let s: &dyn Store = store.as_ref();
    let peer = median_ms(|| async {
        s.query("SELECT count(*), count(DISTINCT anonymous_id) FROM events WHERE project_id = 'perf'")
            .await
            .unwrap();
    })
    .await;
    let full = median_ms(|| async {
        let data = dashboard_data_at(s, "perf", &d, None, None, now).await.unwrap();
        assert!(
            data.widgets.iter().all(|w| w.error.is_none()),
            "{:?}",
            data.widgets
        );
    })
    .await;
    // A host's cache (what reopening a dashboard within its TTL costs).
    let cache = DataCache::default();
    let req = DataRequest {
        from: None,
        to: None,
        now_ms: now,
        widget: None,
        cache: Some(&cache),
        refresh: false,
    };
    dashboard_data_with(s, "perf", &d, &req).await.unwrap();
    let cached = median_ms(|| async {
        let data = dashboard_data_with(s, "perf", &d, &req).await.unwrap();
        assert!(data.widgets.iter().all(|w| w.cached));
    })
    .await;
    println!("\nDashboard KPIs, {stored} events (DuckDB embedded, median of 3)\n");
    println!("| what | ms | × full scan |");
    println!("|---|---:|---:|");
    println!("| peer: full scan count + distinct | {peer:.0} | 1.0 |");
    println!(
        "| whole dashboard data (8 widgets) | {full:.0} | {:.1} |",
        full / peer
    );
    println!(
        "| whole dashboard data, cached (reopened within the TTL) | {cached:.1} | {:.3} |",
        cached / peer
    );
    for (i, w) in d.widgets.iter().enumerate() {
        let one = Dashboard {
            widgets: vec![w.clone()],
            ..d.clone()
        };
        let ms = median_ms(|| async {
            dashboard_data_at(s, "perf", &one, None, None, now).await.unwrap();
        })
        .await;
        let id = w.widget_id.clone().unwrap_or_else(|| format!("w{i}"));
        println!(
            "| widget `{id}` ({}) | {ms:.0} | {:.1} |",
            w.kind.as_str(),
            ms / peer
        );
    }
}
