//! Differential tests: one generated data set (20,000 events) loaded into every configured
//! backend; every query kind must give byte-identical JSON results everywhere. On ClickHouse the
//! funnel is also checked person by person against the built-in `windowFunnel`, and retention
//! against the built-in `retention`.
//!
//! Known semantic differences of the built-ins, avoided by the comparison: `windowFunnel` lets
//! events with equal timestamps advance a chain (ours needs strictly increasing times), so
//! persons with two step events at the same millisecond are left out of that comparison; 18.16's
//! `windowFunnel` takes UInt32 times (and returns 0 for times of 2^31 or more), so times are
//! passed as ms since the range start over a 24-day range (< 2^31 ms).

mod query_support;

use footfall_engine::generate::{GenConfig, seed_store};
use footfall_engine::query::funnel::{FunnelQuery, explain_funnel};
use footfall_engine::query::*;
use footfall_engine::store::{Dialect, Store, identities_relation};
use query_support::*;
use serde_json::{Value, json};

fn specs() -> Vec<Value> {
    let range = |mut v: Value| {
        v["from"] = json!("2026-10-01");
        v["to"] = json!("2026-10-30");
        v
    };
    let pricing = json!({"event": "page_view", "filters": {"field": "properties.path", "op": "eq", "value": "/pricing"}});
    let cta = json!({"event": "click", "filters": {"field": "properties.element_id", "op": "eq", "value": "cta-signup"}});
    vec![
        range(
            json!({"kind": "events", "dimensions": ["event"], "metrics": ["count",
            {"type": "count_distinct", "field": "person"}, {"type": "sum", "field": "properties.amount"},
            {"type": "avg", "field": "properties.amount"}, {"type": "median", "field": "properties.amount"},
            {"type": "p95", "field": "properties.amount"}, {"type": "min", "field": "properties.amount"}]}),
        ),
        range(
            json!({"kind": "events", "dimensions": ["day", "browser"], "metrics": ["count"], "limit": 40,
            "filters": {"or": [{"field": "os", "op": "in", "value": ["iOS", "Android"]},
                               {"not": {"field": "properties.referrer", "op": "contains", "value": "google"}}]}}),
        ),
        range(
            json!({"kind": "events", "dimensions": ["properties.feature_name", "week"], "metrics": ["count"],
            "filters": {"field": "event", "op": "eq", "value": "feature_used"}, "order_by": ["count DESC"]}),
        ),
        range(json!({"kind": "trends", "event": "page_view", "breakdown": "browser", "breakdown_limit": 2})),
        range(json!({"kind": "trends", "event": "*", "metric": "dau"})),
        range(json!({"kind": "trends", "event": "*", "metric": "wau"})),
        range(json!({"kind": "trends", "event": "feature_used", "metric": "mau"})),
        range(
            json!({"kind": "trends", "event": "purchase", "metric": {"type": "p90", "field": "properties.amount"},
            "interval": "week", "time_zone": "America/New_York"}),
        ),
        range(
            json!({"kind": "funnel", "steps": [pricing, cta, "sign_up", "purchase"], "window": 14,
            "breakdown": "browser", "include_persons": 5}),
        ),
        range(
            json!({"kind": "funnel", "steps": [pricing, cta, {"event": "page_view", "filters":
            {"field": "properties.path", "op": "eq", "value": "/signup"}}], "mode": "strict", "window": 1, "window_unit": "hour"}),
        ),
        range(json!({"kind": "funnel", "steps": [
            {"event": "feature_used", "filters": {"field": "properties.feature_name", "op": "eq", "value": "dashboards"}},
            {"event": "feature_used", "filters": {"field": "properties.feature_name", "op": "eq", "value": "export"}},
            "purchase"], "mode": "any_order", "window": 1})),
        range(
            json!({"kind": "funnel", "steps": ["sign_up", "feature_used", "purchase"], "window": 7,
            "exclusions": [{"event": "error", "from_step": 2, "to_step": 3}]}),
        ),
        range(
            json!({"kind": "funnel", "steps": ["page_view", "page_view", "page_view"], "window": 10, "window_unit": "minute"}),
        ),
        range(json!({"kind": "retention", "start_event": "sign_up", "period": "day", "periods": 7})),
        range(
            json!({"kind": "retention", "start_event": "page_view", "return_event": "feature_used",
            "period": "week", "periods": 4, "mode": "first_time"}),
        ),
        range(json!({"kind": "user_metrics", "person": "user-2a-1"})),
        range(json!({"kind": "user_metrics", "person": "user-2a-3"})),
        range(json!({"kind": "feature_adoption", "feature": "export"})),
        range(
            json!({"kind": "feature_adoption", "feature": "sso", "filters": {"field": "browser", "op": "neq", "value": "Safari"}}),
        ),
        range(
            json!({"kind": "segment", "limit": 20, "criteria": {"and": [{"did": {"event": "purchase"}},
            {"trait": {"field": "plan", "op": "eq", "value": "pro"}}]}}),
        ),
        range(
            json!({"kind": "segment", "limit": 20, "offset": 5, "criteria": {"or": [
            {"did": {"event": "feature_used", "min_count": 10}}, {"not": {"did": {"event": "page_view", "max_count": 3}}}]}}),
        ),
        range(json!({"kind": "lifecycle", "event": "*", "interval": "day"})),
        range(json!({"kind": "lifecycle", "event": "sign_in", "interval": "week"})),
        range(json!({"kind": "stickiness", "event": "feature_used", "interval": "week"})),
        range(
            json!({"kind": "paths", "start": "page_view", "steps": 5, "node": "properties.path", "limit": 30}),
        ),
        range(json!({"kind": "paths", "start": "*", "steps": 3, "collapse_repeats": false, "limit": 50})),
        range(
            json!({"kind": "paths", "end": "purchase", "steps": 4, "node": "properties.path", "limit": 30}),
        ),
        range(
            json!({"kind": "events", "metrics": ["count"], "segment": {"criteria": {"did": {"event": "purchase", "min_count": 2}}}}),
        ),
    ]
}

