//! Events query and trends: hand-computed cases, run on every backend (see query_support).

mod query_support;

use footfall_engine::query::trends::TrendMetric;
use footfall_engine::query::{
    EventMatch, EventsQuery, Filter, Interval, Metric, MetricKind, Op, TrendsQuery, get_trends, query_events,
};
use query_support::*;
use serde_json::{Value, json};

const HOSTILE: &str = "O'Brien \\' \"; DROP TABLE events; -- \\\\n";

fn data() -> (
    Vec<footfall_engine::store::EventRow>,
    Vec<footfall_engine::store::IdentityLink>,
) {
    let events = vec![
        ev("a1", "page_view", at(0, 10, 0, 0)).props(json!({"path": "/"})),
        ev("a1", "purchase", at(0, 11, 0, 0))
            .props(json!({"amount": 10.5, "plan": "pro"}))
            .user("u1"),
        ev("a2", "purchase", at(1, 9, 0, 0))
            .props(json!({"amount": 20, "plan": "free"}))
            .browser("Firefox"),
        ev("a2", "purchase", at(1, 9, 30, 0))
            .props(json!({"amount": "30", "plan": HOSTILE}))
            .browser("Firefox"),
        ev("a3", "page_view", at(2, 23, 59, 59)).props(json!({"path": "/pricing", "n": null})),
        ev("a3", "click", at(3, 0, 0, 0)).props(json!({"nested": {"tier": "deep"}})),
        ev("bot", "page_view", at(3, 1, 0, 0)).bot(),
        ev("a1", "page_view", at(3, 2, 0, 0)).msg("dup"),
    ];
    (events, vec![link("a1", "u1", at(0, 11, 0, 0))])
}

fn q(dims: &[&str], metrics: Vec<Metric>) -> EventsQuery {
    EventsQuery::new(dims, metrics).range("2026-10-01", "2026-10-30")
}

#[tokio::test]
async fn events_query_dimensions_metrics_filters() {
    for b in backends("events_query").await {
        let p = project("events");
        let (events, links) = data();
        load(&*b.store, &p, events, links).await;
        load(
            &*b.store,
            &p,
            vec![ev("a1", "page_view", at(3, 2, 0, 0)).msg("dup")],
            vec![],
        )
        .await;
        let c = ctx(&p);
        let run = |q: EventsQuery| {
            let (store, c) = (b.store.clone(), c.clone());
            async move {
                query_events(&*store, &c, &q)
                    .await
                    .unwrap_or_else(|e| panic!("events: {e}"))
            }
        };
        // By event: counts, distinct persons (a1 and u1 are one person), bots excluded, dedupe.
        let mut by_event = q(
            &["event"],
            vec![Metric::count(), Metric::of(MetricKind::CountDistinct, "person")],
        );
        by_event.order_by = vec!["count DESC".into()];
        let r = run(by_event.clone()).await;
        assert_eq!(
            r.rows,
            vec![
                vec![json!("page_view"), json!(3), json!(2)],
                vec![json!("purchase"), json!(3), json!(2)],
                vec![json!("click"), json!(1), json!(1)]
            ],
            "{}",
            b.name
        );
        by_event.include_bots = true;
        assert_eq!(
            run(by_event).await.rows[0],
            vec![json!("page_view"), json!(4), json!(3)],
            "{}",
            b.name
        );
        // Numeric metrics over a property; the string "30" is not a number.
        let mut m = q(
            &[],
            vec![
                Metric::of(MetricKind::Sum, "properties.amount"),
                Metric::of(MetricKind::Avg, "properties.amount"),
                Metric::of(MetricKind::Median, "properties.amount"),
                Metric::of(MetricKind::P90, "properties.amount"),
                Metric::of(MetricKind::Max, "properties.amount"),
            ],
        );
        m.filters = Some(Filter::eq("event", "purchase"));
        let r = run(m).await;
        assert_eq!(
            r.rows,
            vec![vec![
                json!(30.5),
                json!(15.25),
                json!(15.25),
                json!(19.05),
                json!(20.0)
            ]],
            "{}",
            b.name
        );
        // Filters: neq matches events without the field; numeric gt; contains; in; is_set; NOT/OR.
        let count = |f: Filter| {
            let mut x = q(&[], vec![Metric::count()]);
            x.filters = Some(f);
            let run = &run;
            async move { run(x).await.rows[0][0].clone() }
        };
        assert_eq!(
            count(Filter::cond("properties.plan", Op::Neq, "pro")).await,
            json!(6),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("properties.amount", Op::Gt, 10)).await,
            json!(2),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("properties.path", Op::Contains, "pric")).await,
            json!(1),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("browser", Op::In, json!(["Firefox", "Safari"]))).await,
            json!(2),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("properties.n", Op::IsSet, true)).await,
            json!(0),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("properties.plan", Op::IsSet, true)).await,
            json!(3),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::cond("properties.nested.tier", Op::Eq, "deep")).await,
            json!(1),
            "{}",
            b.name
        );
        assert_eq!(
            count(Filter::eq("properties.plan", HOSTILE)).await,
            json!(1),
            "{}",
            b.name
        );
        assert_eq!(count(Filter::eq("person", "u1")).await, json!(3), "{}", b.name);
        let f = Filter::Or(vec![
            Filter::eq("event", "click"),
            Filter::Not(Box::new(Filter::eq("browser", "Chrome"))),
        ]);
        assert_eq!(count(f).await, json!(3), "{}", b.name);
        // A hostile value comes back intact as a dimension.
        let mut by_plan = q(&["properties.plan"], vec![Metric::count()]);
        by_plan.filters = Some(Filter::eq("event", "purchase"));
        by_plan.order_by = vec!["properties.plan ASC".into()];
        let r = run(by_plan).await;
        let plans: Vec<Value> = r.rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            plans,
            vec![json!(HOSTILE), json!("free"), json!("pro")],
            "{}",
            b.name
        );
        // Time buckets: every day label, ordered; ties broken by the dimension.
        let mut by_day = q(&["day", "event"], vec![Metric::count()]);
        by_day.limit = Some(3);
        let r = run(by_day).await;
        assert_eq!(
            r.rows,
            vec![
                vec![json!("2026-10-01"), json!("page_view"), json!(1)],
                vec![json!("2026-10-01"), json!("purchase"), json!(1)],
                vec![json!("2026-10-02"), json!("purchase"), json!(2)]
            ],
            "{}",
            b.name
        );
        // Project time zone: 23:59:59 UTC on Oct 3 is Oct 4 in Tokyo.
        let mut tz = q(&["day"], vec![Metric::count()]);
        tz.filters = Some(Filter::eq("properties.path", "/pricing"));
        tz.time_zone = Some("Asia/Tokyo".into());
        assert_eq!(
            run(tz).await.rows,
            vec![vec![json!("2026-10-04"), json!(1)]],
            "{}",
            b.name
        );
        // Empty range: one row of zeros / nulls.
        let empty = EventsQuery::new(
            &[],
            vec![Metric::count(), Metric::of(MetricKind::Avg, "properties.amount")],
        )
        .range("2026-10-20", "2026-10-20");
        assert_eq!(
            run(empty).await.rows,
            vec![vec![json!(0), Value::Null]],
            "{}",
            b.name
        );
        // Bad specs are errors naming the problem.
        let bad = q(&["properties.a'b"], vec![Metric::count()]);
        let e = query_events(&*b.store, &c, &bad).await.unwrap_err().to_string();
        assert!(e.contains("invalid JSON key"), "{e}");
    }
}

