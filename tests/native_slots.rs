//! Several clients (processes) on one data dir: each takes a slot of its own (slot 0 = the dir
//! itself, then `slot-1`, …) and a client that starts adopts the queues of slots nobody holds
//! any more — delivered once, with their messageIds, never touching a live client's slot.
//! Time is virtual (ManualClock) except for bounded polls. Two clients of one process on one
//! dir: tests/native_misuse.rs; two processes: tests/native_sigkill.rs.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use footfall::native::{ADOPT_INTERVAL_MS, FileStore, MAX_SLOTS};
use footfall::store::{Store, StoredMessage, StoredMessageRef};
use footfall::testing::ManualClock;
use footfall::{BlockingClient, DropReason, Event};
use serde_json::json;
use support::transport::{FakeCollector, Mode, builder, poll_until};

const T0: u64 = 1_764_324_000_000;

fn client(collector: &Arc<FakeCollector>, clock: &ManualClock, dir: &Path) -> BlockingClient {
    BlockingClient::from_builder(builder(collector, clock, json!({})).data_dir(dir)).unwrap()
}

fn event(i: u64) -> Event {
    Event::track("e").property("i", i)
}

/// Tracks `range` on `client` against a failing collector and drops it without `shutdown`:
/// its events stay queued and unsent in its slot. Returns the messageIds of its one attempt.
fn track_and_drop(
    client: BlockingClient,
    collector: &FakeCollector,
    range: std::ops::Range<u64>,
) -> Vec<String> {
    let n = range.end - range.start;
    for i in range {
        client.track(event(i));
    }
    assert_eq!(client.flush(), n as usize, "the collector fails: all queued");
    let ids = collector.attempts().last().unwrap().clone();
    collector.set_mode(Mode::Hang);
    drop(client);
    ids
}

/// Waits until the dropped client's worker let go of `slot` (it keeps trying to deliver for
/// `close_timeout`, 5 s of the virtual clock).
fn wait_released(clock: &ManualClock, slot: &Path) {
    poll_until("the dropped client's worker to release its slot", || {
        clock.advance(5_000);
        (!support::lock_held(slot)).then_some(())
    });
}

fn message(id: &str, enqueued_at: u64) -> StoredMessage {
    StoredMessage {
        message_id: id.into(),
        category: "analytics".into(),
        enqueued_at,
        json: format!(
            r#"{{"type":"track","event":"e","messageId":"{id}","anonymousId":"a","timestamp":"2025-11-28T10:00:00.000Z","properties":{{}}}}"#
        ),
    }
}

fn append(store: &mut FileStore, messages: &[StoredMessage]) {
    let refs: Vec<StoredMessageRef<'_>> = messages.iter().map(StoredMessage::borrowed).collect();
    store.append(&refs).unwrap();
}

/// Writes `slot0` into the data dir itself and `slot1` into `slot-1`, as two stores that were
/// open at the same time and are gone now.
fn two_slots(dir: &Path, slot0: &[StoredMessage], slot1: &[StoredMessage]) {
    let mut first = FileStore::open(dir).unwrap();
    first.load().unwrap();
    let mut second = FileStore::open(dir).unwrap();
    second.load().unwrap();
    assert_eq!((first.slot(), second.slot()), (0, 1));
    assert_eq!(second.dir(), dir.join("slot-1"));
    append(&mut first, slot0);
    append(&mut second, slot1);
}

fn accepted_ids(collector: &FakeCollector) -> Vec<String> {
    collector.accepted_ids()
}