async fn run_all(store: &dyn Store, ctx: &QueryContext) -> Vec<Value> {
    let mut out = Vec::new();
    for spec in specs() {
        let q: Query = serde_json::from_value(spec.clone()).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let r = run_query(store, ctx, &q)
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        out.push(serde_json::to_value(r).unwrap());
    }
    out
}

#[tokio::test]
async fn every_query_kind_agrees_across_backends() {
    let mut results: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut clickhouse = None;
    for b in backends("differential").await {
        let p = project("diff");
        let report = seed_store(&*b.store, GenConfig::new(&p, 20_000)).await.unwrap();
        assert_eq!(report.events, 20_000);
        assert!(report.duplicates > 0 && report.links > 0, "{report:?}");
        let keyed = run_all(&*b.store, &ctx(&p)).await;
        // Persons grouped and joined by their integer identity keys give exactly the answers of
        // the plans by id strings (on this data: no key collides).
        let text = QueryContext {
            text_persons: true,
            ..ctx(&p)
        };
        let by_text = run_all(&*b.store, &text).await;
        for (i, (a, t)) in keyed.iter().zip(&by_text).enumerate() {
            assert_eq!(
                a,
                t,
                "{}: query #{i} ({}) differs keyed vs by id strings",
                b.name,
                specs()[i]
            );
        }
        results.push((b.name, keyed));
        if b.name == "clickhouse" {
            clickhouse = Some((b, p));
        }
    }
    let (first, base) = &results[0];
    // The data set exercises every query kind (no vacuous agreement).
    assert!(
        base[8]["steps"][3]["persons"].as_i64().unwrap() > 0,
        "{}",
        base[8]
    );
    assert!(
        base[13]["cohorts"][0]["values"][1].as_i64().unwrap() > 0,
        "{}",
        base[13]
    );
    assert!(base[19]["count"].as_i64().unwrap() > 0, "{}", base[19]);
    assert!(
        base[26]["paths"][0]["steps"]
            .as_array()
            .is_some_and(|s| s.len() > 1),
        "{}",
        base[26]
    );
    assert!(
        base[24]["paths"][0]["steps"]
            .as_array()
            .is_some_and(|s| s.len() > 1)
            && base[25]["persons"].as_i64() > Some(0),
        "{} {}",
        base[24],
        base[25]
    );
    for (name, other) in &results[1..] {
        for (i, (a, b)) in base.iter().zip(other).enumerate() {
            assert_eq!(
                a,
                b,
                "query #{i} ({}) differs between {first} and {name}",
                specs()[i]
            );
        }
    }
    if let Some((b, p)) = clickhouse {
        windowfunnel_agrees(&*b.store, &p).await;
        retention_builtin_agrees(&*b.store, &p, &results[0].1[13]).await;
    }
}

