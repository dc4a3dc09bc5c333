//! The collector down for a long time (virtual time): the queue stays at its cap, evictions
//! are counted with their reason, the data dir stays bounded, and when the collector is back
//! everything still queued is delivered in order, nothing twice.

mod support;

use std::sync::Arc;
use std::time::Duration;

use footfall::testing::{ManualClock, SeededRng};
use footfall::{BlockingClient, Client, DropReason, Event};
use serde_json::json;
use support::transport::{FakeCollector, Mode};

const T0: u64 = 1_764_324_000_000;
const MINUTE: u64 = 60_000;

fn client(
    collector: &Arc<FakeCollector>,
    clock: &ManualClock,
    config: serde_json::Value,
    dir: &std::path::Path,
    seed: u64,
) -> BlockingClient {
    let builder = Client::builder("wk_test")
        .config(footfall::Config::from_value(config).unwrap())
        .transport(collector.clone())
        .clock(Arc::new(clock.clone()))
        .rng(Box::new(SeededRng::new(seed)))
        .data_dir(dir);
    BlockingClient::from_builder(builder).unwrap()
}

#[test]
fn a_long_outage_keeps_the_queue_and_the_data_dir_bounded_and_then_delivers_in_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let config = json!({
        "tracking": {"batch_size": 10, "max_queue_size": 50},
        "delivery": {"max_attempts": 1000}
    });
    let c = client(&collector, &clock, config.clone(), dir.path(), 1);
    let log = dir.path().join("queue.log");
    let mut largest_log = 0;
    let tracked = 3_000u64;
    // Three hours down, 1,000 events an hour, a retry whenever the backoff allows.
    for i in 0..tracked {
        c.track(Event::track("e").property("i", i));
        if i % 25 == 24 {
            clock.advance(MINUTE / 2);
            c.flush();
            let s = c.stats();
            assert!(s.queued + s.in_flight <= 50, "the queue stays at its cap: {s:?}");
            largest_log = largest_log.max(std::fs::metadata(&log).unwrap().len());
        }
    }
    let stats = c.stats();
    assert_eq!(stats.sent, 0);
    assert_eq!(
        stats.dropped(DropReason::QueueFull),
        tracked - 50,
        "every eviction counted"
    );
    assert_eq!(stats.dropped_total(), tracked - 50, "and nothing else dropped");
    assert!(
        collector.attempts().len() > 30,
        "it kept retrying: {}",
        collector.attempts().len()
    );
    // Evictions are removed from the log, which is compacted: bounded, not 3,000 messages.
    let one_message = 700;
    assert!(
        largest_log < 3 * 1_100 * one_message,
        "queue.log reached {largest_log} bytes"
    );

    // A restart in the middle of the outage keeps the same 50.
    c.shutdown(Duration::ZERO);
    drop(c);
    let c = client(&collector, &clock, config, dir.path(), 2);
    assert_eq!(c.stats().restored, 50);
    assert_eq!(
        c.flush(),
        50,
        "still down: the restarted client's first attempt failed too"
    );

    collector.set_mode(Mode::Accept);
    clock.advance(MINUTE);
    assert_eq!(c.flush(), 0);
    // In tracking order; the newest waiting messages won (a batch that was out when the
    // queue overflowed is kept, so up to one batch_size of older ones is among the 50).
    let got = collector.seqs();
    assert_eq!(got.len(), 50);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
    assert_eq!(
        got[10..],
        (tracked - 40..tracked).collect::<Vec<_>>()[..],
        "{got:?}"
    );
    let mut ids = collector.accepted_ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "nothing twice");
    let report = c.shutdown(Duration::from_secs(1));
    assert_eq!(report.unsent, 0);
}

/// With the default `delivery.max_attempts` (10) a message that failed ten times is given up:
/// counted with reason `retries_exhausted` and removed from the data dir — never silently.
#[test]
fn messages_out_of_attempts_are_counted_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let c = client(
        &collector,
        &clock,
        json!({"tracking": {"batch_size": 5}}),
        dir.path(),
        3,
    );
    for i in 0..5 {
        c.track(Event::track("e").property("i", i));
    }
    let mut rounds = 0;
    while c.flush() > 0 {
        clock.advance(2 * MINUTE); // beyond the backoff cap (60 s)
        rounds += 1;
        assert!(rounds < 50, "never gave up: {:?}", c.stats());
    }
    assert_eq!(collector.attempts().len(), 10);
    let stats = c.stats();
    assert_eq!(stats.dropped(DropReason::RetriesExhausted), 5);
    c.shutdown(Duration::ZERO);
    let again = client(&collector, &clock, json!({}), dir.path(), 4);
    assert_eq!(again.stats().restored, 0);
}
