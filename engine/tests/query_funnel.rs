//! Funnels: hand-computed cases, run on every backend (see query_support).

mod query_support;

use footfall_engine::query::funnel::{Exclusion, FunnelMode, FunnelQuery, FunnelResult, WindowUnit};
use footfall_engine::query::{EventMatch, get_conversion_funnel};
use footfall_engine::store::Store;
use query_support::*;
use serde_json::{Value, json};

fn funnel(steps: &[&str], window: u64, unit: WindowUnit) -> FunnelQuery {
    let mut q = FunnelQuery::new(steps.iter().map(|s| EventMatch::named(s)).collect());
    q.window = window;
    q.window_unit = unit;
    q.range("2026-10-01", "2026-10-30")
}

async fn run(store: &dyn Store, project: &str, q: &FunnelQuery) -> FunnelResult {
    get_conversion_funnel(store, &ctx(project), q)
        .await
        .unwrap_or_else(|e| panic!("funnel: {e}"))
}

fn persons(r: &FunnelResult) -> Vec<i64> {
    r.steps.iter().map(|s| s.persons).collect()
}

#[tokio::test]
async fn sequential_windows_ties_identity_and_dedupe() {
    for b in backends("sequential").await {
        let p = project("seq");
        let m = |x: i64| at(0, 0, x, 0);
        let events = vec![
            // p1: A B C in order.
            ev("p1", "A", m(0)),
            ev("p1", "B", m(10)),
            ev("p1", "C", m(20)),
            // p2: C before B: reaches B only.
            ev("p2", "A", m(0)),
            ev("p2", "C", m(5)),
            ev("p2", "B", m(10)),
            // p3: B before A.
            ev("p3", "B", m(0)),
            ev("p3", "A", m(1)),
            // p4: B exactly at the window edge (in), C 1 ms over it (out).
            ev("p4", "A", m(0)),
            ev("p4", "B", m(60)),
            ev("p4", "C", m(60) + 1),
            // p5: the first attempt times out, the second (later start) converts.
            ev("p5", "A", m(0)),
            ev("p5", "A", m(30)),
            ev("p5", "B", m(70)),
            ev("p5", "C", m(80)),
            // p6: A and B at the same ms do not chain.
            ev("p6", "A", m(0)),
            ev("p6", "B", m(0)),
            ev("p6", "C", m(1)),
            // p7: anonymous A, then B as the user on another device; identified later.
            ev("a7", "A", m(0)),
            ev("a7b", "B", m(5)).user("u7"),
            // p8: a bot.
            ev("p8", "A", m(0)).bot(),
            ev("p8", "B", m(1)).bot(),
            ev("p8", "C", m(2)).bot(),
            // p9: A sent twice (same message id).
            ev("p9", "A", m(0)).msg("dupA"),
            ev("p9", "B", m(5)),
        ];
        load(&*b.store, &p, events, vec![link("a7", "u7", m(30))]).await;
        load(&*b.store, &p, vec![ev("p9", "A", m(0)).msg("dupA")], vec![]).await;
        let r = run(&*b.store, &p, &funnel(&["A", "B", "C"], 1, WindowUnit::Hour)).await;
        assert_eq!(persons(&r), vec![8, 6, 2], "{}", b.name);
        assert_eq!(r.steps[1].conversion_from_start, 0.75);
        assert_eq!(r.steps[2].conversion_from_previous, 0.333333);
        assert_eq!(r.steps[1].drop_off, 2);
        assert_eq!(
            r.steps[1].median_time_from_start_ms,
            json!(600000.0),
            "{}",
            b.name
        );
        assert_eq!(r.steps[1].avg_time_from_start_ms, json!(1300000.0), "{}", b.name);
        assert_eq!(r.median_time_to_convert_ms, json!(2100000.0), "{}", b.name);
        assert_eq!(r.conversion_rate, 0.25);
        // Bots on request.
        let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Hour);
        q.include_bots = true;
        assert_eq!(
            persons(&run(&*b.store, &p, &q).await),
            vec![9, 7, 3],
            "{}",
            b.name
        );
        // A wider window lets p4 and p5's first attempt through.
        let r = run(&*b.store, &p, &funnel(&["A", "B", "C"], 2, WindowUnit::Hour)).await;
        assert_eq!(persons(&r), vec![8, 6, 3], "{}", b.name);
        // Persons per step, sorted.
        let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Hour);
        q.include_persons = 3;
        let r = run(&*b.store, &p, &q).await;
        assert_eq!(
            r.steps[2].person_ids,
            Some(vec!["p1".to_string(), "p5".into()]),
            "{}",
            b.name
        );
        assert_eq!(
            r.steps[0].person_ids,
            Some(vec!["p1".to_string(), "p2".into(), "p3".into()])
        );
        // Scope filters on persons: applied after the identity join of the flagged events
        // (person-only filter), or forcing the plan that resolves every event first (a filter
        // mixing person and event fields); both plans give the same answers.
        let scoped = |filter: Value| {
            let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Hour);
            q.filters = Some(serde_json::from_value(filter).unwrap());
            q
        };
        let only = scoped(json!({"field": "person", "op": "in", "value": ["p1", "p5", "u7", "a7"]}));
        assert_eq!(
            persons(&run(&*b.store, &p, &only).await),
            vec![3, 3, 2],
            "{}",
            b.name
        );
        let mixed = scoped(json!({"or": [{"field": "person", "op": "neq", "value": "p1"},
                                         {"field": "event", "op": "eq", "value": "B"}]}));
        assert_eq!(
            persons(&run(&*b.store, &p, &mixed).await),
            vec![7, 5, 1],
            "{}",
            b.name
        );
        let mut by_person = funnel(&["A", "B", "C"], 1, WindowUnit::Hour);
        by_person.breakdown = Some("person".into());
        let r = run(&*b.store, &p, &by_person).await;
        assert_eq!(persons(&r), vec![8, 6, 2], "{}", b.name);
        assert_eq!(r.breakdown.len(), 8, "{}", b.name);
    }
}