async fn windowfunnel_agrees(store: &dyn Store, project: &str) {
    let from = D0;
    let q = FunnelQuery::new(vec![
        EventMatch::named("page_view"),
        EventMatch::named("sign_up"),
        EventMatch::named("feature_used"),
        EventMatch::named("purchase"),
    ])
    .range("2026-10-01", "2026-10-24");
    let ours = explain_funnel(store, &ctx(project), &q).await.unwrap();
    let w = q.window_ms();
    let conds = "event = 'page_view', event = 'sign_up', event = 'feature_used', event = 'purchase'";
    let sql = format!(
        "SELECT count() AS persons, sum(lvl = wf) AS same, sum(wf >= 1) AS entered, sum(wf = 4) AS converted FROM \
         (SELECT person, windowFunnel({w})(toUInt32(ts - {from}), {conds}) AS wf FROM \
           (SELECT coalesce(nullIf(e.user_id, ''), nullIf(i.user_id, ''), e.anonymous_id) AS person, e.ts AS ts, e.event AS event \
            FROM (SELECT * FROM events FINAL WHERE project_id = '{project}' AND is_bot = 0 AND ts >= {from} AND ts < {}) AS e \
            ANY LEFT JOIN (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE project_id = '{project}') AS i USING anonymous_id \
            WHERE event IN ('page_view', 'sign_up', 'feature_used', 'purchase')) \
          GROUP BY person HAVING count() = uniqExact(ts)) ANY INNER JOIN {ours} USING person",
        from + 24 * DAY,
        ids = identities_relation(Dialect::ClickHouse),
    );
    let r = store.query(&sql).await.unwrap();
    let row = &r.rows[0];
    let n = |i: usize| {
        row[i]
            .as_i64()
            .or_else(|| row[i].as_str().and_then(|s| s.parse().ok()))
            .unwrap()
    };
    assert!(n(0) > 100 && n(3) > 0, "too few persons to compare: {row:?}");
    assert_eq!(
        n(0),
        n(1),
        "windowFunnel and our funnel disagree on some persons: {row:?}"
    );
}

async fn retention_builtin_agrees(store: &dyn Store, project: &str, ours: &Value) {
    for c in 0..3i64 {
        let day = |k: i64| format!("intDiv(ts, 86400000) = {}", D0 / DAY + c + k);
        let mut conds = vec![format!("{} AND event = 'sign_up'", day(0))];
        conds.extend((1..7).map(day));
        let sql = format!(
            "SELECT sumForEach(r) FROM (SELECT person, retention({}) AS r FROM \
             (SELECT coalesce(nullIf(e.user_id, ''), nullIf(i.user_id, ''), e.anonymous_id) AS person, e.ts AS ts, e.event AS event \
              FROM (SELECT * FROM events FINAL WHERE project_id = '{project}' AND is_bot = 0) AS e \
              ANY LEFT JOIN (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE project_id = '{project}') AS i USING anonymous_id) \
             GROUP BY person)",
            conds.join(", "),
            ids = identities_relation(Dialect::ClickHouse),
        );
        let r = store.query(&sql).await.unwrap();
        let builtin: Vec<i64> = r.rows[0][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .unwrap()
            })
            .collect();
        let mine: Vec<i64> = ours["cohorts"][c as usize]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(builtin, mine, "cohort {c}: ClickHouse retention() vs ours");
    }
}
