//! Dashboard data: the example dashboard over the hand-made dataset. Every number is checked
//! against an oracle computed in Rust from the dataset itself, and against direct query-layer
//! calls. Runs on DuckDB, and on PostgreSQL / ClickHouse when their test URLs are set
//! (`eval "$(scripts/services.sh start)"`).

mod dashboard_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dashboard_support::{DAY, PROJECT, dataset, example_yaml, today_start};
use footfall_engine::dashboard::data::{DashboardData, WidgetResult, dashboard_data_at};
use footfall_engine::dashboard::parse_dashboards;
use footfall_engine::query::{
    EventMatch, EventsQuery, Filter, FunnelQuery, Metric, MetricKind, PathsQuery, QueryContext,
    get_conversion_funnel, get_paths, query_events,
};
use footfall_engine::store::{Store, WriteBatch};
use serde_json::{Value, json};
use store_support::{Backend, Kind};

/// The dataset as (person, event, ts, properties) for the oracle, bots excluded.
struct Oracle(Vec<(String, String, i64, Value)>);

impl Oracle {
    fn new(b: &WriteBatch) -> Oracle {
        let links: HashMap<&str, &str> = b
            .links
            .iter()
            .map(|l| (l.anonymous_id.as_str(), l.user_id.as_str()))
            .collect();
        Oracle(
            b.events
                .iter()
                .filter(|e| !e.is_bot)
                .map(|e| {
                    let anon = e.anonymous_id.clone().unwrap_or_default();
                    let person = e
                        .user_id
                        .clone()
                        .or_else(|| links.get(anon.as_str()).map(|u| u.to_string()))
                        .unwrap_or(anon);
                    (
                        person,
                        e.event.clone(),
                        e.ts,
                        serde_json::from_str(&e.properties).unwrap(),
                    )
                })
                .collect(),
        )
    }

    fn events(
        &self,
        from: i64,
        to: i64,
        event: Option<&str>,
    ) -> impl Iterator<Item = &(String, String, i64, Value)> {
        self.0
            .iter()
            .filter(move |(_, ev, ts, _)| *ts >= from && *ts < to && event.is_none_or(|e| e == ev))
    }

    fn persons(&self, from: i64, to: i64, event: Option<&str>) -> usize {
        self.events(from, to, event)
            .map(|e| &e.0)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

fn widget<'a>(data: &'a DashboardData, id: &str) -> &'a WidgetResult {
    let w = data
        .widgets
        .iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("no widget {id}"));
    assert!(w.error.is_none(), "widget {id} failed: {:?}", w.error);
    w.result.as_ref().unwrap()
}

fn number(r: &WidgetResult) -> (Option<f64>, Option<f64>, Option<f64>) {
    match r {
        WidgetResult::Number { value, trend, .. } => (
            *value,
            trend.as_ref().and_then(|t| t.previous),
            trend.as_ref().and_then(|t| t.change_pct),
        ),
        other => panic!("not a number: {other:?}"),
    }
}

fn table(r: &WidgetResult) -> (Vec<String>, Vec<Vec<Value>>) {
    match r {
        WidgetResult::Table { columns, rows } => {
            (columns.iter().map(|c| c.name.clone()).collect(), rows.clone())
        }
        other => panic!("not a table: {other:?}"),
    }
}