#[tokio::test]
async fn strict_mode_allows_no_event_between_steps() {
    for b in backends("strict").await {
        let p = project("strict");
        let s = |x: i64| at(1, 0, 0, x);
        let events = vec![
            ev("q1", "A", s(0)),
            ev("q1", "B", s(60)),
            ev("q2", "A", s(0)),
            ev("q2", "X", s(30)),
            ev("q2", "B", s(60)),
            // Same timestamp as A: not strictly between.
            ev("q3", "A", s(0)),
            ev("q3", "X", s(0)),
            ev("q3", "B", s(60)),
            // The second A restarts the chain right before B.
            ev("q4", "A", s(0)),
            ev("q4", "A", s(30)),
            ev("q4", "B", s(60)),
            // identify is not a tracked event.
            ev("q5", "A", s(0)),
            ev("q5", "$identify", s(30)).kind("identify"),
            ev("q5", "B", s(60)),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let mut q = funnel(&["A", "B"], 1, WindowUnit::Day);
        assert_eq!(persons(&run(&*b.store, &p, &q).await), vec![5, 5], "{}", b.name);
        q.mode = FunnelMode::Strict;
        assert_eq!(persons(&run(&*b.store, &p, &q).await), vec![5, 4], "{}", b.name);
    }
}

#[tokio::test]
async fn any_order_counts_distinct_steps_in_window() {
    for b in backends("any_order").await {
        let p = project("anyorder");
        let m = |x: i64| at(2, 0, x, 0);
        let events = vec![
            ev("r1", "C", m(0)),
            ev("r1", "B", m(10)),
            ev("r1", "A", m(20)),
            ev("r2", "B", m(0)),
            ev("r2", "A", m(120)),
            ev("r3", "A", m(0)),
            ev("r3", "A", m(1)),
            ev("r4", "B", m(0)),
            ev("r4", "C", m(0)),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Hour);
        q.mode = FunnelMode::AnyOrder;
        let r = run(&*b.store, &p, &q).await;
        assert_eq!(persons(&r), vec![4, 2, 1], "{}", b.name);
        assert_eq!(r.median_time_to_convert_ms, json!(1200000.0), "{}", b.name);
        q.exclusions = vec![Exclusion::between("X", 1, 2)];
        assert!(get_conversion_funnel(&*b.store, &ctx(&p), &q).await.is_err());
    }
}

#[tokio::test]
async fn exclusions_break_only_the_attempt_they_interrupt() {
    for b in backends("exclusions").await {
        let p = project("excl");
        let m = |x: i64| at(3, 0, x, 0);
        let events = vec![
            ev("e1", "A", m(0)),
            ev("e1", "X", m(1)),
            ev("e1", "B", m(2)),
            ev("e1", "C", m(3)),
            ev("e2", "A", m(0)),
            ev("e2", "X", m(1)),
            ev("e2", "A", m(2)),
            ev("e2", "B", m(3)),
            ev("e2", "C", m(4)),
            ev("e3", "A", m(0)),
            ev("e3", "B", m(1)),
            ev("e3", "X", m(2)),
            ev("e3", "C", m(3)),
            ev("e4", "A", m(0)),
            ev("e4", "X", m(0)),
            ev("e4", "B", m(1)),
            ev("e5", "A", m(0)),
            ev("e5", "X", m(1)),
            ev("e5", "B", m(1)),
            // Exclusion between steps 2 and 3: a later B re-qualifies the attempt.
            ev("f1", "A", m(0)),
            ev("f1", "B", m(1)),
            ev("f1", "Y", m(2)),
            ev("f1", "B", m(3)),
            ev("f1", "C", m(4)),
            ev("f2", "A", m(0)),
            ev("f2", "B", m(1)),
            ev("f2", "Y", m(2)),
            ev("f2", "C", m(3)),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Day);
        q.filters = Some(footfall_engine::query::Filter::cond(
            "anonymous_id",
            footfall_engine::query::Op::NotIn,
            json!(["f1", "f2"]),
        ));
        q.exclusions = vec![Exclusion::between("X", 1, 2)];
        assert_eq!(
            persons(&run(&*b.store, &p, &q).await),
            vec![5, 4, 2],
            "{}",
            b.name
        );
        let mut q = funnel(&["A", "B", "C"], 1, WindowUnit::Day);
        q.filters = Some(footfall_engine::query::Filter::cond(
            "anonymous_id",
            footfall_engine::query::Op::In,
            json!(["f1", "f2"]),
        ));
        q.exclusions = vec![Exclusion::between("Y", 2, 3)];
        assert_eq!(
            persons(&run(&*b.store, &p, &q).await),
            vec![2, 2, 1],
            "{}",
            b.name
        );
        q.exclusions = vec![Exclusion::between("Y", 2, 4)];
        assert!(get_conversion_funnel(&*b.store, &ctx(&p), &q).await.is_err());
    }
}

#[tokio::test]
async fn breakdown_uses_first_touch() {
    for b in backends("breakdown").await {
        let p = project("bd");
        let m = |x: i64| at(4, 0, x, 0);
        let events = vec![
            ev("b1", "A", m(0)).props(json!({"src": "ads"})),
            ev("b1", "A", m(1)).props(json!({"src": "seo"})),
            ev("b1", "B", m(2)),
            ev("b2", "A", m(0)).props(json!({"src": "seo"})),
            ev("b3", "A", m(0)),
            ev("b3", "B", m(1)),
            ev("b4", "A", m(0)).props(json!({"src": "ads"})),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let mut q = funnel(&["A", "B"], 1, WindowUnit::Day);
        q.breakdown = Some("properties.src".into());
        let r = run(&*b.store, &p, &q).await;
        let groups: Vec<(Value, Vec<i64>)> = r
            .breakdown
            .iter()
            .map(|g| (g.value.clone(), persons_of(&g.steps)))
            .collect();
        assert_eq!(
            groups,
            vec![
                (json!("ads"), vec![2, 1]),
                (Value::Null, vec![1, 1]),
                (json!("seo"), vec![1, 0])
            ],
            "{}",
            b.name
        );
        q.breakdown_limit = Some(2);
        let r = run(&*b.store, &p, &q).await;
        let groups: Vec<(Value, bool, Vec<i64>)> = r
            .breakdown
            .iter()
            .map(|g| (g.value.clone(), g.other, persons_of(&g.steps)))
            .collect();
        assert_eq!(
            groups,
            vec![
                (json!("ads"), false, vec![2, 1]),
                (Value::Null, false, vec![1, 1]),
                (json!("$other"), true, vec![1, 0])
            ],
            "{}",
            b.name
        );
        assert_eq!(persons(&r), vec![4, 2]);
    }
}

fn persons_of(steps: &[footfall_engine::query::funnel::FunnelStep]) -> Vec<i64> {
    steps.iter().map(|s| s.persons).collect()
}

#[tokio::test]
async fn empty_ranges_many_steps_and_filters() {
    for b in backends("funnel_misc").await {
        let p = project("fmisc");
        let names: Vec<String> = (1..=32).map(|i| format!("s{i}")).collect();
        let mut events = Vec::new();
        for (i, n) in names.iter().enumerate() {
            events.push(ev("long", n, at(5, 0, 0, i as i64)));
            if i < 20 {
                events.push(ev("half", n, at(5, 1, 0, i as i64)));
            }
        }
        events.push(
            ev("f", "s1", at(5, 0, 0, 0)).props(json!({"plan": "it's \"pro\" \\ '; DROP TABLE events; --"})),
        );
        events.push(ev("f", "s2", at(5, 0, 0, 1)));
        load(&*b.store, &p, events, vec![]).await;
        let steps: Vec<&str> = names.iter().map(String::as_str).collect();
        let r = run(&*b.store, &p, &funnel(&steps, 1, WindowUnit::Day)).await;
        assert_eq!(r.steps[31].persons, 1, "{}", b.name);
        assert_eq!(r.steps[19].persons, 2, "{}", b.name);
        assert_eq!(r.steps[20].persons, 1, "{}", b.name);
        assert_eq!(r.steps[1].persons, 3, "{}", b.name);
        // Empty range.
        let q = funnel(&["s1", "s2"], 1, WindowUnit::Day).range("2026-10-20", "2026-10-21");
        let r = run(&*b.store, &p, &q).await;
        assert_eq!(persons(&r), vec![0, 0]);
        assert_eq!(r.steps[1].median_time_from_start_ms, Value::Null);
        assert_eq!(r.conversion_rate, 0.0);
        // A hostile property value matches exactly itself.
        let mut q = funnel(&["s1", "s2"], 1, WindowUnit::Day);
        q.steps[0].filters = Some(footfall_engine::query::Filter::eq(
            "properties.plan",
            "it's \"pro\" \\ '; DROP TABLE events; --",
        ));
        assert_eq!(persons(&run(&*b.store, &p, &q).await), vec![1, 1], "{}", b.name);
        // Specs parse from JSON and YAML alike.
        let yaml = "kind: funnel\nsteps: [s1, {event: s2}]\nwindow: 1\nwindow_unit: day\nfrom: 2026-10-01\nto: 2026-10-30\n";
        let json_q = r#"{"kind":"funnel","steps":["s1",{"event":"s2"}],"window":1,"window_unit":"day","from":"2026-10-01","to":"2026-10-30"}"#;
        let (a, c) = (
            footfall_engine::query::Query::from_yaml(yaml).unwrap(),
            footfall_engine::query::Query::from_json(json_q).unwrap(),
        );
        assert_eq!(a, c);
        let out = footfall_engine::query::run_query(&*b.store, &ctx(&p), &a)
            .await
            .unwrap();
        let footfall_engine::query::QueryOutput::Funnel(f) = out else {
            panic!("not a funnel")
        };
        assert_eq!(persons(&f), vec![3, 3]);
        assert!(
            footfall_engine::query::Query::from_json(r#"{"kind":"funnel","steps":["a"],"windw":3}"#).is_err()
        );
    }
}
