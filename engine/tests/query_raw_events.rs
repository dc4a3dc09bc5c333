//! `raw_events`: the events themselves, newest arrival first, paged by cursor — on every
//! backend (see query_support): fields as stored, the scope's filters, bots and range, pages
//! that neither overlap nor skip (ties on `received_at` included), the person resolved through
//! identity links, bad arguments named.

mod query_support;

use footfall_engine::dashboard::query_api::run_spec;
use footfall_engine::query::*;
use query_support::*;
use serde_json::json;

fn ids(r: &RawEventsResult) -> Vec<String> {
    r.events.iter().map(|e| e.message_id.clone()).collect()
}

#[tokio::test]
async fn raw_events_newest_first_with_fields_filters_and_cursor_pages() {
    for b in backends("raw_events").await {
        let p = project("raw");
        let mut events = Vec::new();
        // m00..m11: one a day-hour apart; m04 and m05 arrive at the same instant (a tie).
        for i in 0..12 {
            let mut e = ev(
                if i % 2 == 0 { "a1" } else { "a2" },
                if i % 3 == 0 { "purchase" } else { "view" },
                at(1, i, 0, 0),
            )
            .msg(&format!("m{i:02}"))
            .props(json!({"i": i, "label": format!("ü<{i}>")}));
            if i == 5 {
                e.received_at = at(1, 4, 0, 0) + 5;
            }
            events.push(e);
        }
        events.push(ev("bot", "view", at(1, 20, 0, 0)).msg("bot1").bot());
        events.push(ev("a1", "view", at(-40, 0, 0, 0)).msg("old"));
        load(&*b.store, &p, events, vec![link("a1", "user_1", at(0, 0, 0, 0))]).await;
        let range = |q: RawEventsQuery| q.range("2026-09-25", "2026-10-03");

        // Page 1: the newest 5 by arrival, the bot left out (as in every query).
        let first = get_raw_events(&*b.store, &ctx(&p), &range(RawEventsQuery::new(5)))
            .await
            .unwrap();
        assert_eq!(ids(&first), ["m11", "m10", "m09", "m08", "m07"], "{}", b.name);
        let e = &first.events[2];
        assert_eq!(
            (e.kind.as_str(), e.event.as_str()),
            ("track", "purchase"),
            "{}",
            b.name
        );
        assert_eq!(e.properties, json!({"i": 9, "label": "ü<9>"}), "{}", b.name);
        assert_eq!(e.timestamp, "2026-10-02T09:00:00.000Z", "{}", b.name);
        assert_eq!(e.received_at, "2026-10-02T09:00:00.005Z", "{}", b.name);
        assert_eq!(e.anonymous_id.as_deref(), Some("a2"), "{}", b.name);
        assert_eq!(
            first.events[1].person.as_deref(),
            Some("user_1"),
            "linked: {}",
            b.name
        );
        assert_eq!(e.browser.as_deref(), Some("Chrome"), "{}", b.name);
        assert!(!e.is_bot);

        // Following `next` pages through the rest exactly once, the tie included.
        let mut seen = ids(&first);
        let mut next = first.next.clone();
        while let Some(cursor) = next {
            let page = get_raw_events(
                &*b.store,
                &ctx(&p),
                &range(RawEventsQuery::new(5)).before(&cursor),
            )
            .await
            .unwrap();
            seen.extend(ids(&page));
            next = page.next;
        }
        let expected: Vec<String> = [
            "m11", "m10", "m09", "m08", "m07", "m06", "m05", "m04", "m03", "m02", "m01", "m00",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            seen, expected,
            "m05 (arrived with m04) sorts by message id: {}",
            b.name
        );

        // Filters and bots, as in the other query kinds; the range is over event time.
        let mut q = range(RawEventsQuery::new(50));
        q.filters = Some(Filter::eq("event", "purchase"));
        let purchases = get_raw_events(&*b.store, &ctx(&p), &q).await.unwrap();
        assert_eq!(ids(&purchases), ["m09", "m06", "m03", "m00"], "{}", b.name);
        assert_eq!(purchases.next, None);
        let mut q = range(RawEventsQuery::new(50));
        q.include_bots = true;
        let all = get_raw_events(&*b.store, &ctx(&p), &q).await.unwrap();
        assert_eq!(all.events[0].message_id, "bot1", "{}", b.name);
        assert!(all.events[0].is_bot);
        assert!(
            !ids(&all).contains(&"old".to_string()),
            "outside the range: {}",
            b.name
        );

        // Through the API's spec parser (what /v1/query and `footfall query` run).
        let out = run_spec(
            &*b.store,
            &ctx(&p),
            &json!({"kind": "raw_events", "limit": 2}),
            Some("2026-09-25"),
            Some("2026-10-03"),
        )
        .await
        .unwrap();
        assert_eq!(out["kind"], "raw_events");
        assert_eq!(out["events"][0]["message_id"], "m11", "{}", b.name);
        assert_eq!(out["events"][0]["type"], "track");
        assert!(out["next"].is_string());
    }
}

#[tokio::test]
async fn raw_events_refuse_bad_limits_and_cursors() {
    for b in backends("raw_events_bad").await {
        let p = project("rawbad");
        for limit in [0, 1_001] {
            let e = get_raw_events(&*b.store, &ctx(&p), &RawEventsQuery::new(limit))
                .await
                .unwrap_err();
            assert!(e.to_string().contains("limit must be 1..=1000"), "{e}");
        }
        let e = get_raw_events(&*b.store, &ctx(&p), &RawEventsQuery::new(5).before("yesterday"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("before: `yesterday`"), "{e}");
        // A message id with a quote in the cursor is a literal, not SQL.
        let r = get_raw_events(
            &*b.store,
            &ctx(&p),
            &RawEventsQuery::new(5).before("1:x' OR '1'='1"),
        )
        .await
        .unwrap();
        assert!(r.events.is_empty(), "{}", b.name);
    }
}
