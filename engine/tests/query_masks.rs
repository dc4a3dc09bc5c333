//! Person rollups with bucket masks (`query::mask`): DAU/WAU/MAU, feature adoption and
//! recurring retention keep one row per person with the active buckets as bits. Hand-computed
//! cases over a 75-day range (two 62-bucket chunks, and the join plans that long rolling windows
//! and daily retention fall back to), then a cross-check on generated data against independent
//! plans (events queries per day and per person-week), on every backend.

mod query_support;

use std::collections::{BTreeMap, BTreeSet};

use footfall_engine::generate::{GenConfig, seed_store};
use footfall_engine::query::{Query, run_query};
use footfall_engine::store::Store;
use query_support::*;
use serde_json::{Value, json};

/// u1 (anonymous a1, linked, and user id u1 via a1y): days 0, 63, 64 (export), 70 (twice);
/// a2 (unlinked): days 63 (export), 65 (import); a3: day 74; a5: day 60; a bot on day 63.
async fn load_data(store: &dyn Store, p: &str) {
    let export = json!({"feature_name": "export"});
    let events = vec![
        ev("a1", "page_view", at(0, 9, 0, 0)),
        ev("a5", "page_view", at(60, 9, 0, 0)),
        ev("a1y", "page_view", at(63, 10, 0, 0)).user("u1"),
        ev("a1y", "feature_used", at(64, 10, 0, 0))
            .user("u1")
            .props(export.clone()),
        ev("a1", "page_view", at(70, 9, 0, 0)),
        ev("a1y", "page_view", at(70, 10, 0, 0)).user("u1"),
        ev("a2", "page_view", at(63, 12, 0, 0)),
        ev("a2", "feature_used", at(63, 13, 0, 0)).props(export),
        ev("a2", "feature_used", at(65, 13, 0, 0)).props(json!({"feature_name": "import"})),
        ev("a3", "page_view", at(74, 23, 0, 0)),
        ev("a4", "page_view", at(63, 9, 0, 0)).bot(),
    ];
    // Browsers: a2 Firefox, a3 none, everyone else Chrome.
    let events = events
        .into_iter()
        .map(|mut e| {
            match e.anonymous_id.as_deref() {
                Some("a2") => e.browser = Some("Firefox".into()),
                Some("a3") => e.browser = None,
                _ => {}
            }
            e
        })
        .collect();
    load(store, p, events, vec![link("a1", "u1", at(0, 11, 0, 0))]).await;
}

async fn run(store: &dyn Store, p: &str, mut spec: Value, from: &str, to: &str) -> Value {
    spec["from"] = json!(from);
    spec["to"] = json!(to);
    let q: Query = serde_json::from_value(spec.clone()).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let r = run_query(store, &ctx(p), &q)
        .await
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    serde_json::to_value(r).unwrap()
}

/// `len` values, `nonzero` set at their day index, 0 elsewhere.
fn days(len: usize, nonzero: &[(usize, i64)]) -> Value {
    let mut v = vec![0; len];
    for &(i, n) in nonzero {
        v[i] = n;
    }
    json!(v)
}

/// 1 on the days of each `(from, to)` inclusive span (added up), 0 elsewhere.
fn spans(len: usize, spans: &[(usize, usize)]) -> Value {
    let mut v = vec![0; len];
    for &(a, b) in spans {
        for x in &mut v[a..=b] {
            *x += 1;
        }
    }
    json!(v)
}

