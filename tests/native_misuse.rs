//! The native client misused by a real service or on a misbehaving machine: dropped without
//! `shutdown`, two clients on one data dir, a data dir that cannot be used or disappears, and
//! calls from every kind of thread and runtime. Each test states what must hold: nothing
//! tracked is lost, blocked on, panicked on or delivered twice (the fake collector's accepted
//! messageIds are the collector's point of view). Time is virtual (ManualClock) except for
//! bounded polls.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use footfall::testing::ManualClock;
use footfall::{BlockingClient, Client, DropReason, Event, Tracker};
use serde_json::json;
use support::transport::{FakeCollector, Mode, builder, poll_until};

const T0: u64 = 1_764_324_000_000;

/// A client on `dir` once the dropped client's worker let go of it (a client built before
/// would take `slot-1` and leave the dropped one's queue for a later start): the worker keeps
/// trying to deliver for `close_timeout` (5 s of the virtual clock, counted from when it
/// noticed the drop), so the clock is moved on between attempts.
fn rebuild_after_drop(
    collector: &Arc<FakeCollector>,
    clock: &ManualClock,
    dir: &std::path::Path,
) -> BlockingClient {
    poll_until("the dropped client's worker to release the data dir", || {
        clock.advance(5_000);
        (!support::lock_held(dir)).then_some(())
    });
    let client = builder(collector, clock, json!({}))
        .data_dir(dir)
        .build()
        .unwrap();
    assert!(
        !dir.join("slot-1").exists(),
        "the data dir itself (slot 0) was free"
    );
    BlockingClient::from_client(client)
}

fn event(i: usize) -> Event {
    Event::track("e").property("i", i as u64)
}

fn assert_no_duplicates(ids: &[String]) {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "a messageId was accepted twice: {ids:?}");
}

// ----- 1. dropped without shutdown -----

#[test]
fn dropped_client_leaves_queued_and_in_flight_events_to_the_next_client_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let first =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(dir.path())).unwrap();
    for i in 0..5 {
        first.track(event(i));
    }
    assert_eq!(first.flush(), 5, "503: all five still queued");
    collector.set_mode(Mode::Hang);
    clock.advance(5_000); // the retry (at the flush interval) goes out and never gets an answer
    collector.wait_for_attempts(2);
    for i in 5..8 {
        first.track(event(i)); // queued behind the batch in flight
    }
    // No shutdown: the worker keeps trying for close_timeout and then gives up, the batch in
    // flight abandoned, everything on disk.
    drop(first);
    // (The dropped client cannot send again: its one batch in flight hangs until it gives up.)
    collector.set_mode(Mode::Accept);
    let second = rebuild_after_drop(&collector, &clock, dir.path());
    assert_eq!(second.stats().restored, 8);
    assert_eq!(second.flush(), 0);
    assert_eq!(
        collector.seqs(),
        (0..8).collect::<Vec<_>>(),
        "each once, in order"
    );
    assert_eq!(
        collector.accepted_ids()[..5],
        collector.attempts()[0][..],
        "same messageIds"
    );
    assert_eq!(second.shutdown(Duration::from_secs(1)).unsent, 0);
    let third =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(dir.path())).unwrap();
    assert_eq!(third.stats().restored, 0, "delivered messages are gone from disk");
}

#[test]
fn a_client_can_be_rebuilt_on_its_data_dir_as_soon_as_shutdown_or_kill_returns() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for round in 0..20 {
        let client = builder(&collector, &clock, json!({}))
            .data_dir(dir.path())
            .build()
            .unwrap();
        client.track(event(round));
        if round % 2 == 0 {
            let report = rt.block_on(client.shutdown(Duration::ZERO));
            assert!(report.persisted);
        } else {
            rt.block_on(client.kill());
        }
        // No wait: the data dir is free once the call returned (the next client takes it,
        // not a slot of its own).
        assert!(!dir.path().join("slot-1").exists(), "round {round}");
    }
    let last = builder(&collector, &clock, json!({}))
        .data_dir(dir.path())
        .build()
        .unwrap();
    assert_eq!(rt.block_on(last.stats()).restored, 20);
}

/// `sync_writes(true)`: every write, rename and compaction is `fsync`ed (files and the dir);
/// the same events come back after a crash, and no write fails on the way.
#[test]
fn sync_writes_persist_the_same_way_without_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = builder(&collector, &clock, json!({}))
        .data_dir(dir.path())
        .sync_writes(true)
        .build()
        .unwrap();
    for i in 0..3 {
        first.track(event(i));
    }
    first.identify("user_1", footfall::Properties::new());
    assert!(rt.block_on(first.sync()));
    assert_eq!(rt.block_on(first.stats()).store_errors, 0);
    rt.block_on(first.kill());
    let second = builder(&collector, &clock, json!({}))
        .data_dir(dir.path())
        .sync_writes(true)
        .build()
        .unwrap();
    let stats = rt.block_on(second.stats());
    assert_eq!((stats.restored, stats.store_errors), (4, 0), "{stats:?}");
}

