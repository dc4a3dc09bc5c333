//! The intake log on its own: format, replay, torn records, segments.

use super::format::{BatchView, decode_view, encode_batch};
use super::*;
use crate::store::WriteBatch;

pub(in crate::store::duckdb) fn event(i: usize) -> EventRow {
    EventRow {
        project_id: "p".into(),
        message_id: format!("m{i}"),
        kind: "track".into(),
        event: "Signed Up".into(),
        ts: 1_700_000_000_000 + i as i64,
        received_at: 1_700_000_000_500,
        sent_at: i.is_multiple_of(2).then_some(1_700_000_000_400),
        original_timestamp: Some("2023-11-14T22:13:20.000Z".into()),
        anonymous_id: Some(format!("a{i}")),
        user_id: i.is_multiple_of(3).then(|| format!("u{i}")),
        session_id: None,
        group_id: Some("g".into()),
        browser: Some("Chrome".into()),
        os: None,
        device_type: Some("desktop".into()),
        is_bot: i.is_multiple_of(5),
        ip: Some("203.0.113.0".into()),
        properties: format!(r#"{{"i":{i},"s":"é😀"}}"#),
        traits: "{}".into(),
        context: r#"{"library":{"name":"footfall"}}"#.into(),
    }
}

fn batch(from: usize, n: usize) -> WriteBatch {
    WriteBatch {
        events: (from..from + n).map(event).collect(),
        links: vec![IdentityLink {
            project_id: "p".into(),
            anonymous_id: format!("a{from}"),
            user_id: format!("u{from}"),
            linked_at: 7,
        }],
        dead_letters: vec![DeadLetter {
            project_id: None,
            received_at: 9,
            reason: "invalid".into(),
            message_id: Some(format!("bad{from}")),
            payload: "{\"x\":1}".into(),
        }],
    }
}

fn owned(view: BatchView<'_>) -> WriteBatch {
    let text = |s: &str| s.to_string();
    WriteBatch {
        events: view
            .events
            .iter()
            .map(|e| EventRow {
                project_id: text(e.project_id),
                message_id: text(e.message_id),
                kind: text(e.kind),
                event: text(e.event),
                ts: e.ts,
                received_at: e.received_at,
                sent_at: e.sent_at,
                original_timestamp: e.original_timestamp.map(text),
                anonymous_id: e.anonymous_id.map(text),
                user_id: e.user_id.map(text),
                session_id: e.session_id.map(text),
                group_id: e.group_id.map(text),
                browser: e.browser.map(text),
                os: e.os.map(text),
                device_type: e.device_type.map(text),
                is_bot: e.is_bot,
                ip: e.ip.map(text),
                properties: text(e.properties),
                traits: text(e.traits),
                context: text(e.context),
            })
            .collect(),
        links: view.links,
        dead_letters: view.dead_letters,
    }
}

fn add(log: &mut IntakeLog, b: &WriteBatch) {
    let events: Vec<&EventRow> = b.events.iter().collect();
    log.append(&events, &b.links, &b.dead_letters).unwrap();
}

fn pending(log: &IntakeLog) -> Vec<(u64, WriteBatch)> {
    log.pending.iter().map(|r| (r.seq, owned(r.view()))).collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn records_round_trip_and_replay_after_the_loaded_seq() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = IntakeLog::open(Some(dir.path().into()), 0).unwrap();
    add(&mut log, &batch(0, 3));
    add(&mut log, &WriteBatch::default()); // nothing to log
    add(&mut log, &batch(3, 2));
    assert_eq!(log.pending_rows(), 5);
    let written = pending(&log);
    assert_eq!(written.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2]);
    drop(log); // a crash: nothing loaded

    let replayed = IntakeLog::open(Some(dir.path().into()), 0).unwrap();
    assert_eq!(pending(&replayed), written);
    assert_eq!(replayed.pending_rows(), 5);
    let after_first = IntakeLog::open(Some(dir.path().into()), 1).unwrap();
    assert_eq!(pending(&after_first), written[1..]);
    // Sequence numbers continue after everything seen, loaded or not.
    let mut all_loaded = IntakeLog::open(Some(dir.path().into()), 2).unwrap();
    assert!(pending(&all_loaded).is_empty());
    add(&mut all_loaded, &batch(9, 1));
    assert_eq!(pending(&all_loaded)[0].0, 3);
}