async fn check_example(store: &dyn Store, today: i64) {
    let batch = dataset(PROJECT, today);
    let o = Oracle::new(&batch);
    let now = today + 12 * 3_600_000;
    let tomorrow = today + DAY;
    let d = &parse_dashboards(&example_yaml()).unwrap()[0];
    let data = dashboard_data_at(store, PROJECT, d, None, None, now)
        .await
        .unwrap();
    assert_eq!(data.widgets.len(), d.widgets.len());

    // DAU of yesterday (fixed range) versus 7 days earlier.
    let (v, prev, pct) = number(widget(&data, "dau"));
    let (dau, dau_before) = (
        o.persons(today - DAY, today, None),
        o.persons(today - 8 * DAY, today - 7 * DAY, None),
    );
    assert!(dau > 0 && dau_before > 0, "dataset must make DAU non-trivial");
    assert_eq!((v, prev), (Some(dau as f64), Some(dau_before as f64)));
    let want_pct = (dau as f64 - dau_before as f64) / dau_before as f64 * 100.0;
    assert!((pct.unwrap() - want_pct).abs() < 1e-9);

    // Active users over the dashboard's range (30 days ago .. end of today); the previous period
    // holds no data.
    let from30 = today - 30 * DAY;
    let (v, prev, pct) = number(widget(&data, "active_users"));
    assert_eq!(v, Some(o.persons(from30, tomorrow, None) as f64));
    assert_eq!(v, Some(40.0));
    assert_eq!((prev, pct), (Some(0.0), None));

    // Revenue = sum of purchase amounts.
    let revenue: f64 = o
        .events(from30, tomorrow, Some("purchase"))
        .map(|e| e.3["amount"].as_f64().unwrap())
        .sum();
    assert!(revenue > 0.0);
    assert_eq!(number(widget(&data, "revenue")).0, Some(revenue));

    // Page views per day: every day of the range present, bots excluded.
    let (cols, rows) = table(widget(&data, "page_views_by_day"));
    assert_eq!(cols, ["day", "count"]);
    assert_eq!(rows.len(), 31, "one row per day of the range");
    for r in &rows {
        let day = chrono::NaiveDate::parse_from_str(r[0].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        assert_eq!(
            r[1].as_i64().unwrap() as usize,
            o.events(start, start + DAY, Some("page_view")).count(),
            "{r:?}"
        );
    }

    // Top events: count and people per event, count descending then event ascending.
    let (cols, rows) = table(widget(&data, "top_events"));
    assert_eq!(cols, ["event", "count", "people"]);
    let mut want: Vec<(String, usize, usize)> = o
        .events(from30, tomorrow, None)
        .map(|e| e.1.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|ev| {
            let n = o.events(from30, tomorrow, Some(&ev)).count();
            (ev.clone(), n, o.persons(from30, tomorrow, Some(&ev)))
        })
        .collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got: Vec<(String, usize, usize)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_i64().unwrap() as usize,
                r[2].as_i64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, want);

    // The funnel: 40 visitors, i % 5 decides how far each gets; anonymous steps count for the
    // person who signs up later (identity merge).
    match widget(&data, "signup_funnel") {
        WidgetResult::Funnel {
            steps,
            overall_conversion,
            ..
        } => {
            let persons: Vec<u64> = steps.iter().map(|s| s.persons).collect();
            assert_eq!(persons, [40, 32, 24, 16]);
            assert_eq!(steps[1].drop_off, 8);
            assert!((steps[3].conversion_from_previous - 16.0 / 24.0).abs() < 1e-3);
            assert!((overall_conversion - 0.4).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }

    // Purchases per currency and people per feature.
    let per = |event: &str, key: &str, distinct: bool| -> BTreeMap<String, usize> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut c: BTreeMap<String, usize> = BTreeMap::new();
        for (i, e) in o.events(from30, tomorrow, Some(event)).enumerate() {
            let k = e.3[key].as_str().unwrap().to_string();
            m.entry(k.clone())
                .or_default()
                .insert(if distinct { e.0.clone() } else { i.to_string() });
            *c.entry(k).or_default() += 1;
        }
        m.into_iter().map(|(k, s)| (k, s.len())).collect()
    };
    let as_map = |rows: Vec<Vec<Value>>| -> BTreeMap<String, usize> {
        rows.iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_string(),
                    r[1].as_i64().unwrap() as usize,
                )
            })
            .collect()
    };
    // Visitors per campaign source: the landing page views that carry a campaign.
    let links: HashMap<&str, &str> = batch
        .links
        .iter()
        .map(|l| (l.anonymous_id.as_str(), l.user_id.as_str()))
        .collect();
    let mut by_source: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in batch
        .events
        .iter()
        .filter(|e| !e.is_bot && e.event == "page_view")
    {
        let context: Value = serde_json::from_str(&e.context).unwrap();
        if let (Some(source), true) = (context["campaign"]["source"].as_str(), e.ts >= from30) {
            let anon = e.anonymous_id.as_deref().unwrap_or_default();
            let person = e.user_id.as_deref().or(links.get(anon).copied()).unwrap_or(anon);
            by_source.entry(source.into()).or_default().insert(person.into());
        }
    }
    let want: BTreeMap<String, usize> = by_source.into_iter().map(|(k, s)| (k, s.len())).collect();
    assert_eq!(want.len(), 2, "the dataset has two campaign sources: {want:?}");
    let (cols, rows) = table(widget(&data, "visits_by_campaign"));
    assert_eq!(cols, ["context.campaign.source", "visitors"]);
    assert_eq!(as_map(rows), want);

    // What visitors do after the pricing page: the widget is the query layer's paths.
    let mut pq = PathsQuery::new(
        EventMatch::with_filter("page_view", Filter::eq("properties.path", "/pricing")),
        4,
    );
    pq.node = "properties.path".into();
    pq.limit = 8;
    pq.from = Some("30_days_ago".into());
    pq.to = Some("today".into());
    let direct = get_paths(store, &QueryContext::at(PROJECT, now), &pq)
        .await
        .unwrap();
    let (cols, rows) = table(widget(&data, "after_pricing"));
    assert_eq!(cols, ["Step 1", "Step 2", "Step 3", "Step 4", "persons"]);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r[0] == "/pricing"),
        "{rows:?}"
    );
    let want: Vec<Vec<Value>> = direct
        .paths
        .iter()
        .map(|p| {
            let mut r: Vec<Value> = (0..4)
                .map(|k| p.steps.get(k).map_or(Value::Null, |s| json!(s)))
                .collect();
            r.push(json!(p.persons));
            r
        })
        .collect();
    assert_eq!(rows, want);
    // Everyone who saw pricing: a path per stage they dropped at (the dataset's i % 5).
    assert_eq!(
        rows.iter().map(|r| r[4].as_i64().unwrap()).sum::<i64>(),
        direct.persons
    );
    assert_eq!(
        direct.persons as usize,
        o.persons(from30, tomorrow, Some("page_view"))
    );
    // What leads to sign-up: the dataset's journey, the same for everyone who signed up
    // (pricing, the click, the form), ending with the sign-up; the `$identify` sent at the
    // sign-up's instant is not a step.
    let (cols, rows) = table(widget(&data, "before_sign_up"));
    assert_eq!(cols, ["Step 1", "Step 2", "Step 3", "Step 4", "persons"]);
    assert_eq!(
        rows,
        vec![vec![
            json!("/pricing"),
            json!("click"),
            json!("submit"),
            json!("sign_up"),
            json!(o.persons(from30, tomorrow, Some("sign_up")))
        ]]
    );

    let (_, rows) = table(widget(&data, "purchases_by_currency"));
    assert_eq!(as_map(rows), per("purchase", "currency", false));
    let (cols, rows) = table(widget(&data, "feature_adoption"));
    assert_eq!(cols, ["properties.feature_name", "count_distinct_person"]);
    let counts: Vec<i64> = rows.iter().map(|r| r[1].as_i64().unwrap()).collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "ordered by count DESC: {counts:?}"
    );
    assert_eq!(as_map(rows), per("feature_used", "feature_name", true));

    // The same numbers straight from the query layer.
    let ctx = QueryContext::at(PROJECT, now);
    let mut q = EventsQuery::new(
        &["event"],
        vec![Metric::count(), Metric::of(MetricKind::CountDistinct, "person")],
    );
    q.from = Some("30_days_ago".into());
    q.to = Some("today".into());
    q.order_by = vec!["count DESC".into()];
    q.limit = Some(10);
    let direct = query_events(store, &ctx, &q).await.unwrap();
    assert_eq!(direct.rows, table(widget(&data, "top_events")).1);
    let step =
        |ev: &str, k: &str, v: &str| EventMatch::with_filter(ev, Filter::eq(&format!("properties.{k}"), v));
    let mut f = FunnelQuery::new(vec![
        step("page_view", "path", "/pricing"),
        step("click", "element_id", "cta-signup"),
        step("submit", "form_name", "signup"),
        EventMatch::named("sign_up"),
    ]);
    f.window = 1;
    f.from = Some("30_days_ago".into());
    f.to = Some("today".into());
    let direct = get_conversion_funnel(store, &ctx, &f).await.unwrap();
    let direct_persons: Vec<i64> = direct.steps.iter().map(|s| s.persons).collect();
    assert_eq!(direct_persons, [40, 32, 24, 16]);

    // A requested range applies to every widget but the fixed DAU tile.
    let data7 = dashboard_data_at(store, PROJECT, d, Some("7_days_ago"), Some("today"), now)
        .await
        .unwrap();
    assert_eq!(number(widget(&data7, "dau")).0, Some(dau as f64));
    assert_eq!(
        number(widget(&data7, "active_users")).0,
        Some(o.persons(today - 7 * DAY, tomorrow, None) as f64)
    );
    assert_eq!(table(widget(&data7, "page_views_by_day")).1.len(), 8);
    assert!(data7.widgets.iter().find(|w| w.id == "dau").unwrap().fixed_range);

    // An invalid requested range is an error; an empty one gives zeros, not failures.
    assert!(
        dashboard_data_at(store, PROJECT, d, Some("someday"), None, now)
            .await
            .is_err()
    );
    let empty = dashboard_data_at(store, PROJECT, d, Some("2001-01-01"), Some("2001-01-02"), now)
        .await
        .unwrap();
    assert_eq!(number(widget(&empty, "active_users")).0, Some(0.0));
    match widget(&empty, "signup_funnel") {
        WidgetResult::Funnel { steps, .. } => assert!(steps.iter().all(|s| s.persons == 0)),
        other => panic!("{other:?}"),
    }
    // Serialized JSON has the documented shape.
    let v = serde_json::to_value(&data).unwrap();
    assert_eq!(v["widgets"][0]["result"]["kind"], json!("number"));
    assert_eq!(v["widgets"][0]["result"]["trend"]["period"], json!("7_days"));
    assert_eq!(v["dashboard"]["id"], json!("product-overview"));
}