#[test]
fn a_dropped_clients_slot_is_adopted_by_the_next_client_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let clock = ManualClock::new(T0);
    let (col_a, col_b) = (
        FakeCollector::new(Mode::Accept),
        FakeCollector::new(Mode::Fail(503)),
    );
    // A's clock stands still: its periodic adoption never comes due (that is another test).
    let a = client(&col_a, &ManualClock::new(T0), dir);
    a.track(event(0));
    let b = client(&col_b, &clock, dir);
    assert!(dir.join("slot-1").join("queue.log").is_file(), "B is on slot-1");
    let b_ids = track_and_drop(b, &col_b, 1..6);
    wait_released(&clock, &dir.join("slot-1"));
    // A keeps slot 0 and delivers its own event only (adoption happens when a client starts).
    assert_eq!(a.flush(), 0);
    a.shutdown(Duration::from_secs(1));
    assert_eq!(col_a.seqs(), [0]);
    assert!(dir.join("slot-1").join("queue.log").is_file(), "B's queue waits");

    // C takes slot 0, adopts slot-1 and removes it.
    let col_c = FakeCollector::new(Mode::Accept);
    let c = BlockingClient::from_builder(builder(&col_c, &clock, json!({})).data_dir(dir).sync_writes(true))
        .unwrap();
    assert!(!dir.join("slot-1").exists(), "the adopted slot is removed");
    let stats = c.stats();
    assert_eq!((stats.restored, stats.store_errors), (5, 0), "{stats:?}");
    assert_eq!(c.flush(), 0);
    assert_eq!(
        accepted_ids(&col_c),
        b_ids,
        "B's events, once, same messageIds, in order"
    );
    assert_eq!(col_c.seqs(), [1, 2, 3, 4, 5]);
    c.shutdown(Duration::from_secs(1));
    let d = client(&col_c, &clock, dir);
    assert_eq!(d.stats().restored, 0, "nothing left to send twice");
}

#[test]
fn a_client_that_starts_beside_a_live_one_adopts_abandoned_slots_but_never_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let clock = ManualClock::new(T0);
    let col_a = FakeCollector::new(Mode::Fail(503));
    // A's clock stands still until the end: its periodic adoption never comes due first.
    let clock_a = ManualClock::new(T0);
    let a = client(&col_a, &clock_a, dir);
    for i in 0..3 {
        a.track(event(i));
    }
    assert_eq!(a.flush(), 3, "A's events are queued in the data dir (slot 0)");
    let (col_b, col_d) = (
        FakeCollector::new(Mode::Fail(503)),
        FakeCollector::new(Mode::Fail(503)),
    );
    let b = client(&col_b, &clock, dir);
    let d = client(&col_d, &clock, dir);
    assert!(dir.join("slot-2").is_dir(), "D is on slot-2");
    let b_ids = track_and_drop(b, &col_b, 10..12);
    let d_ids = track_and_drop(d, &col_d, 20..24);
    wait_released(&clock, &dir.join("slot-1"));
    wait_released(&clock, &dir.join("slot-2"));
    assert!(support::lock_held(dir), "A is alive");

    // C: slot 0 is A's, so C takes slot-1 (B's queue, restored as its own) and adopts slot-2.
    let col_c = FakeCollector::new(Mode::Accept);
    let c = client(&col_c, &clock, dir);
    assert!(support::lock_held(&dir.join("slot-1")), "C is on slot-1");
    assert!(!dir.join("slot-2").exists(), "slot-2 adopted and removed");
    assert_eq!(c.stats().restored, 6);
    assert_eq!(c.flush(), 0);
    assert_eq!(
        col_c.seqs(),
        [10, 11, 20, 21, 22, 23],
        "B's and D's events, none of A's"
    );
    let expected: Vec<String> = b_ids.iter().chain(&d_ids).cloned().collect();
    assert_eq!(accepted_ids(&col_c), expected, "same messageIds");

    // A's live slot was not touched: A delivers its three events, once.
    col_a.set_mode(Mode::Accept);
    clock_a.advance(60_000);
    assert_eq!(a.flush(), 0);
    assert_eq!(col_a.seqs(), [0, 1, 2]);
    a.shutdown(Duration::from_secs(1));
    c.shutdown(Duration::from_secs(1));
    let mut all: Vec<String> = accepted_ids(&col_a)
        .into_iter()
        .chain(accepted_ids(&col_c))
        .collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "no messageId delivered twice");
    let e = client(&col_c, &clock, dir);
    assert_eq!(e.stats().restored, 0);
    assert!(
        !dir.join("slot-1").exists(),
        "C's empty slot adopted and removed in turn"
    );
}

