//! Retention, user metrics, feature adoption, segments, lifecycle and stickiness: hand-computed
//! cases, run on every backend (see query_support).

mod query_support;

use footfall_engine::query::segments::{Criterion, DidEvent};
use footfall_engine::query::*;
use query_support::*;
use serde_json::{Value, json};

fn vals(v: &[Option<i64>]) -> Vec<Value> {
    v.iter()
        .map(|x| x.map(Value::from).unwrap_or(Value::Null))
        .collect()
}

#[tokio::test]
async fn retention_recurring_and_first_time() {
    for b in backends("retention").await {
        let p = project("ret");
        let e = |who: &str, what: &str, d: i64| ev(who, what, at(d, 12, 0, 0));
        let events = vec![
            e("r1", "signup", 0),
            e("r1", "use", 1),
            e("r1", "use", 3),
            e("r2", "signup", 0),
            e("r2", "use", 2),
            e("r3", "signup", 1),
            e("r3", "use", 2),
            e("r4", "signup", 3),
            e("r5", "signup", 0),
            e("r5", "signup", 1),
            e("r5", "use", 2),
            e("r6", "signup", -6),
            e("r6", "signup", 1),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let mut q = RetentionQuery::new(
            EventMatch::named("signup"),
            EventMatch::named("use"),
            Interval::Day,
            4,
        )
        .range("2026-10-01", "2026-10-04");
        let r = get_retention(&*b.store, &ctx(&p), &q).await.unwrap();
        let table: Vec<Vec<Value>> = r.cohorts.iter().map(|c| c.values.clone()).collect();
        assert_eq!(
            table,
            vec![
                vals(&[Some(3), Some(1), Some(2), Some(1)]),
                vals(&[Some(3), Some(2), Some(0), None]),
                vals(&[Some(0), Some(0), None, None]),
                vals(&[Some(1), None, None, None]),
            ],
            "{}",
            b.name
        );
        assert_eq!(
            r.average,
            vec![json!(1.0), json!(0.5), json!(0.333333), json!(0.333333)],
            "{}",
            b.name
        );
        assert_eq!(r.cohorts[0].rates[2], json!(0.666667));
        q.mode = RetentionMode::FirstTime;
        let r = get_retention(&*b.store, &ctx(&p), &q).await.unwrap();
        let table: Vec<Vec<Value>> = r.cohorts.iter().map(|c| c.values.clone()).collect();
        assert_eq!(
            table,
            vec![
                vals(&[Some(3), Some(1), Some(2), Some(1)]),
                vals(&[Some(1), Some(1), Some(0), None]),
                vals(&[Some(0), Some(0), None, None]),
                vals(&[Some(1), None, None, None]),
            ],
            "{}",
            b.name
        );
        // Weeks: Oct 1-4 is the week of Sep 28; everyone's cohort is that week.
        let w = RetentionQuery::new(
            EventMatch::named("signup"),
            EventMatch::named("*"),
            Interval::Week,
            2,
        )
        .range("2026-10-01", "2026-10-11");
        let r = get_retention(&*b.store, &ctx(&p), &w).await.unwrap();
        assert_eq!(r.cohorts[0].period, "2026-09-28");
        assert_eq!(r.cohorts[0].values, vals(&[Some(6), Some(0)]), "{}", b.name);
    }
}

#[tokio::test]
async fn user_metrics_merge_identities() {
    for b in backends("user_metrics").await {
        let p = project("um");
        let events = vec![
            ev("a1", "page_view", at(0, 9, 0, 0)).session("s1"),
            ev("a1", "click", at(0, 9, 1, 0)).session("s1"),
            ev("a1b", "purchase", at(1, 9, 0, 0))
                .user("u1")
                .session("s2")
                .props(json!({"amount": 12.5})),
            ev("a1b", "feature_used", at(1, 9, 5, 0))
                .user("u1")
                .session("s2")
                .props(json!({"feature_name": "export"})),
            ev("a1b", "feature_used", at(1, 9, 6, 0))
                .user("u1")
                .session("s2")
                .props(json!({"feature_name": "export"})),
            ev("a1b", "feature_used", at(2, 9, 0, 0))
                .user("u1")
                .session("s3")
                .props(json!({"feature_name": "alerts"})),
            ev("a1b", "page_view", at(2, 9, 1, 0)).user("u1").bot(),
            ev("a9", "page_view", at(2, 9, 0, 0)),
        ];
        load(&*b.store, &p, events, vec![link("a1", "u1", at(1, 9, 0, 0))]).await;
        let q = UserMetricsQuery::new("u1").range("2026-10-01", "2026-10-30");
        let m = get_user_metrics(&*b.store, &ctx(&p), &q).await.unwrap();
        assert_eq!(
            (
                m.total_events,
                m.unique_days,
                m.session_count,
                m.page_views,
                m.clicks,
                m.purchases
            ),
            (6, 3, 3, 1, 1, 1),
            "{}",
            b.name
        );
        assert_eq!(m.revenue, json!(12.5));
        assert_eq!(
            m.feature_usage.into_iter().collect::<Vec<_>>(),
            vec![("alerts".into(), 1), ("export".into(), 2)]
        );
        assert_eq!(m.first_seen.as_deref(), Some("2026-10-01T09:00:00.000Z"));
        let none = get_user_metrics(&*b.store, &ctx(&p), &UserMetricsQuery::new("nobody' OR '1'='1"))
            .await
            .unwrap();
        assert_eq!((none.total_events, none.first_seen), (0, None), "{}", b.name);
    }
}

#[tokio::test]
async fn feature_adoption_counts_active_persons() {
    for b in backends("adoption").await {
        let p = project("fa");
        let f = |who: &str, name: &str, d: i64| {
            ev(who, "feature_used", at(d, 10, 0, 0)).props(json!({"feature_name": name}))
        };
        let events = vec![
            f("p1", "export", 0),
            f("p1", "export", 0),
            f("p2", "export", 1),
            f("p3", "alerts", 1),
            ev("p4", "page_view", at(2, 10, 0, 0)),
            f("bot", "export", 1).bot(),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let q = FeatureAdoptionQuery::new("export").range("2026-10-01", "2026-10-03");
        let r = get_feature_adoption(&*b.store, &ctx(&p), &q).await.unwrap();
        assert_eq!(
            (r.users, r.active_persons, r.usage_count, r.adoption_rate),
            (2, 4, 3, 0.5),
            "{}",
            b.name
        );
        let daily: Vec<(i64, i64, i64)> = r
            .daily
            .iter()
            .map(|d| (d.users, d.active_persons, d.usage_count))
            .collect();
        assert_eq!(daily, vec![(1, 1, 2), (1, 2, 1), (0, 1, 0)], "{}", b.name);
    }
}

#[tokio::test]
async fn segments_criteria_saved_and_used_as_filter() {
    for b in backends("segments").await {
        let p = project("seg");
        let buy = |who: &str, amount: i64, d: i64| {
            ev(who, "purchase", at(d, 10, 0, 0)).props(json!({"amount": amount}))
        };
        let ident = |who: &str, plan: &str, d: i64| {
            ev(who, "$identify", at(d, 9, 0, 0))
                .kind("identify")
                .traits(json!({"plan": plan}))
        };
        let events = vec![
            ident("s1", "pro", 0),
            buy("s1", 30, 0),
            buy("s1", 5, 1),
            buy("s2", 50, 1),
            ident("s3", "starter", 0),
            ident("s3", "free", 2),
            ev("s3", "page_view", at(2, 11, 0, 0)),
            buy("s4", 1, 0),
            buy("s4", 1, 1),
            buy("s4", 1, 2),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let c = ctx(&p);
        let run = |criteria: Criterion| {
            let q = SegmentQuery::new(criteria).range("2026-10-01", "2026-10-30");
            let (store, c) = (b.store.clone(), c.clone());
            async move {
                segment_users(&*store, &c, &q)
                    .await
                    .unwrap_or_else(|e| panic!("segment: {e}"))
            }
        };
        assert_eq!(
            run(Criterion::did("purchase", 2)).await.persons,
            vec!["s1", "s4"],
            "{}",
            b.name
        );
        let big = Criterion::Did(DidEvent {
            event: "purchase".into(),
            filters: Some(Filter::cond("properties.amount", Op::Gte, 20)),
            min_count: None,
            max_count: None,
            from: None,
            to: None,
        });
        assert_eq!(run(big.clone()).await.persons, vec!["s1", "s2"], "{}", b.name);
        let not_buyer = Criterion::Not(Box::new(Criterion::did("purchase", 1)));
        assert_eq!(run(not_buyer).await.persons, vec!["s3"], "{}", b.name);
        let pro = Criterion::Trait(Condition {
            field: "plan".into(),
            op: Op::Eq,
            value: json!("pro"),
        });
        let free = Criterion::Trait(Condition {
            field: "traits.plan".into(),
            op: Op::Eq,
            value: json!("free"),
        });
        assert_eq!(
            run(Criterion::Or(vec![pro, free])).await.persons,
            vec!["s1", "s3"],
            "{}",
            b.name
        );
        let r = run(Criterion::And(vec![
            Criterion::did("purchase", 1),
            Criterion::Not(Box::new(big)),
        ]))
        .await;
        assert_eq!(
            (r.count, r.persons.clone()),
            (1, vec!["s4".to_string()]),
            "{}",
            b.name
        );
        // Paging.
        let mut q = SegmentQuery::new(Criterion::did("purchase", 1)).range("2026-10-01", "2026-10-30");
        q.limit = Some(1);
        q.offset = 1;
        let r = segment_users(&*b.store, &c, &q).await.unwrap();
        assert_eq!((r.count, r.persons), (3, vec!["s2".to_string()]), "{}", b.name);
        // Saved segments: stored as documents, usable as a filter anywhere.
        let saved = SavedSegment {
            name: "Repeat buyers".into(),
            description: None,
            definition: SegmentSpec::new(Criterion::did("purchase", 2)).range("2026-10-01", "2026-10-30"),
        };
        save_segment(&*b.store, &c, "repeat", &saved).await.unwrap();
        assert_eq!(get_segment(&*b.store, &p, "repeat").await.unwrap(), Some(saved));
        assert_eq!(list_segments(&*b.store, &p).await.unwrap().len(), 1);
        let mut count = EventsQuery::new(&[], vec![Metric::count()]).range("2026-10-01", "2026-10-30");
        count.segment = Some(SegmentRef::Saved("repeat".into()));
        assert_eq!(
            query_events(&*b.store, &c, &count).await.unwrap().rows,
            vec![vec![json!(6)]],
            "{}",
            b.name
        );
        let r = run(Criterion::InSegment("repeat".into())).await;
        assert_eq!(r.persons, vec!["s1", "s4"], "{}", b.name);
        count.segment = Some(SegmentRef::Saved("missing".into()));
        assert!(matches!(
            query_events(&*b.store, &c, &count).await,
            Err(QueryError::NotFound(_))
        ));
        assert!(delete_segment(&*b.store, &p, "repeat").await.unwrap());
    }
}

#[tokio::test]
async fn lifecycle_and_stickiness() {
    for b in backends("lifecycle").await {
        let p = project("life");
        let e = |who: &str, d: i64| ev(who, "page_view", at(d, 12, 0, 0));
        let events = vec![
            e("L1", 0),
            e("L1", 1),
            e("L1", 3),
            e("L2", 1),
            e("L2", 2),
            e("L3", 0),
            e("L4", -11),
            e("L4", 2),
        ];
        load(&*b.store, &p, events, vec![]).await;
        let q = LifecycleQuery::new(EventMatch::named("*"), Interval::Day).range("2026-10-02", "2026-10-04");
        let r = get_lifecycle(&*b.store, &ctx(&p), &q).await.unwrap();
        assert_eq!(r.buckets, vec!["2026-10-02", "2026-10-03", "2026-10-04"]);
        assert_eq!(
            (r.new, r.returning, r.resurrecting, r.dormant),
            (vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 1], vec![1, 1, 2]),
            "{}",
            b.name
        );
        let p2 = project("sticky");
        let mut events = vec![e("S1", 4), e("S1", 4), e("S1", 6), e("S1", 8), e("S2", 5)];
        events.extend((4..11).map(|d| e("S3", d)));
        load(&*b.store, &p2, events, vec![]).await;
        let q = StickinessQuery::new(EventMatch::named("page_view"), Interval::Week)
            .range("2026-10-05", "2026-10-11");
        let r = get_stickiness(&*b.store, &ctx(&p2), &q).await.unwrap();
        assert_eq!(r.periods.len(), 1);
        assert_eq!(r.periods[0].days, vec![1, 0, 1, 0, 0, 0, 1], "{}", b.name);
        assert_eq!(
            (r.periods[0].persons, r.average_days),
            (3, 3.666667),
            "{}",
            b.name
        );
    }
}
