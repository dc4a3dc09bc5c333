//! Query benchmark of the embedded DuckDB store (driven by scripts/bench-engine.sh, which runs
//! the hand-written peers on the same data and prints the comparison table).
//!
//! ```sh
//! cargo run --release -p footfall-engine --example bench_queries -- \
//!     --events 1000000 --dir target/bench-engine --runs 5 --out target/bench-engine/ours.json
//! ```
//!
//! Generates `--events` events (seeded, see `footfall_engine::generate`) into a DuckDB store in
//! `--dir` (reused when it already holds that many), then times each query `--runs` times and
//! writes the medians (ms) as JSON: the queries are the DAU trend over 30 days, a 4-step funnel
//! with a 14-day window, weekly retention over 5 weeks, user metrics of the busiest user and
//! feature adoption. `--only a,b` runs some of them; `--prepare` only generates the data.
//!
//! `--serve` instead prints one JSON line `{"ready": true, "busiest_user": …, "queries": […]}`
//! and then runs one query per name read on stdin, answering each with one JSON line
//! `{"name", "ms", "answer"}`: the benchmark script interleaves our queries with the peers' so
//! that all sides of a comparison see the same machine load.
//!
//! `--dashboard` instead computes each widget of the example dashboard (`examples/dashboards.yaml`)
//! uncached, one after another, `--runs` times, and prints each widget's median (ms) and their sum.
//!
//! `--text-persons` resolves persons by their id strings instead of the stored integer identity
//! keys (`QueryContext::text_persons`: the plans before the keys, for before/after figures).
//!
//! `--sql-dir DIR` writes the SQL statements of each query's last run to `DIR/<name>_<i>.sql`
//! (for `perf_sql`, which runs them alone and reports CPU time).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use footfall_engine::generate::{GenConfig, seed_store};
use footfall_engine::query::*;
use footfall_engine::store::{DuckDbStore, Store};
use serde_json::json;

