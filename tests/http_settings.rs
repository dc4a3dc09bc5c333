//! The native client and the privacy team's settings, against a real HTTP server on 127.0.0.1
//! (tests/support serves `GET /v1/settings` with an ETag and 304s): fetched at start with HTTP
//! Basic, applied before the first batch leaves, refreshed every `settings_refresh` with
//! `If-None-Match`, persisted in the data dir for an offline start, never blocking delivery when
//! the fetch fails. Time is virtual (ManualClock).

mod support;

use std::time::Duration;

use footfall::testing::ManualClock;
use footfall::{Client, ClientBuilder, DropReason, Event};
use serde_json::json;
use support::TestCollector;

const T0: u64 = 1_764_324_000_000;

fn builder(server: &TestCollector, clock: &ManualClock, config: serde_json::Value) -> ClientBuilder {
    support::client_builder(server, clock, config, 7)
}

/// A collector serving empty settings (ETag `"v1"`) and a client with a 60 s settings refresh
/// that batches nothing on its own (100 events or 600 s), after its first settings fetch.
async fn started_with_empty_settings() -> (TestCollector, ManualClock, Client) {
    let server = TestCollector::start().await;
    server.serve_settings(json!({}), "\"v1\"");
    let clock = ManualClock::new(T0);
    let config =
        json!({"tracking": {"batch_size": 100, "flush_interval": 600}, "delivery": {"settings_refresh": 60}});
    let client = builder(&server, &clock, config).build().unwrap();
    server.wait_for_settings(1).await;
    (server, clock, client)
}

/// Polls the client until `check` holds for its settings in force (real time, 20 s guard).
async fn until_settings(client: &Client, check: impl Fn(&footfall::settings::PrivacySettings) -> bool) {
    for _ in 0..400 {
        if client.privacy_settings().await.as_ref().is_some_and(&check) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "settings never reached the expected state: {:?}",
        client.privacy_settings().await
    );
}

