//! A data dir damaged in every way we could think of: `queue.log` truncated at every byte,
//! every byte flipped, zero-filled, garbage before/between/after records, a valid record with
//! a wrong checksum, huge length prefixes; a corrupt remove record; `state.json` and
//! `settings` unreadable; leftovers of an interrupted compaction; `queue.log` a directory.
//! Always: no panic, a warning, every intact record restored (and delivered by a client).

mod support;

use std::path::Path;
use std::sync::Arc;

use footfall::native::FileStore;
use footfall::store::{Restored, Store, StoredMessage, StoredMessageRef};
use footfall::testing::{ManualClock, SeededRng};
use footfall::{BlockingClient, Client};
use serde_json::json;
use support::transport::{FakeCollector, Mode};

const MAGIC: &[u8] = b"FFQ1";
const HEADER: usize = 12;

fn message(i: usize) -> StoredMessage {
    StoredMessage {
        message_id: format!("id-{i}"),
        category: "analytics".into(),
        enqueued_at: 1_764_324_000_000,
        json: format!(
            r#"{{"type":"track","event":"e","messageId":"id-{i}","anonymousId":"a","timestamp":"2025-11-28T10:00:00.000Z","properties":{{"i":{i}}}}}"#
        ),
    }
}

/// A log with `n` add records written by the store itself; returns its bytes and the offset
/// where each record starts.
fn write_log(dir: &Path, n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut store = FileStore::open(dir).unwrap();
    store.load().unwrap();
    for i in 0..n {
        let m = message(i);
        let r = StoredMessageRef {
            message_id: &m.message_id,
            category: &m.category,
            enqueued_at: m.enqueued_at,
            json: &m.json,
        };
        store.append(&[r]).unwrap();
    }
    drop(store);
    let bytes = std::fs::read(dir.join("queue.log")).unwrap();
    let starts = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
        .collect();
    (bytes, starts)
}

fn load_with(dir: &Path, log: &[u8]) -> Restored {
    std::fs::write(dir.join("queue.log"), log).unwrap();
    FileStore::open(dir).unwrap().load().unwrap()
}

fn ids(r: &Restored) -> Vec<String> {
    r.messages.iter().map(|m| m.message_id.clone()).collect()
}

fn expected(range: impl IntoIterator<Item = usize>) -> Vec<String> {
    range.into_iter().map(|i| format!("id-{i}")).collect()
}

#[test]
fn truncated_at_every_byte_keeps_every_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = write_log(dir.path(), 4);
    for cut in 0..=bytes.len() {
        let restored = load_with(dir.path(), &bytes[..cut]);
        let whole = starts
            .iter()
            .skip(1)
            .chain([&bytes.len()])
            .filter(|&&end| end <= cut)
            .count();
        assert_eq!(ids(&restored), expected(0..whole), "cut at {cut}");
        let torn = !starts.contains(&cut) && cut != bytes.len();
        assert_eq!(
            !restored.warnings.is_empty(),
            torn,
            "cut at {cut}: {:?}",
            restored.warnings
        );
        assert_eq!(restored.messages, (0..whole).map(message).collect::<Vec<_>>());
    }
}

#[test]
fn any_flipped_byte_loses_only_the_record_it_hit() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = write_log(dir.path(), 3);
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        let hit = starts.iter().rposition(|&s| s <= at).unwrap();
        let restored = load_with(dir.path(), &damaged);
        let want: Vec<String> = expected((0..3).filter(|&i| i != hit));
        assert_eq!(ids(&restored), want, "byte {at} flipped");
        assert!(!restored.warnings.is_empty(), "byte {at}: a warning");
    }
}