const PROJECT: &str = "bench";
/// 2026-10-01T00:00:00Z, the generator's default start.
const START: i64 = 1_790_812_800_000;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The SQL statements logged by the query layer (`tracing` target `footfall::query`, field
/// `sql`) since the last [`take_sql`].
static SQL_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn take_sql() -> Vec<String> {
    std::mem::take(&mut *SQL_LOG.lock().expect("sql log"))
}

/// A minimal `tracing` subscriber that keeps the `sql` field of the query layer's events.
struct SqlCapture;

struct SqlField(Option<String>);

impl tracing::field::Visit for SqlField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "sql" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "sql" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for SqlCapture {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == "footfall::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = SqlField(None);
        event.record(&mut f);
        if let Some(sql) = f.0 {
            SQL_LOG.lock().expect("sql log").push(sql);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    let events: usize = arg("--events", "1000000").parse().expect("--events N");
    let runs: usize = arg("--runs", "5").parse().expect("--runs N");
    let dir = arg("--dir", "target/bench-engine");
    let out = arg("--out", "target/bench-engine/ours.json");
    let sql_dir = arg("--sql-dir", "");
    if !sql_dir.is_empty() {
        std::fs::create_dir_all(&sql_dir).expect("sql dir");
        tracing::subscriber::set_global_default(SqlCapture).expect("one subscriber");
    }
    std::fs::create_dir_all(&dir).expect("bench dir");
    let store: Arc<dyn Store> = Arc::new(DuckDbStore::open(&dir).expect("open duckdb store"));
    store.migrate().await.expect("migrate");
    let have = store
        .query("SELECT count(*) FROM events WHERE project_id = 'bench'")
        .await
        .expect("count");
    let have = have.rows[0][0].as_i64().unwrap_or(0) as usize;
    if have == 0 {
        let t = Instant::now();
        let report = seed_store(&*store, GenConfig::new(PROJECT, events))
            .await
            .expect("generate");
        eprintln!("generated {report:?} in {:.1} s", t.elapsed().as_secs_f64());
    } else {
        eprintln!("reusing {have} stored events in {dir}");
    }
    if std::env::args().any(|a| a == "--prepare") {
        return;
    }
    let mut ctx = QueryContext::at(PROJECT, START + 30 * 86_400_000 + 12 * 3_600_000);
    // The plans by person id strings instead of the integer identity keys (before/after runs).
    ctx.text_persons = std::env::args().any(|a| a == "--text-persons");
    if std::env::args().any(|a| a == "--dashboard") {
        bench_dashboard(&store, ctx.now_ms, runs, &sql_dir).await;
        return;
    }
    let busiest = store
        .query(
            "SELECT user_id FROM events WHERE project_id = 'bench' AND user_id IS NOT NULL \
             GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1",
        )
        .await
        .expect("busiest user");
    let busiest = busiest.rows[0][0].as_str().unwrap_or_default().to_string();
    let pricing = EventMatch::with_filter("page_view", Filter::eq("properties.path", "/pricing"));
    let cta = EventMatch::with_filter("click", Filter::eq("properties.element_id", "cta-signup"));
    let queries: Vec<(&str, Query)> = vec![
        (
            "dau_trend_30d",
            Query::Trends(
                TrendsQuery::new(EventMatch::named("*"), TrendMetric::Active(1), Interval::Day)
                    .range("2026-10-01", "2026-10-30"),
            ),
        ),
        (
            "funnel_4_steps_14d",
            Query::Funnel(
                funnel::FunnelQuery::new(vec![
                    pricing,
                    cta,
                    EventMatch::named("sign_up"),
                    EventMatch::named("purchase"),
                ])
                .range("2026-10-01", "2026-10-30"),
            ),
        ),
        (
            "retention_weekly_5",
            Query::Retention(
                RetentionQuery::new(
                    EventMatch::named("page_view"),
                    EventMatch::named("*"),
                    Interval::Week,
                    5,
                )
                .range("2026-10-01", "2026-10-30"),
            ),
        ),
        (
            "user_metrics",
            Query::UserMetrics(UserMetricsQuery::new(&busiest).range("2026-10-01", "2026-10-30")),
        ),
        (
            "feature_adoption",
            Query::FeatureAdoption(FeatureAdoptionQuery::new("export").range("2026-10-01", "2026-10-30")),
        ),
        ("paths_4_steps", Query::Paths(paths_after_page_views())),
    ];
    if std::env::args().any(|a| a == "--serve") {
        let names: Vec<&str> = queries.iter().map(|(n, _)| *n).collect();
        println!(
            "{}",
            json!({"ready": true, "events": events, "busiest_user": busiest, "queries": names})
        );
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            let name = line.trim().to_string();
            line.clear();
            let Some((_, q)) = queries.iter().find(|(n, _)| *n == name) else {
                println!("{}", json!({"name": name, "error": "unknown query"}));
                continue;
            };
            let t = Instant::now();
            let r = run_query(&*store, &ctx, q).await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(r) => println!("{}", json!({"name": name, "ms": ms, "answer": r})),
                Err(e) => println!("{}", json!({"name": name, "error": e.to_string()})),
            }
        }
        return;
    }
    let only = arg("--only", "");
    let mut medians = serde_json::Map::new();
    let mut answers = serde_json::Map::new();
    for (name, q) in queries
        .iter()
        .filter(|(n, _)| only.is_empty() || only.split(',').any(|o| o == *n))
    {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs.max(1) {
            take_sql();
            let t = Instant::now();
            let r = run_query(&*store, &ctx, q)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            last = Some(r);
        }
        if !sql_dir.is_empty() {
            for (i, text) in take_sql().iter().enumerate() {
                std::fs::write(format!("{sql_dir}/{name}_{i}.sql"), text).expect("write sql");
            }
        }
        let m = median(times);
        eprintln!("{name:<22} median {m:>9.1} ms");
        medians.insert(name.to_string(), json!(m));
        answers.insert(name.to_string(), serde_json::to_value(last).expect("serializes"));
    }
    let doc = json!({"events": events, "runs": runs, "busiest_user": busiest, "median_ms": medians, "answers": answers});
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json")).expect("write results");
}

/// `--dashboard`: each widget of the example dashboard alone, uncached (see the module doc).
async fn bench_dashboard(store: &Arc<dyn Store>, now_ms: i64, runs: usize, sql_dir: &str) {
    use footfall_engine::dashboard::data::{DataRequest, dashboard_data_with, widget_id};
    let dash = footfall_engine::dashboard::example_dashboards()
        .into_iter()
        .next()
        .expect("example dashboard");
    let mut total = 0.0;
    for (i, w) in dash.widgets.iter().enumerate() {
        let id = widget_id(i, w);
        let mut times = Vec::new();
        for _ in 0..runs.max(1) {
            take_sql();
            let req = DataRequest {
                from: None,
                to: None,
                now_ms,
                widget: Some(&id),
                cache: None,
                refresh: true,
            };
            let t = Instant::now();
            let data = dashboard_data_with(store, PROJECT, &dash, &req)
                .await
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let text = serde_json::to_string(&data).expect("json");
            assert!(!text.contains("\"error\":\""), "{id}: {text}");
        }
        if !sql_dir.is_empty() {
            for (j, text) in take_sql().iter().enumerate() {
                std::fs::write(format!("{sql_dir}/dash_{id}_{j}.sql"), text).expect("write sql");
            }
        }
        let m = median(times);
        total += m;
        eprintln!("{id:<24} median {m:>9.1} ms");
    }
    eprintln!("{:<24} sum    {total:>9.1} ms", "all widgets");
}

/// What people do after a page view: 4 steps named by page path (other events by name), the 20
/// most common paths.
fn paths_after_page_views() -> PathsQuery {
    let mut q = PathsQuery::new(EventMatch::named("page_view"), 4).range("2026-10-01", "2026-10-30");
    q.node = "properties.path".into();
    q
}
