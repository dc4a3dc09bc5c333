use super::*;
#[cfg(feature = "serde")]
use crate::message::Batch;

fn entry(id: &str, category: &str) -> Entry {
    let json = format!(
        r#"{{"type":"track","messageId":"{id}","anonymousId":"a","timestamp":"2026-11-28T10:00:00.000Z","event":"e","context":{{"category":"{category}"}}}}"#
    );
    Entry::new(id.into(), category.into(), 0, json.into(), None)
}

#[cfg(feature = "serde")]
#[test]
fn body_is_a_valid_segment_batch_with_sent_at_everywhere() {
    let entries = vec![entry("1", "analytics"), entry("2", "necessary")];
    let sent_at = "2026-11-28T10:00:01.000Z";
    let body = write_body(&entries, sent_at, &write_key_field("key\"1"));
    let batch: Batch = serde_json::from_slice(&body).unwrap();
    assert_eq!(batch.batch.len(), 2);
    assert_eq!(batch.sent_at.as_deref(), Some(sent_at));
    assert_eq!(batch.write_key.as_deref(), Some("key\"1"));
    assert!(batch.batch.iter().all(|m| m.sent_at.as_deref() == Some(sent_at)));
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains(
            r#""timestamp":"2026-11-28T10:00:00.000Z","sentAt":"2026-11-28T10:00:01.000Z","event""#
        ),
        "sentAt follows timestamp: {text}"
    );
    assert_eq!(batch.batch[1].message_id, "2");
    let exact = ENVELOPE_BYTES + entries.iter().map(Entry::batch_bytes).sum::<usize>() - 1;
    assert_eq!(write_body(&entries, sent_at, "").len(), exact);
}

#[test]
fn full_queue_evicts_oldest_non_necessary() {
    let mut q = Queue::default();
    assert_eq!(q.push(entry("n1", "necessary"), 3), Pushed::Queued);
    assert_eq!(q.push(entry("a1", "analytics"), 3), Pushed::Queued);
    assert_eq!(q.push(entry("a2", "analytics"), 3), Pushed::Queued);
    match q.push(entry("a3", "analytics"), 3) {
        Pushed::Evicted(e) => assert_eq!(&*e.id, "a1"),
        other => panic!("{other:?}"),
    }
    let ids: Vec<&str> = q.iter().map(|e| &*e.id).collect();
    assert_eq!(ids, ["n1", "a2", "a3"]);
}

#[test]
fn eviction_behind_necessary_messages_keeps_the_order() {
    let mut q = Queue::default();
    // Moves the deque's head, so the entries below wrap around its buffer.
    for id in ["x", "y", "z"] {
        q.push(entry(id, "analytics"), 4);
    }
    assert_eq!(q.take(3, usize::MAX).len(), 3);
    q.landed(3);
    for (id, category) in [
        ("n1", "necessary"),
        ("n2", "necessary"),
        ("n3", "necessary"),
        ("a1", "analytics"),
        ("a2", "analytics"),
    ] {
        q.push(entry(id, category), 5);
    }
    match q.push(entry("a3", "analytics"), 5) {
        Pushed::Evicted(e) => assert_eq!(&*e.id, "a1"),
        other => panic!("{other:?}"),
    }
    let ids: Vec<&str> = q.iter().map(|e| &*e.id).collect();
    assert_eq!(ids, ["n1", "n2", "n3", "a2", "a3"]);
    assert_eq!(q.waiting_bytes(), 5 * entry("n1", "necessary").batch_bytes());
}

#[test]
fn full_queue_of_necessary_refuses_others_and_rotates_necessary() {
    let mut q = Queue::default();
    q.push(entry("n1", "necessary"), 2);
    q.push(entry("n2", "necessary"), 2);
    assert!(matches!(q.push(entry("a", "analytics"), 2), Pushed::Refused(e) if &*e.id == "a"));
    assert!(matches!(q.push(entry("n3", "necessary"), 2), Pushed::Evicted(e) if &*e.id == "n1"));
}

#[test]
fn in_flight_counts_toward_the_bound() {
    let mut q = Queue::default();
    q.push(entry("1", "analytics"), 2);
    q.push(entry("2", "analytics"), 2);
    assert_eq!(q.take(10, usize::MAX).len(), 2);
    assert!(matches!(q.push(entry("3", "analytics"), 2), Pushed::Refused(_)));
    q.landed(2);
    assert_eq!(q.push(entry("3", "analytics"), 2), Pushed::Queued);
}

#[test]
fn take_respects_count_and_bytes_and_requeue_keeps_order() {
    let mut q = Queue::default();
    for i in 0..5 {
        q.push(entry(&i.to_string(), "analytics"), 100);
    }
    let one = entry("0", "analytics").batch_bytes();
    assert_eq!(q.take(2, usize::MAX).len(), 2);
    let by_bytes = q.take(10, ENVELOPE_BYTES + 2 * one);
    assert_eq!(by_bytes.len(), 2);
    assert_eq!(q.take(10, ENVELOPE_BYTES).len(), 0, "nothing fits");
    q.requeue_front(by_bytes);
    let ids: Vec<&str> = q.iter().map(|e| &*e.id).collect();
    assert_eq!(ids, ["2", "3", "4"]);
    assert_eq!(q.waiting_bytes(), 3 * one);
    let removed = q.remove_where(|e| &*e.id == "3");
    assert_eq!(removed.len(), 1);
    assert_eq!(q.waiting_bytes(), 2 * one);
}

#[test]
fn pop_front_while_takes_the_matching_front_only() {
    let mut q = Queue::default();
    for (i, at) in [1, 2, 9, 1].into_iter().enumerate() {
        let mut e = entry(&i.to_string(), "analytics");
        e.enqueued_at = at;
        q.push(e, 100);
    }
    let old: Vec<Box<str>> = q
        .pop_front_while(|e| e.enqueued_at < 5)
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(old, ["0".into(), "1".into()] as [Box<str>; 2]);
    let ids: Vec<&str> = q.iter().map(|e| &*e.id).collect();
    assert_eq!(ids, ["2", "3"], "stops at the first that does not match");
    assert_eq!(q.waiting_bytes(), 2 * entry("0", "analytics").batch_bytes());
    assert!(q.pop_front_while(|_| false).is_empty());
    assert_eq!(q.pop_front_while(|_| true).len(), 2);
    assert!(q.is_empty() && q.waiting_bytes() == 0);
}