// ----- 3. two clients on one data dir -----

/// A second client on a data dir in use (another worker process of the same service, an
/// overlapping restart) neither corrupts the first one's queue nor is refused: it takes
/// `slot-1`, and both deliver their events exactly once. More in tests/native_slots.rs.
#[test]
fn a_second_client_on_a_data_dir_in_use_gets_a_slot_of_its_own_and_both_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let first =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(dir.path())).unwrap();
    for i in 0..3 {
        first.track(event(i));
    }
    assert_eq!(first.flush(), 3);
    let second =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(dir.path())).unwrap();
    assert_eq!(
        second.stats().restored,
        0,
        "the first one's events are not sent twice"
    );
    assert!(
        dir.path().join("slot-1").join("queue.log").is_file(),
        "the second client writes to slot-1"
    );
    for i in 3..5 {
        second.track(event(i));
    }
    assert_eq!(second.flush(), 2);
    collector.set_mode(Mode::Accept);
    clock.advance(60_000);
    assert_eq!(first.flush(), 0);
    assert_eq!(second.flush(), 0);
    first.shutdown(Duration::from_secs(1));
    second.shutdown(Duration::from_secs(1));
    let ids = collector.accepted_ids();
    assert_eq!(ids.len(), 5);
    assert_no_duplicates(&ids);
    let mut delivered = collector.seqs();
    delivered.sort();
    assert_eq!(delivered, (0..5).collect::<Vec<_>>());
    // Both free again: the next client takes the data dir itself, adopts slot-1 (empty) and
    // removes it.
    let again =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(dir.path())).unwrap();
    assert_eq!(again.stats().restored, 0);
    assert!(!dir.path().join("slot-1").exists());
}

// ----- 4. a data dir that cannot be used -----

#[test]
fn a_file_where_the_data_dir_should_be_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    for dir in [file.clone(), file.join("below")] {
        let error = match builder(&collector, &clock, json!({})).data_dir(&dir).build() {
            Ok(_) => panic!("{} cannot hold a data dir", dir.display()),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(&dir.display().to_string()), "{error}");
        assert!(
            error.contains("not a directory") || error.contains("cannot be created"),
            "{error}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is left alone");
}

/// Permission bits do not stop root (CI may run as root): there the check is skipped.
#[test]
fn a_read_only_data_dir_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let writable = std::fs::write(dir.join("probe"), b"").is_ok();
    if !writable {
        let collector = FakeCollector::new(Mode::Accept);
        let clock = ManualClock::new(T0);
        let error = match builder(&collector, &clock, json!({})).data_dir(&dir).build() {
            Ok(_) => panic!("a read-only data dir must be refused"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("not writable"), "{error}");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_data_dir_removed_while_running_is_recreated_and_nothing_is_lost() {
    for restart_first in [false, true] {
        data_dir_removed_while_running(restart_first);
    }
}

/// `restart_first`: the three first events were restored at start (the log was rewritten by
/// the restart and not appended to since) rather than tracked by this client.
fn data_dir_removed_while_running(restart_first: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let mut first =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(&dir)).unwrap();
    for i in 0..3 {
        first.track(event(i));
    }
    assert!(first.sync());
    if restart_first {
        first.shutdown(Duration::ZERO);
        first = BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(&dir)).unwrap();
        assert_eq!(first.stats().restored, 3);
    }
    std::fs::remove_dir_all(&dir).unwrap(); // an over-eager cleanup job
    for i in 3..6 {
        first.track(event(i)); // never blocks, never panics
    }
    assert!(first.sync());
    let stats = first.stats();
    assert!(stats.store_errors >= 1, "counted: {stats:?}");
    assert!(
        stats.warnings.iter().any(|w| w.contains("queue.log")),
        "{:?}",
        stats.warnings
    );
    first.shutdown(Duration::ZERO);
    let second = BlockingClient::from_builder(builder(&collector, &clock, json!({})).data_dir(&dir)).unwrap();
    assert_eq!(
        second.stats().restored,
        6,
        "the queue was rewritten into the recreated dir"
    );
    second.track(event(6));
    second.flush(); // still failing: wait for that answer before the collector comes back
    collector.set_mode(Mode::Accept);
    clock.advance(60_000);
    assert_eq!(second.flush(), 0);
    assert_eq!(collector.seqs(), (0..7).collect::<Vec<_>>());
    let accepted = collector.accepted();
    let anonymous: Vec<&serde_json::Value> = accepted.iter().map(|(_, m)| &m["anonymousId"]).collect();
    assert!(
        anonymous.iter().all(|a| *a == anonymous[0]),
        "state.json was recreated too: the identity is kept ({anonymous:?})"
    );
}

