//! Person-level queries planned as per-person rollups (the identity join after a first
//! aggregation, see `query::rollup`): hand-computed cases where one person has several raw
//! identities (two linked anonymous ids and a user id), an empty user id, and person filters in
//! the scope, run on every backend (see query_support). The numbers would differ if events were
//! counted per raw identity instead of per person.

mod query_support;

use footfall_engine::query::{Query, run_query};
use query_support::*;
use serde_json::{Value, json};

/// Person u1: anonymous ids a1 and a1x (both linked to u1) and events carrying user id u1.
/// Person a2: anonymous only. Person a3: an empty user id (not a user id).
async fn load_data(store: &dyn footfall_engine::store::Store, p: &str) {
    let events = vec![
        ev("a1", "page_view", at(0, 9, 0, 0)),
        ev("a1x", "page_view", at(0, 10, 0, 0)),
        ev("a1y", "feature_used", at(0, 11, 0, 0))
            .user("u1")
            .props(json!({"feature_name": "export", "n": 3})),
        ev("a1y", "page_view", at(1, 9, 0, 0)).user("u1"),
        ev("a2", "page_view", at(0, 12, 0, 0)),
        ev("a2", "feature_used", at(1, 12, 0, 0)).props(json!({"feature_name": "export", "n": 7})),
        ev("a3", "click", at(0, 13, 0, 0)).user(""),
        ev("a1", "page_view", at(1, 14, 0, 0)).bot(),
    ];
    let links = vec![
        link("a1", "u1", at(0, 11, 0, 0)),
        link("a1x", "u1", at(0, 11, 0, 0)),
    ];
    load(store, p, events, links).await;
}

async fn run(store: &dyn footfall_engine::store::Store, p: &str, mut spec: Value) -> Value {
    spec["from"] = json!("2026-10-01");
    spec["to"] = json!("2026-10-02");
    let q: Query = serde_json::from_value(spec.clone()).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let r = run_query(store, &ctx(p), &q)
        .await
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    serde_json::to_value(r).unwrap()
}

fn series(r: &Value) -> Value {
    r["series"][0]["values"].clone()
}

#[tokio::test]
async fn person_rollups_merge_raw_identities() {
    for b in backends("rollup").await {
        let p = project("rollup");
        let s = &*b.store;
        load_data(s, &p).await;
        let n = b.name;

        let dau = run(s, &p, json!({"kind": "trends", "event": "*", "metric": "dau"})).await;
        assert_eq!(series(&dau), json!([3, 2]), "{n}: DAU");
        let wau = run(s, &p, json!({"kind": "trends", "event": "*", "metric": "wau"})).await;
        assert_eq!(series(&wau), json!([3, 3]), "{n}: WAU");
        let only_u1 = run(
            s,
            &p,
            json!({"kind": "trends", "event": "*", "metric": "dau",
                   "filters": {"field": "person", "op": "eq", "value": "u1"}}),
        )
        .await;
        assert_eq!(series(&only_u1), json!([1, 1]), "{n}: DAU of u1");
        // A filter mixing person and event columns cannot be applied after the rollup.
        let mixed = run(
            s,
            &p,
            json!({"kind": "trends", "event": "*", "metric": "dau",
                   "filters": {"or": [{"field": "person", "op": "eq", "value": "u1"},
                                      {"field": "event", "op": "eq", "value": "click"}]}}),
        )
        .await;
        assert_eq!(series(&mixed), json!([2, 1]), "{n}: DAU of u1 or clickers");
        let distinct = run(
            s,
            &p,
            json!({"kind": "trends", "event": "page_view",
                   "metric": {"type": "count_distinct", "field": "person"}}),
        )
        .await;
        assert_eq!(series(&distinct), json!([2, 1]), "{n}: page_view persons per day");

        let by_event = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["event"], "order_by": ["event ASC"],
                   "metrics": [{"type": "count_distinct", "field": "person"}, "count",
                               {"type": "max", "field": "properties.n"}, {"type": "min", "field": "properties.n"}]}),
        )
        .await;
        assert_eq!(
            by_event["rows"],
            json!([
                ["click", 1, 1, null, null],
                ["feature_used", 2, 2, 7.0, 3.0],
                ["page_view", 2, 4, null, null]
            ]),
            "{n}: events by event"
        );
        let u1_events = run(
            s,
            &p,
            json!({"kind": "events", "dimensions": ["day"], "metrics": ["count", {"type": "count_distinct"}],
                   "filters": {"field": "person", "op": "in", "value": ["u1", "a3"]}}),
        )
        .await;
        assert_eq!(
            u1_events["rows"],
            json!([["2026-10-01", 4, 2], ["2026-10-02", 1, 1]]),
            "{n}: events of u1 and a3 per day"
        );

        let adoption = run(s, &p, json!({"kind": "feature_adoption", "feature": "export"})).await;
        assert_eq!(
            (
                &adoption["users"],
                &adoption["active_persons"],
                &adoption["usage_count"]
            ),
            (&json!(2), &json!(3), &json!(2)),
            "{n}: adoption"
        );
        let daily: Vec<(Value, Value, Value)> = adoption["daily"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["users"].clone(),
                    d["active_persons"].clone(),
                    d["usage_count"].clone(),
                )
            })
            .collect();
        assert_eq!(
            daily,
            vec![(json!(1), json!(3), json!(1)), (json!(1), json!(2), json!(1))],
            "{n}: adoption per day"
        );

        for (mode, day1) in [("recurring", 1), ("first_time", 0)] {
            let ret = run(
                s,
                &p,
                json!({"kind": "retention", "start_event": "page_view", "period": "day", "periods": 2,
                       "mode": mode}),
            )
            .await;
            let table: Vec<Value> = ret["cohorts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["values"].clone())
                .collect();
            assert_eq!(
                table,
                vec![json!([2, 2]), json!([day1, null])],
                "{n}: {mode} retention"
            );
        }
    }
}

