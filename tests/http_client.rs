//! The native client against a real HTTP server on 127.0.0.1 (tests/support): batching
//! thresholds, gzip + Basic auth, 503 then 200, 429 + Retry-After, 413 split, 400 drop,
//! kill-and-restart with events on disk, shutdown, bounded channel, blocking facade.
//! Time is virtual (ManualClock): nothing waits on wall-clock timers.

mod support;

use std::time::Duration;

use footfall::testing::ManualClock;
use footfall::{BlockingClient, Client, ClientBuilder, DropReason, Event, Tracker};
use serde_json::json;
use support::{Answer, TestCollector};

const T0: u64 = 1_764_324_000_000;

fn builder(server: &TestCollector, clock: &ManualClock, config: serde_json::Value) -> ClientBuilder {
    support::client_builder(server, clock, config, 42)
}

/// A test collector answering `answers` first, a manual clock at `T0`, and a client for them.
async fn start(answers: Vec<Answer>, config: serde_json::Value) -> (TestCollector, ManualClock, Client) {
    let server = TestCollector::start().await;
    server.answer(answers);
    let clock = ManualClock::new(T0);
    let client = builder(&server, &clock, config).build().unwrap();
    (server, clock, client)
}

#[tokio::test]
async fn batch_size_threshold_sends_gzip_with_basic_auth() {
    let (server, _clock, client) = start(vec![], json!({"tracking": {"batch_size": 3}})).await;
    client.track(Event::track("a"));
    client.track_sign_up();
    client.track_purchase("ord_1", 49.9, "EUR", vec![json!({"sku": "x"})]);
    let got = server.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.authorization.as_deref(),
        Some("Basic d2tfdGVzdDo="),
        "base64(\"wk_test:\")"
    );
    let names: Vec<_> = r.batch.batch.iter().map(|m| m.event.clone().unwrap()).collect();
    assert_eq!(names, ["a", "sign_up", "purchase"]);
    assert!(r.batch.sent_at.is_some() && r.batch.batch.iter().all(|m| m.sent_at == r.batch.sent_at));
    let raw_json = serde_json::to_vec(&r.batch).unwrap().len();
    assert!(
        r.raw_len < raw_json,
        "gzip shrinks the body: {} vs {raw_json}",
        r.raw_len
    );
    assert_eq!(client.flush().await, 0, "flush waits for the answer");
    assert_eq!(client.stats().await.sent, 3);
}

#[tokio::test]
async fn flush_interval_threshold_on_virtual_time() {
    let server = TestCollector::start().await;
    let clock = ManualClock::new(T0);
    let client = builder(
        &server,
        &clock,
        json!({"tracking": {"batch_size": 100, "flush_interval": 5}}),
    )
    .build()
    .unwrap();
    client.track(Event::track("a"));
    clock.advance(4_999);
    assert_eq!(client.stats().await.queued, 1, "the worker saw the event");
    assert_eq!(server.count(), 0, "not due before the flush interval");
    clock.advance(1);
    let got = server.wait_for(1).await;
    assert_eq!(got[0].batch.batch.len(), 1);
}

#[tokio::test]
async fn max_batch_bytes_threshold() {
    let server = TestCollector::start().await;
    let clock = ManualClock::new(T0);
    let config = json!({"tracking": {"batch_size": 100, "max_batch_bytes": 8192, "max_message_bytes": 4096}});
    let client = builder(&server, &clock, config).build().unwrap();
    for i in 0..6 {
        client.track(
            Event::track("big")
                .property("pad", "x".repeat(2000))
                .property("i", i),
        );
    }
    let got = server.wait_for(1).await;
    assert!(
        got[0].batch.batch.len() < 6,
        "sent on size before the count or time threshold"
    );
    let json_len = serde_json::to_vec(&got[0].batch).unwrap().len();
    assert!(json_len <= 8192, "{json_len}");
}