/// A store that fails every write (a full disk): the client keeps the events in memory,
/// delivers them, and counts and reports the failures.
#[test]
fn a_store_that_fails_every_write_degrades_to_memory_with_counted_warnings() {
    struct FullDisk;
    impl footfall::store::Store for FullDisk {
        fn load(&mut self) -> Result<footfall::store::Restored, footfall::store::StoreError> {
            Ok(Default::default())
        }
        fn save_state(
            &mut self,
            _: &footfall::store::PersistedState,
        ) -> Result<(), footfall::store::StoreError> {
            Err(footfall::store::StoreError(
                "No space left on device (os error 28)".into(),
            ))
        }
        fn append(
            &mut self,
            _: &[footfall::store::StoredMessageRef<'_>],
        ) -> Result<(), footfall::store::StoreError> {
            Err(footfall::store::StoreError(
                "No space left on device (os error 28)".into(),
            ))
        }
        fn remove(&mut self, _: &[&str]) -> Result<(), footfall::store::StoreError> {
            Err(footfall::store::StoreError(
                "No space left on device (os error 28)".into(),
            ))
        }
    }
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let client =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).store(Box::new(FullDisk)))
            .unwrap();
    for i in 0..4 {
        client.track(event(i));
    }
    assert_eq!(client.flush(), 0);
    assert_eq!(collector.seqs(), [0, 1, 2, 3]);
    let stats = client.stats();
    assert!(
        stats.store_errors >= 5,
        "state save + 4 appends (+ removes): {stats:?}"
    );
    assert!(
        stats.warnings.iter().any(|w| w.contains("No space left")),
        "{:?}",
        stats.warnings
    );
}

// ----- 5. every kind of caller -----