#[tokio::test]
async fn trends_breakdown_and_active_users() {
    for b in backends("trends").await {
        let p = project("trends");
        let mut events = Vec::new();
        // Person i is active on days i..i+2 (i = 0..4); browsers spread.
        for i in 0..5 {
            for d in i..i + 3 {
                let br = ["Chrome", "Firefox", "Safari", "Edge", "Chrome"][i as usize];
                events.push(ev(&format!("t{i}"), "page_view", at(d, 12, 0, 0)).browser(br));
            }
        }
        load(&*b.store, &p, events, vec![]).await;
        let c = ctx(&p);
        let mut t = TrendsQuery::new(
            EventMatch::named("page_view"),
            TrendMetric::Metric(Metric::count()),
            Interval::Day,
        )
        .range("2026-10-01", "2026-10-10");
        let r = get_trends(&*b.store, &c, &t).await.unwrap();
        assert_eq!(r.buckets.len(), 10);
        assert_eq!(
            r.series[0].values,
            [1, 2, 3, 3, 3, 2, 1, 0, 0, 0].map(Value::from).to_vec(),
            "{}",
            b.name
        );
        assert_eq!(r.series[0].total, json!(15));
        t.breakdown = Some("browser".into());
        t.breakdown_limit = Some(2);
        let r = get_trends(&*b.store, &c, &t).await.unwrap();
        let s: Vec<(Value, bool, Value)> = r
            .series
            .iter()
            .map(|s| (s.breakdown.clone(), s.other, s.total.clone()))
            .collect();
        assert_eq!(
            s,
            vec![
                (json!("Chrome"), false, json!(6)),
                (json!("Edge"), false, json!(3)),
                (json!("$other"), true, json!(6))
            ],
            "{}",
            b.name
        );
        t.breakdown = None;
        t.metric = TrendMetric::Metric(Metric::of(MetricKind::CountDistinct, "person"));
        t.interval = Interval::Week;
        let r = get_trends(&*b.store, &c, &t).await.unwrap();
        assert_eq!(r.buckets, vec!["2026-09-28", "2026-10-05"]);
        assert_eq!(r.series[0].values, vec![json!(4), json!(3)], "{}", b.name);
        assert_eq!(r.series[0].total, json!(5));
        // Rolling active users.
        t.interval = Interval::Day;
        t.metric = TrendMetric::Active(1);
        let dau = get_trends(&*b.store, &c, &t).await.unwrap();
        assert_eq!(
            dau.series[0].values,
            [1, 2, 3, 3, 3, 2, 1, 0, 0, 0].map(Value::from).to_vec(),
            "{}",
            b.name
        );
        t.metric = TrendMetric::Active(7);
        let wau = get_trends(&*b.store, &c, &t).await.unwrap();
        assert_eq!(
            wau.series[0].values,
            [1, 2, 3, 4, 5, 5, 5, 5, 5, 4].map(Value::from).to_vec(),
            "{}",
            b.name
        );
        t.metric = TrendMetric::Active(30);
        t.from = Some("2026-10-20".into());
        t.to = Some("2026-11-02".into());
        let mau = get_trends(&*b.store, &c, &t).await.unwrap();
        assert_eq!(
            mau.series[0].values[..3],
            [json!(5), json!(5), json!(5)],
            "{}",
            b.name
        );
        assert_eq!(mau.series[0].values[12..], [json!(5), json!(4)], "{}", b.name);
        let bad: Result<TrendsQuery, _> =
            serde_json::from_value(json!({"event": "x", "metric": "wau", "interval": "week"}));
        let e = get_trends(&*b.store, &c, &bad.unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("interval `day`"), "{e}");
    }
}