#[tokio::test]
async fn masks_over_two_chunks_and_fallbacks_hand_computed() {
    for b in backends("masks").await {
        let p = project("masks");
        let s = &*b.store;
        let n = b.name;
        load_data(s, &p).await;
        let (from, to) = ("2026-10-01", "2026-12-14");

        let dau = run(s, &p, json!({"kind": "trends", "metric": "dau"}), from, to).await;
        let dau_days = days(
            75,
            &[(0, 1), (60, 1), (63, 2), (64, 1), (65, 1), (70, 1), (74, 1)],
        );
        assert_eq!(dau["series"][0]["values"], dau_days, "{n}: DAU over two chunks");

        // Filters on `person`: alone (applied after the merge), or mixed with an event column
        // (every event resolved first, then the masks).
        let u1 = json!({"field": "person", "op": "eq", "value": "u1"});
        let dau_u1 = run(
            s,
            &p,
            json!({"kind": "trends", "metric": "dau", "filters": u1}),
            from,
            to,
        )
        .await;
        assert_eq!(
            dau_u1["series"][0]["values"],
            days(75, &[(0, 1), (63, 1), (64, 1), (70, 1)]),
            "{n}: DAU of u1"
        );
        let mixed = json!({"or": [u1, {"field": "event", "op": "eq", "value": "feature_used"}]});
        let dau_mixed = run(
            s,
            &p,
            json!({"kind": "trends", "metric": "dau", "filters": mixed}),
            from,
            to,
        )
        .await;
        assert_eq!(
            dau_mixed["series"][0]["values"],
            days(75, &[(0, 1), (63, 2), (64, 1), (65, 1), (70, 1)]),
            "{n}: DAU of u1 or feature users"
        );

        // 81 days with the look-back: longer than one mask, the (person, day) plan.
        let wau = run(s, &p, json!({"kind": "trends", "metric": "wau"}), from, to).await;
        let wau_long = spans(75, &[(0, 6), (60, 66), (63, 74), (63, 71), (74, 74)]);
        assert_eq!(wau["series"][0]["values"], wau_long, "{n}: WAU (join plan)");
        // 12 days + 6 of look-back: one mask, the window as shifted masks (a5's day 60 counts).
        let wau = run(
            s,
            &p,
            json!({"kind": "trends", "metric": "wau"}),
            "2026-12-03",
            to,
        )
        .await;
        assert_eq!(
            wau["series"][0]["values"],
            json!([3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 2]),
            "{n}: WAU (masks)"
        );
        let mau = run(
            s,
            &p,
            json!({"kind": "trends", "metric": "mau"}),
            "2026-12-03",
            to,
        )
        .await;
        assert_eq!(
            mau["series"][0]["values"],
            json!([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4]),
            "{n}: MAU (masks)"
        );

        let ad = run(
            s,
            &p,
            json!({"kind": "feature_adoption", "feature": "export"}),
            from,
            to,
        )
        .await;
        assert_eq!(
            (&ad["users"], &ad["active_persons"], &ad["usage_count"]),
            (&json!(2), &json!(4), &json!(2)),
            "{n}: adoption over two chunks"
        );
        let daily = |k: &str| {
            Value::from(
                ad["daily"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d[k].clone())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(daily("active_persons"), dau_days, "{n}: adoption active per day");
        assert_eq!(
            daily("users"),
            days(75, &[(63, 1), (64, 1)]),
            "{n}: adoption users per day"
        );
        assert_eq!(
            daily("usage_count"),
            days(75, &[(63, 1), (64, 1)]),
            "{n}: adoption uses per day"
        );
        assert_eq!(
            ad["daily"][63]["adoption_rate"],
            json!(0.5),
            "{n}: adoption rate day 63"
        );

        // Events and people per event name / browser: one person mask over the values.
        let top = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"], "order_by": ["count DESC"],
                   "metrics": ["count", {"type": "count_distinct", "field": "person", "as": "people"}]}),
            from,
            to,
        )
        .await;
        assert_eq!(
            top["rows"],
            json!([["page_view", 7, 4], ["feature_used", 3, 2]]),
            "{n}: top events"
        );
        let browsers = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["browser"],
                   "metrics": [{"type": "count_distinct", "field": "person"}, "count"]}),
            from,
            to,
        )
        .await;
        assert_eq!(
            browsers["rows"],
            json!([["Chrome", 2, 6], ["Firefox", 1, 3], [null, 1, 1]]),
            "{n}: people per browser"
        );
        let one_day = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"], "metrics": ["count", {"type": "count_distinct"}]}),
            "2026-12-04",
            "2026-12-04",
        )
        .await;
        assert_eq!(one_day["rows"], json!([["feature_used", 1, 1]]), "{n}: one day");
        let empty = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"], "metrics": ["count", {"type": "count_distinct"}]}),
            "2026-11-01",
            "2026-11-02",
        )
        .await;
        assert_eq!(empty["rows"], json!([]), "{n}: no events");

        let cohorts = |r: &Value| -> Vec<Value> {
            r["cohorts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["values"].clone())
                .collect()
        };
        // Weekly (12 cohorts, masks): page_view weeks u1 {0, 9, 10}, a2 {9}, a5 {9}, a3 {11}.
        let weekly = run(
            s,
            &p,
            json!({"kind": "retention", "start_event": "page_view", "period": "week", "periods": 3}),
            from,
            to,
        )
        .await;
        let mut expect = vec![json!([0, 0, 0]); 12];
        expect[0] = json!([1, 0, 0]);
        expect[9] = json!([3, 1, 0]);
        expect[10] = json!([1, 0, null]);
        expect[11] = json!([1, null, null]);
        assert_eq!(cohorts(&weekly), expect, "{n}: weekly retention (masks)");
        assert_eq!(weekly["average"], json!([1.0, 0.2, 0.0]), "{n}: weekly average");
        let weekly_u1 = run(
            s,
            &p,
            json!({"kind": "retention", "start_event": "page_view", "period": "week", "periods": 3,
                   "filters": {"field": "person", "op": "eq", "value": "u1"}}),
            from,
            to,
        )
        .await;
        let mut expect = vec![json!([0, 0, 0]); 12];
        expect[0] = json!([1, 0, 0]);
        expect[9] = json!([1, 1, 0]);
        expect[10] = json!([1, 0, null]);
        expect[11] = json!([0, null, null]);
        assert_eq!(cohorts(&weekly_u1), expect, "{n}: weekly retention of u1");
        // Daily (75 cohorts, more than one mask holds): the join plan, same definitions.
        let daily_ret = run(
            s,
            &p,
            json!({"kind": "retention", "start_event": "page_view", "period": "day", "periods": 3}),
            from,
            to,
        )
        .await;
        let mut expect = vec![json!([0, 0, 0]); 75];
        expect[0] = json!([1, 0, 0]);
        expect[60] = json!([1, 0, 0]);
        expect[63] = json!([2, 1, 1]);
        expect[70] = json!([1, 0, 0]);
        expect[73] = json!([0, 0, null]);
        expect[74] = json!([1, null, null]);
        assert_eq!(cohorts(&daily_ret), expect, "{n}: daily retention (join plan)");
    }
}