/// Waits (real time, 20 s guard) until the client's worker sleeps until a deadline after
/// `after` on the virtual clock: it has handled everything up to now (e.g. the answer of a
/// settings fetch the server has already seen) and waits for the next due time.
async fn worker_sleeps_past(clock: &ManualClock, after: u64) -> u64 {
    for _ in 0..400 {
        if let Some(at) = clock.next_deadline().filter(|at| *at > after) {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the worker never went to sleep past {after}: {:?}",
        clock.next_deadline()
    );
}

#[tokio::test]
async fn fetched_at_start_with_basic_auth_and_applied_before_the_first_batch() {
    let server = TestCollector::start().await;
    server.serve_settings(
        json!({"property_deny_list": ["email"], "url_param_deny_list": ["promo"]}),
        "\"v1\"",
    );
    let clock = ManualClock::new(T0);
    let client = builder(&server, &clock, json!({"tracking": {"batch_size": 1}}))
        .build()
        .unwrap();
    // Tracked at once: the first start holds the batch until the settings are in.
    client.track(
        Event::track("signup")
            .property("email", "ada@example.com")
            .property("url", "https://shop.example/?promo=x&q=1"),
    );
    let got = server.wait_for(1).await;
    let props = got[0].batch.batch[0].properties.clone().unwrap();
    assert_eq!(props.get("email"), None, "the server's deny list applied");
    assert_eq!(props["url"], "https://shop.example/?q=1");
    let hits = server.settings_hits();
    assert_eq!(hits[0].authorization.as_deref(), Some("Basic d2tfdGVzdDo="));
    assert_eq!(hits[0].if_none_match, None);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn refreshed_every_interval_with_if_none_match_and_changes_apply_to_queued_events() {
    let (server, clock, client) = started_with_empty_settings().await;
    assert_eq!(
        worker_sleeps_past(&clock, T0).await,
        T0 + 60_000,
        "the next fetch is due then"
    );

    // Unchanged: a conditional request answered 304.
    clock.advance(60_000);
    let hits = server.wait_for_settings(2).await;
    assert_eq!(hits[1].if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(hits[1].status, 304);
    assert_eq!(worker_sleeps_past(&clock, T0 + 60_000).await, T0 + 120_000);

    // The privacy team switches to opt_in and denies `plan`: queued events obey at the next
    // refresh (analytics ones purged, the necessary one rewritten), before anything is sent.
    client.track(Event::track("queued_analytics").property("plan", "pro"));
    client.track(
        Event::track("queued_necessary")
            .category("necessary")
            .property("plan", "pro")
            .property("ok", 1),
    );
    assert_eq!(client.stats().await.queued, 2);
    server.serve_settings(
        json!({"consent_mode": "opt_in", "property_deny_list": ["plan"]}),
        "\"v2\"",
    );
    clock.advance(60_000);
    let hits = server.wait_for_settings(3).await;
    assert_eq!(
        (hits[2].status, hits[2].if_none_match.as_deref()),
        (200, Some("\"v1\""))
    );
    until_settings(&client, |s| s.property_deny_list == ["plan"]).await;
    let stats = client.stats().await;
    assert_eq!((stats.queued, stats.dropped(DropReason::Consent)), (1, 1));
    client.track(Event::track("after_change")); // waits for consent now
    assert_eq!(client.flush().await, 0);
    let got = server.received();
    let sent: Vec<_> = got.iter().flat_map(|r| r.batch.batch.iter()).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].event.as_deref(), Some("queued_necessary"));
    let props = sent[0].properties.as_ref().unwrap();
    assert_eq!((props.get("plan"), props.get("ok")), (None, Some(&json!(1))));
    assert_eq!(client.stats().await.pending_consent, 1);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn persisted_in_the_data_dir_for_an_offline_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestCollector::start().await;
    server.serve_settings(json!({"property_deny_list": ["secret"]}), "\"v9\"");
    let clock = ManualClock::new(T0);
    let first = builder(&server, &clock, json!({}))
        .data_dir(dir.path())
        .build()
        .unwrap();
    until_settings(&first, |s| s.property_deny_list == ["secret"]).await;
    first.shutdown(Duration::from_secs(1)).await;
    let record = std::fs::read_to_string(dir.path().join("settings")).unwrap();
    let (etag, settings) = footfall::settings_fetch::SettingsRecord::from_text(&record).unwrap();
    assert_eq!(
        (etag.etag.as_deref(), settings.property_deny_list),
        (Some("\"v9\""), vec!["secret".to_string()])
    );

    // The collector cannot serve settings now: the persisted ones apply from the start, and
    // delivery does not wait for the fetch.
    server.fail_settings(503);
    let second = builder(&server, &clock, json!({"tracking": {"batch_size": 1}}))
        .data_dir(dir.path())
        .build()
        .unwrap();
    assert_eq!(
        second.privacy_settings().await.unwrap().property_deny_list,
        ["secret"]
    );
    second.track(
        Event::track("offline_start")
            .property("secret", 1)
            .property("ok", 2),
    );
    let got = server.wait_for(1).await;
    let props = got[0].batch.batch[0].properties.clone().unwrap();
    assert_eq!((props.get("secret"), props.get("ok")), (None, Some(&json!(2))));
    let hit = &server.wait_for_settings(2).await[1];
    assert_eq!((hit.status, hit.if_none_match.as_deref()), (503, Some("\"v9\"")));
    second.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_failing_settings_endpoint_never_blocks_delivery_and_is_retried_with_backoff() {
    let server = TestCollector::start().await;
    server.fail_settings(500);
    let clock = ManualClock::new(T0);
    let client = builder(&server, &clock, json!({"tracking": {"batch_size": 2}}))
        .build()
        .unwrap();
    client.track(Event::track("a"));
    client.track(Event::track("b"));
    assert_eq!(server.wait_for(1).await[0].batch.batch.len(), 2);
    assert_eq!(server.settings_hits().len(), 1);
    let retry = worker_sleeps_past(&clock, T0).await;
    assert_eq!(retry, T0 + 1_000, "backoff base 1 s");
    clock.set(retry);
    let hits = server.wait_for_settings(2).await;
    assert_eq!(hits[1].status, 500);
    let retry = worker_sleeps_past(&clock, T0 + 1_000).await;
    assert!(
        (T0 + 2_000..=T0 + 3_000).contains(&retry),
        "doubling: {}",
        retry - T0
    );
    server.serve_settings(json!({"anonymize_ip": true}), "\"ok\"");
    clock.set(retry);
    server.wait_for_settings(3).await;
    until_settings(&client, |s| s.anonymize_ip).await;
    assert_eq!(client.flush().await, 0);
    client.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn custom_pii_patterns_are_applied_by_the_sdk_to_queued_and_new_events() {
    let (server, clock, client) = started_with_empty_settings().await;
    worker_sleeps_past(&clock, T0).await;
    let event = |name: &str| {
        Event::track(name)
            .property("code", "secret-42")
            .property("note", "not secret-42")
            .property("nested", json!({"list": ["secret-7", "secret-x"]}))
    };
    client.track(event("queued_before"));
    assert_eq!(client.stats().await.queued, 1);

    // The privacy team adds a pattern (and an invalid one: skipped, never breaks tracking).
    server.serve_settings(
        json!({"pii_scrubbing": true, "pii_patterns": ["^secret-\\d+$", "("]}),
        "\"v2\"",
    );
    clock.advance(60_000);
    server.wait_for_settings(2).await;
    until_settings(&client, |s| !s.pii_patterns.is_empty()).await;
    let stats = client.stats().await;
    assert_eq!(stats.invalid_patterns, 1);
    assert!(
        stats.warnings.iter().any(|w| w.contains("pii_patterns[1]")),
        "{:?}",
        stats.warnings
    );
    client.track(event("tracked_after"));
    assert_eq!(client.flush().await, 0);
    let got = server.received();
    let sent: Vec<_> = got.iter().flat_map(|r| r.batch.batch.iter()).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for m in sent {
        let props = m.properties.as_ref().unwrap();
        assert_eq!(props["code"], "[redacted]", "{:?}", m.event);
        assert_eq!(props["note"], "not secret-42", "find semantics with `^…$`");
        assert_eq!(props["nested"]["list"], json!(["[redacted]", "secret-x"]));
    }
    client.shutdown(Duration::from_secs(1)).await;
}