/// A blue-green switch: the new instance (A) runs on, the old one (B) stopped with events
/// queued. A adopts them while it runs (checked every `ADOPT_INTERVAL_MS`, even when idle)
/// instead of leaving them until its next restart — but never the slot of a live client (D).
#[test]
fn a_running_client_adopts_a_slot_abandoned_after_it_started_but_never_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let clock = ManualClock::new(T0);
    let col_a = FakeCollector::new(Mode::Accept);
    let a = client(&col_a, &clock, dir);
    a.track(event(0));
    assert_eq!(a.flush(), 0);
    let (col_b, col_d) = (
        FakeCollector::new(Mode::Fail(503)),
        FakeCollector::new(Mode::Fail(503)),
    );
    let b = client(&col_b, &clock, dir);
    // D runs on a clock of its own that stands still: it never wakes up to adopt first (a
    // running client that does would be as right, but this test is about A).
    let clock_d = ManualClock::new(T0);
    let d = client(&col_d, &clock_d, dir);
    let b_ids = track_and_drop(b, &col_b, 1..4);
    d.track(event(10));
    assert_eq!(d.flush(), 1, "D's event stays queued in its live slot");
    wait_released(&clock, &dir.join("slot-1"));

    // A is idle (nothing queued, no timer of its core's): the periodic check wakes it up.
    clock.advance(ADOPT_INTERVAL_MS);
    poll_until("idle A to adopt and deliver B's events", || {
        (col_a.seqs().len() == 4).then_some(())
    });
    assert_eq!(col_a.seqs(), [0, 1, 2, 3]);
    assert_eq!(
        accepted_ids(&col_a)[1..4],
        b_ids[..],
        "B's events, same messageIds"
    );
    assert_eq!(a.stats().restored, 3);
    assert!(!dir.join("slot-1").exists(), "adopted and removed");
    assert!(
        support::lock_held(&dir.join("slot-2")),
        "D's live slot left alone"
    );

    // Not again, and D still delivers its own event, once.
    clock.advance(ADOPT_INTERVAL_MS);
    a.track(event(4));
    assert_eq!(a.flush(), 0);
    assert_eq!(col_a.seqs(), [0, 1, 2, 3, 4]);
    col_d.set_mode(Mode::Accept);
    clock_d.advance(60_000);
    assert_eq!(d.flush(), 0);
    assert_eq!(col_d.seqs(), [10]);
    a.shutdown(Duration::from_secs(1));
    d.shutdown(Duration::from_secs(1));
}

#[test]
fn a_corrupt_adopted_queue_gives_its_valid_records_and_warnings_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let messages: Vec<StoredMessage> = (0..3).map(|i| message(&format!("id-{i}"), T0)).collect();
    two_slots(dir, &[], &messages);
    let path = dir.join("slot-1").join("queue.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let second = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"FFQ1")
        .nth(1)
        .unwrap()
        .0;
    bytes[second + 12 + 5] ^= 0xff; // record 2's payload
    bytes.extend_from_slice(b"FFQ1\x40\x00\x00"); // a torn record at the end
    std::fs::write(&path, &bytes).unwrap();

    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let c = client(&collector, &clock, dir);
    let stats = c.stats();
    assert_eq!(stats.restored, 2);
    let adopting: Vec<&String> = stats
        .warnings
        .iter()
        .filter(|w| w.contains("adopting") && w.contains("slot-1") && w.contains("queue.log"))
        .collect();
    assert_eq!(adopting.len(), 2, "{:?}", stats.warnings);
    assert!(!dir.join("slot-1").exists());
    assert_eq!(c.flush(), 0);
    assert_eq!(accepted_ids(&collector), ["id-0", "id-2"]);
}