#[test]
fn track_from_plain_threads_without_any_runtime() {
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let client = builder(&collector, &clock, json!({})).build().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    client.track(event(t * 100 + i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let client = BlockingClient::from_client(client);
    assert_eq!(client.flush(), 0);
    assert_eq!(collector.accepted_ids().len(), 100);
}

#[test]
fn build_track_flush_and_shutdown_inside_a_current_thread_runtime() {
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(async {
        let client = builder(&collector, &clock, json!({})).build().unwrap();
        client.track(event(1));
        assert_eq!(client.flush().await, 0);
        client.track(event(2));
        client.shutdown(Duration::from_secs(1)).await
    });
    assert_eq!((report.sent, report.unsent), (2, 0));
}

#[test]
fn track_from_a_drop_impl_while_the_runtime_shuts_down() {
    struct TracksOnDrop(Client);
    impl Drop for TracksOnDrop {
        fn drop(&mut self) {
            self.0.track(Event::track("dropped_during_runtime_shutdown"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Fail(503));
    let clock = ManualClock::new(T0);
    let client = builder(&collector, &clock, json!({}))
        .data_dir(dir.path())
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for _ in 0..3 {
        let guard = TracksOnDrop(client.clone());
        rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await; // dropped when the runtime shuts down
        });
    }
    rt.block_on(async { tokio::task::yield_now().await });
    drop(rt); // drops the pending tasks: their Drop impls call track()
    let blocking = BlockingClient::from_client(client);
    assert!(blocking.sync());
    assert_eq!(blocking.stats().enqueued, 3);
    drop(blocking); // the last handle: waits until everything is written
    assert_eq!(
        rebuild_after_drop(&collector, &clock, dir.path())
            .stats()
            .restored,
        3
    );
}

#[test]
fn track_from_a_thread_local_destructor_at_thread_exit() {
    struct TracksOnDrop(std::cell::RefCell<Option<Client>>);
    impl Drop for TracksOnDrop {
        fn drop(&mut self) {
            if let Some(client) = self.0.borrow_mut().take() {
                client.track(Event::track("thread_exit"));
            }
        }
    }
    thread_local! {
        static GUARD: TracksOnDrop = const { TracksOnDrop(std::cell::RefCell::new(None)) };
    }
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let client = builder(&collector, &clock, json!({})).build().unwrap();
    let moved = client.clone();
    std::thread::spawn(move || GUARD.with(|g| *g.0.borrow_mut() = Some(moved)))
        .join()
        .unwrap();
    let client = BlockingClient::from_client(client);
    assert_eq!(client.flush(), 0);
    assert_eq!(collector.accepted_ids().len(), 1);
}

/// The blocking facade called from async code blocks that thread (documented) but never
/// panics ("Cannot start a runtime from within a runtime") and never deadlocks, even on a
/// current-thread runtime: the worker has its own thread.
#[test]
fn blocking_facade_inside_async_contexts_neither_panics_nor_deadlocks() {
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sent = current.block_on(async {
        let client = BlockingClient::from_builder(builder(&collector, &clock, json!({}))).unwrap();
        client.track(event(1));
        assert_eq!(client.flush(), 0);
        assert!(client.sync());
        client.shutdown(Duration::from_secs(1)).sent
    });
    assert_eq!(sent, 1);
    let multi = tokio::runtime::Runtime::new().unwrap();
    let sent = multi.block_on(async {
        let client = BlockingClient::from_builder(builder(&collector, &clock, json!({}))).unwrap();
        tokio::spawn(async move {
            client.track(event(2));
            assert_eq!(client.flush(), 0);
            let stats = client.stats();
            drop(client); // the last handle dropped inside a task
            stats.sent
        })
        .await
        .unwrap()
    });
    assert_eq!(sent, 1);
}

#[test]
fn dropping_the_last_handle_inside_a_current_thread_runtime_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let collector = FakeCollector::new(Mode::Hang);
    let clock = ManualClock::new(T0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = builder(&collector, &clock, json!({"tracking": {"batch_size": 1}}))
            .data_dir(dir.path())
            .build()
            .unwrap();
        client.track(event(1));
        client.track(event(2));
        drop(client); // a send hangs: drop waits only for the disk writes, not for delivery
    });
    assert_eq!(
        rebuild_after_drop(&collector, &clock, dir.path())
            .stats()
            .restored,
        2
    );
}

#[test]
fn calls_after_shutdown_are_counted_drops_not_panics() {
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let client = BlockingClient::from_builder(builder(&collector, &clock, json!({}))).unwrap();
    client.shutdown(Duration::ZERO);
    client.track(event(1));
    client.grant(&["analytics"]);
    client.identify("u", footfall::Properties::new());
    assert_eq!(client.flush(), 0);
    assert!(!client.sync());
    let report = client.shutdown(Duration::ZERO);
    assert_eq!(report.unsent, 0);
    assert_eq!(
        client.stats().dropped(DropReason::Shutdown),
        2,
        "track and identify"
    );
}

// ----- the application's code panics inside the worker -----

#[test]
fn a_panicking_before_send_hook_costs_one_event_not_the_client() {
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let builder = builder(&collector, &clock, json!({})).before_send(|m| {
        if m.event.as_deref() == Some("boom") {
            panic!("a bug in the application's hook");
        }
        Some(m)
    });
    let client = BlockingClient::from_builder(builder).unwrap();
    client.track(event(0));
    client.track(Event::track("boom"));
    client.track(event(1));
    assert_eq!(client.flush(), 0, "the worker is alive");
    assert_eq!(collector.seqs(), [0, 1]);
    let stats = client.stats();
    assert_eq!(stats.dropped(DropReason::BeforeSend), 1, "counted: {stats:?}");
    assert_eq!(stats.dropped(DropReason::Shutdown), 0);
}

#[test]
fn a_panicking_transport_is_a_failed_attempt_that_is_retried() {
    struct PanicsOnce {
        inner: Arc<FakeCollector>,
        panicked: std::sync::atomic::AtomicBool,
    }
    impl footfall::native::Transport for PanicsOnce {
        fn send(&self, body: Vec<u8>) -> footfall::native::BoxFuture<footfall::Delivery> {
            if !self.panicked.swap(true, Ordering::Relaxed) {
                panic!("a bug in a custom transport");
            }
            self.inner.send(body)
        }
    }
    let collector = FakeCollector::new(Mode::Accept);
    let clock = ManualClock::new(T0);
    let transport = Arc::new(PanicsOnce {
        inner: collector.clone(),
        panicked: Default::default(),
    });
    let client =
        BlockingClient::from_builder(builder(&collector, &clock, json!({})).transport(transport)).unwrap();
    client.track(event(0));
    assert_eq!(
        client.flush(),
        1,
        "the attempt failed and is retried after the backoff"
    );
    clock.advance(5_000);
    assert_eq!(client.flush(), 0);
    assert_eq!(collector.seqs(), [0]);
    assert_eq!(client.stats().retried, 1);
}