#[test]
fn replay_cuts_a_torn_tail_and_skips_only_a_corrupt_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = IntakeLog::open(Some(dir.path().into()), 0).unwrap();
    for k in 0..3 {
        add(&mut log, &batch(k * 10, 4));
    }
    let written = pending(&log);
    drop(log);
    let file = segments(dir.path()).pop().unwrap();
    let full = fs::read(&file).unwrap();

    // Torn: the last record lacks its final bytes.
    fs::write(&file, &full[..full.len() - 3]).unwrap();
    assert_eq!(
        pending(&IntakeLog::open(Some(dir.path().into()), 0).unwrap()),
        written[..2]
    );
    // Corrupt: one flipped byte inside the second record's payload.
    let mut bad = full.clone();
    let second = full.len() / 2;
    bad[second] ^= 0x40;
    fs::write(&file, &bad).unwrap();
    assert_eq!(
        pending(&IntakeLog::open(Some(dir.path().into()), 0).unwrap()),
        [written[0].clone(), written[2].clone()],
        "the records after a damaged one are recovered"
    );
    let (_, damage) = read_segment(&bad);
    assert_eq!(damage.len(), 1);
    assert!(damage[0].mid && !damage[0].short, "{damage:?}");
    // The first record damaged: the rest is still found.
    let mut head = full.clone();
    head[HEADER + 5] ^= 0x01;
    assert_eq!(read_segment(&head).0.len(), 2);
    // Garbage before the first record (or a damaged magic) is skipped the same way.
    let mut garbage = b"garbage".to_vec();
    garbage.extend_from_slice(&full);
    assert_eq!(read_segment(&garbage).0.len(), 3);
    // A corrupt last record of full length is reported, not taken for a short write.
    let mut last = full.clone();
    let n = last.len();
    last[n - 2] ^= 0x10;
    let (records, damage) = read_segment(&last);
    assert_eq!(records.len(), 2);
    assert!(!damage[0].mid && !damage[0].short, "{damage:?}");
    let (_, damage) = read_segment(&full[..full.len() - 3]);
    assert!(!damage[0].mid && damage[0].short, "{damage:?}");
    // Garbage after valid records (a torn header) is ignored too.
    let mut tail = full.clone();
    tail.extend_from_slice(b"FFI1\xff\xff");
    fs::write(&file, &tail).unwrap();
    assert_eq!(
        pending(&IntakeLog::open(Some(dir.path().into()), 0).unwrap()),
        written
    );
}

#[test]
fn a_load_takes_sealed_segments_and_later_appends_start_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = IntakeLog::open(Some(dir.path().into()), 0).unwrap();
    add(&mut log, &batch(0, 2));
    assert!(log.has_pending() && !log.load_due());
    let taken = log.take();
    assert!(
        log.has_pending(),
        "a load in progress still counts as pending for readers"
    );
    assert_eq!(taken.records.len(), 1);
    add(&mut log, &batch(2, 1));
    assert_eq!(segments(dir.path()).len(), 2);
    log.finish(taken.segments);
    assert_eq!(segments(dir.path()).len(), 1, "the loaded segment is deleted");
    assert_eq!(pending(&log).iter().map(|(s, _)| *s).collect::<Vec<_>>(), [2]);

    // A failed load puts its records back in front of newer ones, with their segments.
    let taken = log.take();
    add(&mut log, &batch(3, 1));
    log.restore(taken);
    assert_eq!(pending(&log).iter().map(|(s, _)| *s).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(log.pending_rows(), 2);
    assert!(log.load_due(), "restored records are due at once");
    let taken = log.take();
    log.finish(taken.segments);
    assert!(segments(dir.path()).is_empty());
    assert!(!log.has_pending());
}

#[test]
fn the_row_threshold_makes_a_load_due() {
    let mut log = IntakeLog::open(None, 0).unwrap();
    add(&mut log, &batch(0, LOAD_ROWS - 1));
    assert!(!log.load_due());
    add(&mut log, &batch(LOAD_ROWS, 1));
    assert!(log.load_due());
}

#[test]
fn decoding_never_reads_past_the_payload() {
    let mut buf = Vec::new();
    let b = batch(0, 2);
    let events: Vec<&EventRow> = b.events.iter().collect();
    encode_batch(&mut buf, &events, &b.links, &b.dead_letters);
    assert_eq!(decode_view(&buf).map(owned), Some(batch(0, 2)));
    for cut in 0..buf.len() {
        assert!(decode_view(&buf[..cut]).is_none(), "cut at {cut}");
    }
    // A huge count with few bytes left is refused before allocating.
    let mut huge = u32::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(&[0; 64]);
    assert!(decode_view(&huge).is_none());
}

/// After a reopen, a failed load whose commit was durable: what the database holds is forgotten,
/// the rest stays pending, and the counts follow.
#[test]
fn forget_loaded_drops_what_the_database_holds() {
    let mut log = IntakeLog::open(None, 0).unwrap();
    add(&mut log, &batch(0, 3));
    add(&mut log, &batch(3, 2));
    add(&mut log, &batch(5, 4));
    let taken = log.take();
    log.complete(taken, false); // the load reported a failure
    assert_eq!(log.pending_rows(), 9);
    assert_eq!(log.forget_loaded(2), 2, "records 1 and 2 were committed");
    assert_eq!(log.pending_rows(), 4);
    assert_eq!(log.backlog().load(Ordering::Relaxed), 4);
    assert_eq!(pending(&log).iter().map(|(s, _)| *s).collect::<Vec<_>>(), [3]);
    assert!(log.has_pending());
    assert_eq!(log.forget_loaded(3), 1);
    assert_eq!(
        (log.pending_rows(), log.backlog().load(Ordering::Relaxed)),
        (0, 0)
    );
    assert!(!log.load_due(), "nothing left to load");
    assert_eq!(log.forget_loaded(3), 0);
}