#[test]
fn adopted_events_merge_by_enqueue_time_and_obey_the_queue_cap() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    two_slots(
        dir,
        &[message("own-0", T0 + 1), message("own-1", T0 + 3)],
        &[
            message("adopted-0", T0),
            message("adopted-1", T0 + 2),
            message("adopted-2", T0 + 4),
        ],
    );
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0 + 10);
    let c = BlockingClient::from_builder(
        builder(&collector, &clock, json!({"tracking": {"max_queue_size": 3}})).data_dir(dir),
    )
    .unwrap();
    let stats = c.stats();
    assert_eq!((stats.restored, stats.queued), (5, 3), "{stats:?}");
    assert_eq!(
        stats.dropped(DropReason::QueueFull),
        2,
        "counted like a restart's"
    );
    assert_eq!(c.flush(), 0);
    assert_eq!(
        accepted_ids(&collector),
        ["adopted-1", "own-1", "adopted-2"],
        "the oldest two dropped, the rest in enqueue order"
    );
    c.shutdown(Duration::from_secs(1));
    let mut after = FileStore::open(dir).unwrap();
    assert_eq!(after.slot(), 0);
    assert!(
        after.load().unwrap().messages.is_empty(),
        "the dropped ones are gone too"
    );
}

/// A crash between "written into the adopter's log" and "removed from the adopted slot" leaves
/// the events in both: the next store keeps each messageId once.
#[test]
fn events_left_in_two_slots_by_a_crash_mid_adoption_are_restored_once() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let messages: Vec<StoredMessage> = (0..3).map(|i| message(&format!("id-{i}"), T0 + i)).collect();
    two_slots(dir, &messages, &messages[1..]);
    let mut store = FileStore::open(dir).unwrap();
    let restored = store.load().unwrap();
    let ids: Vec<&str> = restored.messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["id-0", "id-1", "id-2"]);
    assert!(restored.warnings.is_empty(), "{:?}", restored.warnings);
    assert!(!dir.join("slot-1").exists());
}

#[test]
fn a_new_slot_shares_the_anonymous_id_of_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let a = client(&collector, &clock, dir);
    a.track(event(0));
    assert!(a.sync());
    let b = client(&collector, &clock, dir);
    b.track(event(1));
    assert_eq!((a.flush(), b.flush()), (0, 0));
    let accepted = collector.accepted();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].1["anonymousId"], accepted[1].1["anonymousId"]);
    assert!(
        dir.join("slot-1").join("state.json").is_file(),
        "then kept per slot"
    );
}

#[test]
fn beyond_the_slot_limit_a_clear_error_and_a_freed_slot_is_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut stores: Vec<FileStore> = (0..MAX_SLOTS).map(|_| FileStore::open(dir).unwrap()).collect();
    let slots: Vec<usize> = stores.iter().map(FileStore::slot).collect();
    assert_eq!(slots, (0..MAX_SLOTS).collect::<Vec<_>>());
    let error = FileStore::open(dir).unwrap_err().to_string();
    assert!(error.contains(&MAX_SLOTS.to_string()), "names the limit: {error}");
    assert!(
        error.contains(&dir.display().to_string()),
        "names the dir: {error}"
    );
    drop(stores.remove(5));
    assert_eq!(FileStore::open(dir).unwrap().slot(), 5);
}

/// The adopter's own log cannot be rewritten (a directory where its temporary file goes):
/// nothing is adopted, the abandoned slot keeps its queue (never removed before it is safe
/// elsewhere), and a later client adopts it.
#[test]
fn an_adopter_that_cannot_write_its_log_leaves_the_abandoned_slot_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let messages: Vec<StoredMessage> = (0..2).map(|i| message(&format!("id-{i}"), T0 + i)).collect();
    two_slots(dir, &[], &messages);
    std::fs::create_dir(dir.join("queue.tmp")).unwrap();
    let before = std::fs::read(dir.join("slot-1").join("queue.log")).unwrap();

    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let c = client(&collector, &clock, dir);
    let stats = c.stats();
    assert_eq!(stats.restored, 0, "{stats:?}");
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.contains("left for a later start")),
        "{:?}",
        stats.warnings
    );
    assert_eq!(
        std::fs::read(dir.join("slot-1").join("queue.log")).unwrap(),
        before
    );
    c.shutdown(Duration::ZERO);

    std::fs::remove_dir(dir.join("queue.tmp")).unwrap();
    let d = client(&collector, &clock, dir);
    assert_eq!(d.stats().restored, 2);
    assert_eq!(d.flush(), 0);
    assert_eq!(accepted_ids(&collector), ["id-0", "id-1"]);
    assert!(!dir.join("slot-1").exists());
}