/// Persons resolved through the integer identity keys (see `store::rid_key`) are exactly the
/// persons of the id strings: pre-login anonymous activity counts for the user who signs in, a
/// user id spelled like a linked anonymous id stays its own person (user rows never look up a
/// link), and an unlinked anonymous id spelled like a user id is that user's person (the
/// person is an id, whichever column it came from). Every answer is also checked against the
/// plans by id strings (`text_persons`).
#[tokio::test]
async fn identity_keys_resolve_persons_like_ids() {
    for b in backends("idkeys").await {
        let p = project("idkeys");
        let s = &*b.store;
        let n = b.name;
        let events = vec![
            ev("anon-1", "page_view", at(0, 9, 0, 0)),
            ev("anon-1", "sign_up", at(0, 10, 0, 0)).user("u1"),
            ev("z", "page_view", at(0, 11, 0, 0)).user("anon-2"),
            ev("anon-2", "page_view", at(0, 12, 0, 0)),
            ev("u3", "page_view", at(1, 9, 0, 0)),
            ev("other", "click", at(1, 10, 0, 0)).user("u3"),
        ];
        let links = vec![
            link("anon-1", "u1", at(0, 10, 0, 0)),
            link("anon-2", "u2", at(0, 12, 0, 0)),
        ];
        load(s, &p, events, links).await;
        let both = |spec: Value| {
            let p = p.clone();
            async move {
                let mut spec = spec;
                spec["from"] = json!("2026-10-01");
                spec["to"] = json!("2026-10-02");
                let q: Query = serde_json::from_value(spec.clone()).unwrap();
                let keyed = serde_json::to_value(run_query(s, &ctx(&p), &q).await.unwrap()).unwrap();
                let text_ctx = footfall_engine::query::QueryContext {
                    text_persons: true,
                    ..ctx(&p)
                };
                let text = serde_json::to_value(run_query(s, &text_ctx, &q).await.unwrap()).unwrap();
                assert_eq!(keyed, text, "{n}: {spec} keyed vs by id strings");
                keyed
            }
        };
        // Day 0: u1 (with its anonymous page view), the user "anon-2", u2 (anonymous "anon-2"
        // linked to it); day 1: "u3" through its anonymous id and its user id.
        let dau = both(json!({"kind": "trends", "event": "*", "metric": "dau"})).await;
        assert_eq!(series(&dau), json!([3, 1]), "{n}: DAU");
        let funnel =
            both(json!({"kind": "funnel", "steps": ["page_view", "sign_up"], "include_persons": 10})).await;
        let persons: Vec<&Value> = funnel["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["persons"])
            .collect();
        assert_eq!(persons, vec![&json!(4), &json!(1)], "{n}: funnel {funnel}");
        assert_eq!(
            funnel["steps"][0]["person_ids"],
            json!(["anon-2", "u1", "u2", "u3"]),
            "{n}: funnel persons"
        );
        assert_eq!(funnel["steps"][1]["person_ids"], json!(["u1"]), "{n}");
        let by_event = both(
            json!({"kind": "events", "dimensions": ["event"], "order_by": ["event ASC"],
            "metrics": [{"type": "count_distinct", "field": "person"}]}),
        )
        .await;
        assert_eq!(
            by_event["rows"],
            json!([["click", 1], ["page_view", 4], ["sign_up", 1]]),
            "{n}: persons by event"
        );
        let ret =
            both(json!({"kind": "retention", "start_event": "page_view", "period": "day", "periods": 2}))
                .await;
        assert_eq!(ret["cohorts"][0]["values"], json!([3, 0]), "{n}: retention");
        for (person, total) in [("u1", 2), ("u3", 2), ("anon-2", 1), ("u2", 1), ("anon-1", 0)] {
            let m = both(json!({"kind": "user_metrics", "person": person})).await;
            assert_eq!(m["total_events"], json!(total), "{n}: user metrics of {person}");
        }
    }
}