/// Rows of an events query as (first column, second column, count) strings/ints.
async fn event_rows(store: &dyn Store, p: &str, spec: Value) -> Vec<Vec<Value>> {
    let r = run(store, p, spec, "2026-10-01", "2026-10-30").await;
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn masks_agree_with_independent_plans_on_generated_data() {
    for b in backends("masks-gen").await {
        let p = project("masks-gen");
        let s = &*b.store;
        let n = b.name;
        seed_store(s, GenConfig::new(&p, 20_000)).await.unwrap();
        let (from, to) = ("2026-10-01", "2026-10-30");

        // DAU = distinct persons per day (the events query's rollup keyed by day).
        let dau = run(s, &p, json!({"kind": "trends", "metric": "dau"}), from, to).await;
        let per_day = event_rows(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["day"], "metrics": [{"type": "count_distinct"}], "limit": 100}),
        )
        .await;
        let expect: Vec<Value> = per_day.iter().map(|r| r[1].clone()).collect();
        assert_eq!(per_day.len(), 30, "{n}: every day has events");
        assert_eq!(
            dau["series"][0]["values"],
            json!(expect),
            "{n}: DAU vs events query"
        );

        // Adoption per day = distinct persons / events of the feature per day.
        let ad = run(
            s,
            &p,
            json!({"kind": "feature_adoption", "feature": "export"}),
            from,
            to,
        )
        .await;
        let uses = event_rows(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["day"], "limit": 100,
                   "metrics": [{"type": "count_distinct"}, "count"],
                   "filters": {"and": [{"field": "event", "op": "eq", "value": "feature_used"},
                                       {"field": "properties.feature_name", "op": "eq", "value": "export"}]}}),
        )
        .await;
        let by_label: BTreeMap<String, (Value, Value)> = uses
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), (r[1].clone(), r[2].clone())))
            .collect();
        assert!(!by_label.is_empty(), "{n}: the data set uses the feature");
        for (i, d) in ad["daily"].as_array().unwrap().iter().enumerate() {
            let label = d["date"].as_str().unwrap();
            let (users, count) = by_label.get(label).cloned().unwrap_or((json!(0), json!(0)));
            assert_eq!(
                (&d["users"], &d["usage_count"]),
                (&users, &count),
                "{n}: adoption {label}"
            );
            assert_eq!(d["active_persons"], expect[i], "{n}: adoption active {label}");
        }

        // Events and people per event: the mask plan and the per-(person, event) rollup (which a
        // `min` metric selects) agree.
        let masked = event_rows(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"], "metrics": ["count", {"type": "count_distinct"}]}),
        )
        .await;
        let rolled = event_rows(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"],
                   "metrics": ["count", {"type": "count_distinct"}, {"type": "min", "field": "properties.amount"}]}),
        )
        .await;
        assert!(masked.len() > 3, "{n}: {masked:?}");
        let rolled: Vec<Vec<Value>> = rolled.into_iter().map(|r| r[..3].to_vec()).collect();
        assert_eq!(masked, rolled, "{n}: people per event, two plans");

        // Recurring weekly retention from the (person, week) pairs of start and return events.
        let pairs = |filters: Value| {
            let mut spec = json!({"kind": "events", "dimensions": ["person", "week"], "limit": 10000});
            if !filters.is_null() {
                spec["filters"] = filters;
            }
            event_rows(s, &p, spec)
        };
        let starts = pairs(json!({"field": "event", "op": "eq", "value": "page_view"})).await;
        let returns = pairs(Value::Null).await;
        assert!(returns.len() < 10000, "{n}: every pair listed");
        let set = |rows: &[Vec<Value>]| -> BTreeSet<(String, String)> {
            rows.iter()
                .filter(|r| !r[0].is_null())
                .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
                .collect()
        };
        let (starts, returns) = (set(&starts), set(&returns));
        let ret = run(
            s,
            &p,
            json!({"kind": "retention", "start_event": "page_view", "period": "week", "periods": 5}),
            from,
            to,
        )
        .await;
        let weeks: Vec<String> = ret["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["period"].as_str().unwrap().to_string())
            .collect();
        for (ci, c) in ret["cohorts"].as_array().unwrap().iter().enumerate() {
            let cohort: Vec<&String> = starts
                .iter()
                .filter(|(_, w)| *w == weeks[ci])
                .map(|(p, _)| p)
                .collect();
            assert_eq!(c["persons"], json!(cohort.len()), "{n}: cohort {}", weeks[ci]);
            for k in 1..5 {
                let cell = &c["values"][k];
                match weeks.get(ci + k) {
                    None => assert!(cell.is_null(), "{n}: unobservable cell"),
                    Some(w) => {
                        let back = cohort
                            .iter()
                            .filter(|p| returns.contains(&((**p).clone(), w.clone())))
                            .count();
                        assert_eq!(cell, &json!(back), "{n}: cohort {} k={k}", weeks[ci]);
                    }
                }
            }
        }
        assert!(
            ret["cohorts"][0]["values"][1].as_i64().unwrap() > 0,
            "{n}: not vacuous"
        );
    }
}