async fn run_on(kind: Kind) {
    let Some(b) = Backend::start(kind, "dashboard_data").await else {
        return;
    };
    let today = today_start(chrono::Utc::now().timestamp_millis());
    dashboard_support::fill(b.store.as_ref(), today).await;
    check_example(b.store.as_ref(), today).await;
    b.cleanup().await;
}

#[tokio::test]
async fn example_dashboard_on_duckdb() {
    let (store, today) = dashboard_support::store_with_data().await;
    check_example(store.as_ref(), today).await;
}

#[tokio::test]
async fn example_dashboard_on_postgres() {
    run_on(Kind::Postgres).await;
}

#[tokio::test]
async fn example_dashboard_on_clickhouse() {
    run_on(Kind::ClickHouse).await;
}

#[tokio::test]
async fn failing_widget_reports_its_error_without_failing_the_dashboard() {
    let (store, today) = dashboard_support::store_with_data().await;
    let yaml = "dashboards:\n  - name: D\n    widgets:\n      - {type: metric, title: ok}\n      - {type: metric, title: bad, metrics: [{type: avg, field: properties.path}]}\n      - {type: table, title: many, dimensions: [event], limit: 20000}";
    let d = &parse_dashboards(yaml).unwrap()[0];
    let data = dashboard_data_at(store.as_ref(), PROJECT, d, None, None, today + 3_600_000)
        .await
        .unwrap();
    assert!(data.widgets[0].error.is_none());
    // avg over a text property is null, not an error (non-numbers never match).
    assert_eq!(number(data.widgets[1].result.as_ref().unwrap()).0, None);
    let e = data.widgets[2]
        .error
        .as_deref()
        .expect("limit beyond the query layer's maximum fails");
    assert!(e.contains("limit"), "{e}");
}