#[test]
fn zero_filled_garbage_and_wrong_checksums_are_skipped_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = write_log(dir.path(), 4);
    let second = starts[1]..starts[2];

    // A file of zeros (a crash after the size was extended, before the data landed).
    let r = load_with(dir.path(), &[0u8; 4096]);
    assert!(r.messages.is_empty() && r.warnings.len() == 1, "{r:?}");

    // The second record zero-filled in place.
    let mut zeroed = bytes.clone();
    zeroed[second.clone()].fill(0);
    let r = load_with(dir.path(), &zeroed);
    assert_eq!(ids(&r), expected([0, 2, 3]));
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);

    // Garbage before, between and after the records (pseudo-random, with stray markers).
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut garbage = |n: usize| -> Vec<u8> {
        let mut g: Vec<u8> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        g[n / 2..n / 2 + 4].copy_from_slice(MAGIC);
        g
    };
    let mut noisy = garbage(300);
    for (k, s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(bytes.len());
        noisy.extend_from_slice(&bytes[*s..end]);
        noisy.extend(garbage(100 + k));
    }
    let r = load_with(dir.path(), &noisy);
    assert_eq!(ids(&r), expected(0..4));
    assert!(!r.warnings.is_empty());

    // A valid record whose checksum was written wrong.
    let mut wrong_crc = bytes.clone();
    wrong_crc[second.start + 8] = wrong_crc[second.start + 8].wrapping_add(1);
    let r = load_with(dir.path(), &wrong_crc);
    assert_eq!(ids(&r), expected([0, 2, 3]));
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn huge_length_prefixes_are_skipped_without_allocating_them() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = write_log(dir.path(), 3);
    for len in [
        u32::MAX,
        16 * 1024 * 1024,
        16 * 1024 * 1024 + 1,
        bytes.len() as u32,
    ] {
        let mut damaged = bytes.clone();
        damaged[starts[1] + 4..starts[1] + 8].copy_from_slice(&len.to_le_bytes());
        let r = load_with(dir.path(), &damaged);
        assert_eq!(ids(&r), expected([0, 2]), "length {len}");
        // A lone header claiming a huge record at the very end.
        let mut tail = bytes.clone();
        tail.extend_from_slice(MAGIC);
        tail.extend_from_slice(&len.to_le_bytes());
        tail.extend_from_slice(&[0; 4]);
        let r = load_with(dir.path(), &tail);
        assert_eq!(ids(&r), expected(0..3), "length {len} at the end");
        assert_eq!(r.warnings.len(), 1);
    }
}

/// A remove record lost to corruption brings its messages back: they are delivered again with
/// the same messageId (the collector de-duplicates) — at least once, never lost.
#[test]
fn a_corrupt_remove_record_resends_rather_than_loses() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = write_log(dir.path(), 3);
    let mut store = FileStore::open(dir.path()).unwrap();
    store.load().unwrap();
    store.remove(&["id-1"]).unwrap();
    drop(store);
    let mut bytes = std::fs::read(dir.path().join("queue.log")).unwrap();
    let last = bytes.windows(4).rposition(|w| w == MAGIC).unwrap();
    bytes[last + HEADER] ^= 0xff; // the remove record's payload
    let r = load_with(dir.path(), &bytes);
    assert_eq!(ids(&r), expected(0..3));
    assert_eq!(r.messages[1], message(1), "byte-for-byte, same messageId");
}

#[test]
fn unreadable_state_settings_and_compaction_leftovers_never_stop_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = write_log(dir.path(), 3);
    let mut damaged = bytes.clone();
    damaged.truncate(bytes.len() - 3); // a torn last record
    std::fs::write(dir.path().join("queue.log"), &damaged).unwrap();
    std::fs::write(dir.path().join("state.json"), [0u8; 64]).unwrap();
    std::fs::write(dir.path().join("settings"), b"{\"version\":").unwrap();
    std::fs::write(dir.path().join("queue.tmp"), b"FFQ1 half a compaction").unwrap();
    std::fs::write(dir.path().join("state.tmp"), b"{").unwrap();

    let collector = FakeCollector::new(Mode::Accept);
    let builder = Client::builder("wk_test")
        .config(footfall::Config::from_value(json!({})).unwrap())
        .transport(collector.clone())
        .clock(Arc::new(ManualClock::new(1_764_324_000_000)))
        .rng(Box::new(SeededRng::new(9)))
        .data_dir(dir.path());
    let client = BlockingClient::from_builder(builder).unwrap();
    let stats = client.stats();
    assert_eq!(stats.restored, 2);
    let warnings = stats.warnings.join("\n");
    assert!(
        warnings.contains("queue.log") && warnings.contains("state.json"),
        "{warnings}"
    );
    assert_eq!(client.flush(), 0);
    assert_eq!(
        collector.accepted_ids(),
        expected(0..2),
        "the intact records delivered"
    );
    client.shutdown(std::time::Duration::ZERO);
}

/// `queue.log` replaced by a directory: nothing can be read or written there, so the client
/// runs from memory and counts every failed write.
#[test]
fn a_directory_in_place_of_the_log_degrades_to_memory_with_counted_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("queue.log")).unwrap();
    let collector = FakeCollector::new(Mode::Accept);
    let builder = Client::builder("wk_test")
        .transport(collector.clone())
        .clock(Arc::new(ManualClock::new(1_764_324_000_000)))
        .rng(Box::new(SeededRng::new(10)))
        .data_dir(dir.path());
    let client = BlockingClient::from_builder(builder).unwrap();
    client.track(footfall::Event::track("e"));
    assert_eq!(client.flush(), 0);
    assert_eq!(collector.accepted_ids().len(), 1);
    let stats = client.stats();
    assert!(stats.store_errors >= 2, "{stats:?}");
    assert!(
        stats.warnings.iter().any(|w| w.contains("queue.log")),
        "{:?}",
        stats.warnings
    );
}