#[tokio::test]
async fn service_unavailable_then_ok_retries_with_the_same_message_ids() {
    let (server, clock, client) =
        start(vec![Answer::status(503)], json!({"tracking": {"batch_size": 2}})).await;
    client.track(Event::track("a"));
    client.track(Event::track("b"));
    let first = server.wait_for(1).await[0].clone();
    assert_eq!(client.flush().await, 2, "flush does not bypass the backoff");
    clock.advance(1_000); // full jitter with base 1 s: the first retry is due within 1 s
    let got = server.wait_for(2).await;
    assert_eq!(got[1].ids(), first.ids());
    assert_ne!(got[1].batch.sent_at, first.batch.sent_at, "sentAt is per attempt");
    assert_eq!(client.flush().await, 0);
    let stats = client.stats().await;
    assert_eq!((stats.sent, stats.retried), (2, 2));
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let (server, clock, client) = start(
        vec![Answer::retry_after(429, 30)],
        json!({"tracking": {"batch_size": 1}}),
    )
    .await;
    client.track(Event::track("a"));
    server.wait_for(1).await;
    assert_eq!(client.flush().await, 1, "the 429 was processed (at T0)");
    clock.advance(29_999);
    assert_eq!(client.flush().await, 1);
    assert_eq!(server.count(), 1, "nothing before Retry-After");
    clock.advance(1);
    let got = server.wait_for(2).await;
    assert_eq!(got[0].ids(), got[1].ids());
}

#[tokio::test]
async fn payload_too_large_splits_the_batch_in_halves() {
    let (server, _clock, client) =
        start(vec![Answer::status(413)], json!({"tracking": {"batch_size": 4}})).await;
    for i in 0..4 {
        client.track(Event::track("e").property("i", i));
    }
    let got = server.wait_for(3).await;
    let sizes: Vec<usize> = got.iter().map(|r| r.batch.batch.len()).collect();
    assert_eq!(sizes, [4, 2, 2]);
    let mut resent: Vec<String> = got[1..].iter().flat_map(|r| r.ids()).collect();
    let mut original = got[0].ids();
    resent.sort();
    original.sort();
    assert_eq!(resent, original);
    assert_eq!(client.flush().await, 0);
    assert_eq!(client.stats().await.sent, 4);
}

#[tokio::test]
async fn bad_request_drops_without_retry_and_reports_reasons() {
    let (server, clock, client) = start(vec![Answer::with_body(
        400,
        json!({"accepted": 0, "rejected": [{"index": 0, "messageId": "m", "reason": "timestamp out of range"}]}),
    )], json!({"tracking": {"batch_size": 2}})).await;
    client.track(Event::track("a"));
    client.track(Event::track("b"));
    server.wait_for(1).await;
    assert_eq!(client.flush().await, 0);
    clock.advance(600_000);
    let stats = client.stats().await;
    assert_eq!(server.count(), 1, "4xx is never retried");
    assert_eq!((stats.dropped(DropReason::Rejected), stats.sent), (2, 0));
    assert_eq!(stats.recent_rejections[0].reason, "timestamp out of range");
    assert_eq!(stats.recent_rejections[1].reason, "HTTP 400");
}

#[tokio::test]
async fn killed_client_delivers_its_persisted_events_exactly_once_after_restart() {
    let server = TestCollector::start().await;
    server.answer([Answer::status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = json!({"tracking": {"batch_size": 100}});

    let first = builder(&server, &clock, config.clone())
        .data_dir(dir.path())
        .build()
        .unwrap();
    first.identify("user_42", footfall::Properties::new());
    for i in 0..5 {
        first.track(Event::track("order").property("i", i));
    }
    assert_eq!(first.flush().await, 6, "503: everything still queued");
    let attempted = server.received()[0].ids();
    first.kill().await; // crash: no shutdown, no final flush
    first.track(Event::track("after_the_crash"));
    assert_eq!(first.stats().await.dropped(DropReason::Shutdown), 1);

    // A torn write at the end of the log (crash mid-append) must be skipped, not fatal.
    let log = dir.path().join("queue.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"FFQ1\xff\x00");
    std::fs::write(&log, bytes).unwrap();

    server.answer([Answer::status(200)]);
    clock.advance(60_000);
    let second = builder(&server, &clock, config)
        .data_dir(dir.path())
        .build()
        .unwrap();
    let stats = second.stats().await;
    assert_eq!(stats.restored, 6);
    assert!(
        stats.warnings.iter().any(|w| w.contains("queue.log")),
        "{:?}",
        stats.warnings
    );
    assert_eq!(second.flush().await, 0);
    let delivered: Vec<String> = server.received()[1..].iter().flat_map(|r| r.ids()).collect();
    assert_eq!(delivered, attempted, "same messageIds, each once, in order");
    let restarted = &server.received()[1].batch.batch;
    assert!(restarted.iter().all(|m| m.user_id.as_deref() == Some("user_42")));

    // Delivered messages are gone from disk: a third start has nothing to send.
    second.shutdown(Duration::from_secs(1)).await;
    let third = builder(&server, &clock, json!({}))
        .data_dir(dir.path())
        .build()
        .unwrap();
    assert_eq!(third.stats().await.restored, 0);
}

#[tokio::test]
async fn shutdown_drains_the_queue_and_refuses_later_events() {
    let (server, clock, client) = start(
        vec![Answer::status(500)],
        json!({"tracking": {"batch_size": 100}}),
    )
    .await;
    for i in 0..3 {
        client.track(Event::track("e").property("i", i));
    }
    let shutdown = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown(Duration::from_secs(30)).await }
    });
    server.wait_for(1).await; // the first attempt fails (500): shutdown keeps retrying
    assert_eq!(client.flush().await, 3, "the 500 was processed");
    clock.advance(1_000);
    let report = tokio::time::timeout(Duration::from_secs(20), shutdown)
        .await
        .expect("shutdown finished")
        .unwrap();
    assert_eq!((report.sent, report.unsent, report.persisted), (3, 0, false));
    client.track(Event::track("late"));
    assert_eq!(client.stats().await.dropped(DropReason::Shutdown), 1);
    assert_eq!(server.received()[1].batch.batch.len(), 3);
}