#[tokio::test]
async fn time_series_with_breakdown_uses_trends() {
    let (store, today) = dashboard_support::store_with_data().await;
    let now = today + 12 * 3_600_000;
    let yaml = "dashboards:\n  - name: D\n    widgets:\n      - {type: chart, title: by browser, filters: {event_type: page_view}, dimensions: [day, browser], limit: 2}";
    let d = &parse_dashboards(yaml).unwrap()[0];
    let data = dashboard_data_at(
        store.as_ref(),
        PROJECT,
        d,
        Some("7_days_ago"),
        Some("yesterday"),
        now,
    )
    .await
    .unwrap();
    let (cols, rows) = table(
        &data.widgets[0]
            .result
            .clone()
            .unwrap_or_else(|| panic!("{:?}", data.widgets[0].error)),
    );
    assert_eq!(cols, ["day", "browser", "count"]);
    // 7 days x (2 browsers + $other).
    assert_eq!(rows.len(), 21);
    let o = Oracle::new(&dataset(PROJECT, today));
    let total: i64 = rows.iter().map(|r| r[2].as_i64().unwrap()).sum();
    assert_eq!(
        total as usize,
        o.events(today - 7 * DAY, today, Some("page_view")).count()
    );
    assert!(rows.iter().any(|r| r[1] == json!("$other")));
}
