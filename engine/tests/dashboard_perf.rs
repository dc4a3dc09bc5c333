//! The seed's dashboard KPIs (dashboard load < 2 s, query < 5 s at 10M events), measured on the
//! embedded store with the engine's generator. A benchmark, not a test: it prints a table and
//! asserts nothing about time.
//!
//! ```sh
//! FOOTFALL_PERF_EVENTS=10000000 FOOTFALL_PERF_DIR=/tmp/ff-perf \
//!   cargo test --release -p footfall-engine --test dashboard_perf -- --ignored --nocapture
//! ```
//!
//! `FOOTFALL_PERF_EVENTS` (default 1,000,000) events over 30 days from 2026-10-01 are generated
//! into the DuckDB store in `FOOTFALL_PERF_DIR` (default: a temporary directory) for project
//! `FOOTFALL_PERF_PROJECT` (default `perf`), unless it already holds them: a store of
//! `scripts/bench-engine.sh` (project `bench`) can be reused on a copy (the benchmark writes the
//! example dashboards into it). "Now" is noon of the generated data's last day.
//!
//! Rows: the peer (a plain full scan in the same run); the first open without a cache (cold:
//! every widget computed, concurrently); uncached opens (median of 3); one warmer pass (every
//! widget, sequentially: what keeping the dashboard warm costs in the background); the open after
//! warming (what a user waits for); an open past the TTL (stale results served while refreshed);
//! each widget alone (median of 3). Load average before and after.

mod dashboard_support;

use std::time::Instant;

use footfall_engine::dashboard::cache::DataCache;
use footfall_engine::dashboard::data::{DataRequest, dashboard_data_at, dashboard_data_with};
use footfall_engine::dashboard::model::Dashboard;
use footfall_engine::dashboard::{CacheWarmer, DashboardStore, parse_dashboards};
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

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, f64) {
    let s = Instant::now();
    let out = f.await;
    (out, s.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn dashboard_kpis() {
    let load_before = loadavg();
    let events: usize = std::env::var("FOOTFALL_PERF_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let project = std::env::var("FOOTFALL_PERF_PROJECT").unwrap_or_else(|_| "perf".into());
    let project = project.as_str();
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("FOOTFALL_PERF_DIR").unwrap_or_else(|_| tmp.path().display().to_string());
    let store = open_store(&dir).unwrap();
    store.migrate().await.unwrap();
    let cfg = GenConfig::new(project, events);
    let count_sql = format!("SELECT count(*) FROM events WHERE project_id = '{project}'");
    let have = store.query(&count_sql).await.unwrap().rows[0][0]
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
    let stored = store.query(&count_sql).await.unwrap().rows[0][0].clone();
    let now = cfg.start_ms + i64::from(cfg.days) * DAY - 12 * 3_600_000;
    let dashboards = parse_dashboards(&dashboard_support::example_yaml()).unwrap();
    DashboardStore::new(store.as_ref(), project)
        .upsert_all(&dashboards)
        .await
        .unwrap();
    let d: Dashboard = dashboards[0].clone();
    let n = d.widgets.len();

    let s: &dyn Store = store.as_ref();
    let peer_sql =
        format!("SELECT count(*), count(DISTINCT anonymous_id) FROM events WHERE project_id = '{project}'");
    let uncached = || async {
        let data = dashboard_data_at(s, project, &d, None, None, now).await.unwrap();
        assert!(
            data.widgets.iter().all(|w| w.error.is_none()),
            "{:?}",
            data.widgets
        );
    };
    // The very first open of the process (nothing cached anywhere in the engine).
    let ((), cold) = timed(uncached()).await;
    let peer = median_ms(|| async {
        s.query(&peer_sql).await.unwrap();
    })
    .await;
    let full = median_ms(uncached).await;

    // The warmer's pass on an empty cache, then opens served from it.
    let cache = DataCache::default();
    let warmer = CacheWarmer::new(store.clone(), cache.clone(), vec![project.to_string()]);
    let (report, warm_pass) = timed(warmer.warm_once(now)).await;
    // Every dashboard of the project (the store may hold more than the example).
    let stored_widgets: usize = DashboardStore::new(s, project)
        .list()
        .await
        .unwrap()
        .iter()
        .map(|d| d.widgets.len())
        .sum();
    assert_eq!(
        (report.computed, report.failed),
        (stored_widgets, 0),
        "{report:?}"
    );
    let open = |at: i64| {
        let (store, cache, d) = (&store, &cache, &d);
        async move {
            let req = DataRequest {
                from: None,
                to: None,
                now_ms: at,
                widget: None,
                cache: Some(cache),
                refresh: false,
            };
            dashboard_data_with(store, project, d, &req).await.unwrap()
        }
    };
    let warmed = median_ms(|| async {
        let data = open(now + 1_000).await;
        assert!(data.widgets.iter().all(|w| w.cached && !w.stale));
    })
    .await;
    // Past the TTL: served stale at once, one background refresh per widget.
    let later = now + 2 * cache.ttl().as_millis() as i64;
    let (data, stale_open) = timed(open(later)).await;
    assert!(data.widgets.iter().all(|w| w.cached && w.stale));
    let (_, refreshed_after) = timed(async {
        while !open(later).await.widgets.iter().all(|w| !w.stale) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;

    let mut per_widget = Vec::new();
    for (i, w) in d.widgets.iter().enumerate() {
        let one = Dashboard {
            widgets: vec![w.clone()],
            ..d.clone()
        };
        let ms = median_ms(|| async {
            dashboard_data_at(s, project, &one, None, None, now)
                .await
                .unwrap();
        })
        .await;
        let id = w.widget_id.clone().unwrap_or_else(|| format!("w{i}"));
        per_widget.push((id, w.kind.as_str(), ms));
    }
    let sum: f64 = per_widget.iter().map(|(_, _, ms)| ms).sum();
    println!(
        "\nDashboard KPIs, {stored} events (DuckDB embedded; load average {load_before} before, {} after)\n",
        loadavg()
    );
    println!("| what | ms | × full scan |");
    println!("|---|---:|---:|");
    let row = |what: &str, ms: f64| {
        let digits = if ms < 10.0 { 3 } else { 1 };
        println!("| {what} | {ms:.digits$} | {:.3} |", ms / peer)
    };
    row("peer: full scan count + distinct (median of 3)", peer);
    row(&format!("first open, no cache ({n} widgets at once)"), cold);
    row("open without cache (median of 3)", full);
    row("sum of the widgets alone (one after another)", sum);
    row(
        &format!(
            "warmer pass ({} dashboard(s), {stored_widgets} widgets, one at a time, background)",
            report.dashboards
        ),
        warm_pass,
    );
    row("open after warming (median of 3)", warmed);
    row(
        "open past the TTL (stale served, refresh in background)",
        stale_open,
    );
    row(
        "... until every widget was refreshed",
        stale_open + refreshed_after,
    );
    for (id, kind, ms) in per_widget {
        row(&format!("widget `{id}` ({kind}) alone (median of 3)"), ms);
    }
}
