//! Paths: hand-computed cases on every backend (see query_support): the start event, paths
//! that lead to an end event, person resolution, repeats collapsed or not, steps named by a field with the event name as fallback,
//! the order of ties and the validation of the spec.

mod query_support;

use footfall_engine::query::*;
use query_support::*;
use serde_json::json;

fn paths(r: &PathsResult) -> Vec<(Vec<&str>, i64)> {
    r.paths
        .iter()
        .map(|p| (p.steps.iter().map(String::as_str).collect(), p.persons))
        .collect()
}

#[tokio::test]
async fn paths_after_an_event() {
    for b in backends("paths").await {
        let p = project("paths");
        let page = |who: &str, path: &str, d: i64, m: i64| {
            ev(who, "page_view", at(d, 10, m, 0)).props(json!({"path": path}))
        };
        let act = |who: &str, what: &str, d: i64, m: i64| ev(who, what, at(d, 10, m, 0));
        let events = vec![
            // a: a repeated page (a reload), then the sign-up.
            page("a", "/", 0, 0),
            page("a", "/pricing", 0, 1),
            page("a", "/pricing", 0, 2),
            act("a", "click", 0, 3),
            // an identify call is not a step
            ev("a", "$identify", at(0, 10, 3, 30)).kind("identify"),
            act("a", "sign_up", 0, 4),
            // b
            page("b", "/", 0, 0),
            page("b", "/pricing", 0, 1),
            act("b", "click", 0, 2),
            // c: a click before the start; at the start's instant a click whose message id sorts
            // first: the start still comes first.
            act("c", "click", 0, -60),
            act("c", "click", 1, 0).msg("c-0"),
            page("c", "/docs", 1, 0).msg("c-1"),
            act("c", "sign_up", 1, 5),
            // d: never the start event.
            act("d", "click", 0, 0),
            // e1 and e2 are one person (u_e): an anonymous page view, then signed in elsewhere.
            page("e1", "/", 0, 0),
            page("e2", "/pricing", 0, 10).user("u_e"),
            act("e2", "click", 0, 11).user("u_e"),
            // f: its page view is before the range.
            page("f", "/", -5, 0),
            act("f", "click", 0, 0),
            // g: two page views at the same instant (a tie by message id).
            page("g", "/", 0, 0).msg("g-1"),
            page("g", "/", 0, 0).msg("g-2"),
            act("g", "click", 0, 1),
            // h: its end event and a click at the same instant, the click's message id sorting
            // after: the end still comes last.
            act("h", "sign_up", 2, 0).msg("h-1"),
            act("h", "click", 2, 0).msg("h-2"),
            // bots do not count
            page("bot", "/", 0, 0).bot(),
        ];
        load(&*b.store, &p, events, vec![link("e1", "u_e", at(0, 10, 10, 0))]).await;
        let run = |q: PathsQuery| {
            let store = b.store.clone();
            let p = p.clone();
            async move { get_paths(&*store, &ctx(&p), &q.range("2026-10-01", "2026-10-03")).await }
        };

        let r = run(PathsQuery::new(EventMatch::named("page_view"), 3))
            .await
            .unwrap();
        assert_eq!(r.persons, 5, "{}", b.name);
        assert_eq!(
            paths(&r),
            vec![
                (vec!["page_view", "click"], 3),
                (vec!["page_view", "click", "sign_up"], 2)
            ],
            "{}",
            b.name
        );

        let mut q = PathsQuery::new(EventMatch::named("page_view"), 4);
        q.node = "properties.path".into();
        let r = run(q).await.unwrap();
        assert_eq!(
            paths(&r),
            vec![
                (vec!["/", "/pricing", "click"], 2),
                (vec!["/", "/pricing", "click", "sign_up"], 1),
                (vec!["/", "click"], 1),
                (vec!["/docs", "click", "sign_up"], 1),
            ],
            "{}",
            b.name
        );

        let mut q = PathsQuery::new(EventMatch::named("page_view"), 3);
        q.collapse_repeats = false;
        let r = run(q.clone()).await.unwrap();
        assert_eq!(
            paths(&r),
            vec![
                (vec!["page_view", "page_view", "click"], 3),
                (vec!["page_view", "click", "sign_up"], 1),
                (vec!["page_view", "page_view", "page_view"], 1),
            ],
            "{}",
            b.name
        );
        q.limit = 1;
        let r = run(q).await.unwrap();
        assert_eq!(
            paths(&r),
            vec![(vec!["page_view", "page_view", "click"], 3)],
            "{}",
            b.name
        );
        assert_eq!(r.persons, 5, "{}", b.name);

        // Start anywhere: each person's first event in the range.
        let r = run(PathsQuery::new(EventMatch::named("*"), 2)).await.unwrap();
        assert_eq!(r.persons, 8, "{}", b.name);
        assert_eq!(
            paths(&r),
            vec![
                (vec!["page_view", "click"], 4),
                (vec!["click"], 2),
                (vec!["click", "page_view"], 1),
                (vec!["sign_up", "click"], 1)
            ],
            "{}",
            b.name
        );

        // What leads to sign_up: the last steps up to each person's first sign_up.
        let r = run(PathsQuery::to(EventMatch::named("sign_up"), 3))
            .await
            .unwrap();
        assert_eq!(r.persons, 3, "{}", b.name);
        assert_eq!(
            paths(&r),
            vec![
                (vec!["click", "page_view", "sign_up"], 1),
                (vec!["click", "sign_up"], 1),
                (vec!["page_view", "click", "sign_up"], 1),
            ],
            "{}",
            b.name
        );
        let mut q = PathsQuery::to(EventMatch::named("sign_up"), 4);
        q.node = "properties.path".into();
        q.collapse_repeats = false;
        let r = run(q).await.unwrap();
        assert_eq!(
            paths(&r),
            vec![
                (vec!["/pricing", "/pricing", "click", "sign_up"], 1),
                (vec!["click", "click", "/docs", "sign_up"], 1),
                (vec!["click", "sign_up"], 1),
            ],
            "{}",
            b.name
        );

        // The spec is checked before anything runs.
        for (q, want) in [
            (
                PathsQuery::new(EventMatch::named("page_view"), 1),
                "steps must be between 2 and 10",
            ),
            (
                PathsQuery::new(EventMatch::named("page_view"), 11),
                "steps must be between 2 and 10",
            ),
            (
                PathsQuery {
                    limit: 0,
                    ..PathsQuery::new(EventMatch::named("page_view"), 3)
                },
                "limit must be between 1 and 100",
            ),
            (
                PathsQuery {
                    node: "properties.a'b".into(),
                    ..PathsQuery::new(EventMatch::named("page_view"), 3)
                },
                "node: ",
            ),
            (
                PathsQuery {
                    end: Some(EventMatch::named("sign_up")),
                    ..PathsQuery::new(EventMatch::named("page_view"), 3)
                },
                "give `start` or `end`, not both",
            ),
        ] {
            let e = run(q).await.unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e}", b.name);
        }
    }
}

#[test]
fn a_paths_spec_reads_from_json_with_defaults() {
    let q = Query::from_json(r#"{"kind": "paths", "start": "sign_up", "from": "7_days_ago"}"#).unwrap();
    let Query::Paths(q) = q else { panic!("{q:?}") };
    assert_eq!(
        (q.steps, q.limit, q.node.as_str(), q.collapse_repeats),
        (4, 20, "event", true)
    );
    assert!(Query::from_json(r#"{"kind": "paths", "stepz": 3}"#).is_err());
    let Query::Paths(q) = Query::from_json(r#"{"kind": "paths", "end": "sign_up"}"#).unwrap() else {
        panic!()
    };
    assert_eq!(q.end, Some(EventMatch::named("sign_up")));
}