#[tokio::test]
async fn shutdown_deadline_counts_what_could_not_be_sent() {
    let (server, clock, client) = start((0..20).map(|_| Answer::status(503)).collect(), json!({})).await;
    client.track(Event::track("e"));
    let shutdown = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown(Duration::from_secs(5)).await }
    });
    server.wait_for(1).await;
    clock.advance(5_000);
    let report = tokio::time::timeout(Duration::from_secs(20), shutdown)
        .await
        .expect("shutdown finished")
        .unwrap();
    assert_eq!((report.sent, report.unsent, report.persisted), (0, 1, false));
    assert_eq!(client.stats().await.dropped(DropReason::Shutdown), 1);
}

#[tokio::test]
async fn track_never_blocks_when_the_worker_is_busy() {
    let server = TestCollector::start().await;
    let clock = ManualClock::new(T0);
    let (stalled_tx, stalled_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let hook_channels = std::sync::Mutex::new((stalled_tx, go_rx));
    let client = builder(&server, &clock, json!({"tracking": {"batch_size": 100}}))
        .channel_capacity(3)
        .before_send(move |m| {
            if m.event.as_deref() == Some("stall") {
                let channels = hook_channels.lock().unwrap();
                channels.0.send(()).unwrap();
                let _ = channels.1.recv(); // the worker is stuck here until the test says go
            }
            Some(m)
        })
        .build()
        .unwrap();
    client.track(Event::track("stall"));
    tokio::task::spawn_blocking(move || stalled_rx.recv().unwrap())
        .await
        .unwrap();
    for i in 0..10 {
        client.track(Event::track("e").property("i", i)); // returns at once, worker or not
    }
    go_tx.send(()).unwrap();
    let stats = client.stats().await;
    assert_eq!(
        stats.dropped(DropReason::QueueFull),
        7,
        "beyond the channel capacity of 3"
    );
    assert_eq!(stats.enqueued, 4);
}

#[test]
fn blocking_client_works_without_any_async_runtime() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestCollector::start());
    let clock = ManualClock::new(T0);
    let client =
        BlockingClient::from_builder(builder(&server, &clock, json!({"tracking": {"batch_size": 10}})))
            .unwrap();
    client.track_page_view(
        "https://shop.example/?gclid=ad",
        Some("https://r.example/"),
        Some("Home"),
    );
    client.track_click("buy", "button", Some("Buy now"));
    assert_eq!(client.flush(), 0);
    let got = runtime.block_on(server.wait_for(1));
    let page_view = &got[0].batch.batch[0];
    assert_eq!(
        page_view.properties.as_ref().unwrap()["url"],
        "https://shop.example/"
    );
    let report = client.shutdown(Duration::from_secs(1));
    assert_eq!((report.sent, report.unsent), (2, 0));
    assert_eq!(client.stats().sent, 2);
}

#[test]
fn handles_are_clone_send_sync_and_the_core_is_send() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    clone_send_sync::<Client>();
    clone_send_sync::<BlockingClient>();
    send::<footfall::Core>();
}
