//! The bounded delivery queue and the batch body writer.
//!
//! Each queued message is kept as its final JSON (serialized once, at enqueue, without
//! `sentAt`) plus the few fields the queue needs (id, category, enqueue time, attempts). A batch
//! body is then written by concatenation: `{"batch":[{…,"timestamp":"…","sentAt":"…",…},…],
//! "sentAt":"…"}` — splicing the per-attempt `sentAt` right after each message's `timestamp`,
//! where the golden fixtures have it — with no re-serialization, which makes building a batch a
//! couple of memcpys.
//!
//! The bound (`tracking.max_queue_size`) counts waiting and in-flight messages. When full, the
//! oldest waiting non-`necessary` message is evicted; a new non-`necessary` message is refused
//! when only `necessary` ones are waiting.

use std::collections::VecDeque;

use crate::consent::NECESSARY;
use crate::store::StoredMessage;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: Box<str>,
    /// The consent category. Each entry owns its copy (a few bytes): sharing one `Arc<str>` per
    /// category cost more code in the browser bundle than it saved memory.
    pub category: Box<str>,
    pub enqueued_at: u64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The message JSON without `sentAt`; always starts with `{"`.
    pub json: Box<str>,
    /// Where `sentAt` is spliced in: right after the top-level `timestamp` (0: first).
    pub sent_at: u32,
    /// Its consent was withdrawn while it was in flight (it is already forgotten in the store):
    /// a failed attempt drops it even if the consent came back meanwhile.
    pub withdrawn: bool,
}

impl Entry {
    pub fn is_necessary(&self) -> bool {
        &*self.category == NECESSARY
    }

    /// Bytes this message adds to a batch body (its JSON, the spliced `sentAt`, a comma).
    pub fn batch_bytes(&self) -> usize {
        self.json.len() + SENT_AT_FIELD + 1
    }

    /// A new entry; `sent_at` is the splice position when the writer knows it, else it is
    /// looked up.
    pub fn new(
        id: Box<str>,
        category: Box<str>,
        enqueued_at: u64,
        json: Box<str>,
        sent_at: Option<usize>,
    ) -> Entry {
        let sent_at = sent_at.or_else(|| sent_at_position(&json)).unwrap_or(0) as u32;
        Entry {
            id,
            category,
            enqueued_at,
            attempts: 0,
            json,
            sent_at,
            withdrawn: false,
        }
    }

    pub fn from_stored(m: StoredMessage) -> Entry {
        Entry::new(
            m.message_id.into(),
            m.category.into(),
            m.enqueued_at,
            m.json.into(),
            None,
        )
    }
}

/// `"sentAt":"2026-11-28T20:49:12.345Z",`
const SENT_AT_FIELD: usize = r#""sentAt":"","#.len() + 24;
/// `{"batch":[` + `],"sentAt":"2026-11-28T20:49:12.345Z"}`
pub const ENVELOPE_BYTES: usize = r#"{"batch":[],"sentAt":""}"#.len() + 24;

/// What [`Queue::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; nothing else changed.
    Queued,
    /// Queued, and this older message was evicted to make room.
    Evicted(Entry),
    /// Not queued: the queue is full of messages that may not be evicted for it.
    Refused(Entry),
}

/// The waiting messages (in order) and the count of messages in flight.
#[derive(Debug, Default)]
pub struct Queue {
    /// Oldest first. A deque, not a `Vec` (tried for the browser bundle: −0.6 KB gz): a full
    /// queue evicts at the front on every push and batches leave from the front, which a `Vec`
    /// pays with a move of every waiting entry — per event for a server SDK backlogged behind a
    /// failing collector with a large `max_queue_size`.
    waiting: VecDeque<Entry>,
    waiting_bytes: usize,
    in_flight: usize,
}

impl Queue {
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn waiting_bytes(&self) -> usize {
        self.waiting_bytes
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Enqueue time of the first waiting message.
    pub fn oldest(&self) -> Option<u64> {
        self.waiting.front().map(|e| e.enqueued_at)
    }

    /// The newest waiting message.
    pub fn last(&self) -> Option<&Entry> {
        self.waiting.back()
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.waiting.iter()
    }

    /// Appends `entry`, keeping waiting + in-flight at most `max`.
    pub fn push(&mut self, entry: Entry, max: usize) -> Pushed {
        if self.waiting.len() + self.in_flight < max {
            self.push_back(entry);
            return Pushed::Queued;
        }
        // The oldest non-necessary message (by index, as everywhere in the queue: no deque
        // iterator in the browser bundle) ...
        let len = self.waiting.len();
        let mut i = 0;
        while i < len && self.waiting[i].is_necessary() {
            i += 1;
        }
        let victim = if i < len {
            Some(i)
        } else {
            // ... or, when only necessary messages wait, the oldest of them for a necessary
            // newcomer.
            (entry.is_necessary() && len > 0).then_some(0)
        };
        match victim.and_then(|i| self.remove_at(i)) {
            Some(old) => {
                self.waiting_bytes -= old.batch_bytes();
                self.push_back(entry);
                Pushed::Evicted(old)
            }
            None => Pushed::Refused(entry),
        }
    }

    /// Takes out the waiting message at `i`: moved to the front by swapping it past the `i`
    /// before it (which keep their order), then popped — the same O(i) as the search that found
    /// `i`, without `VecDeque::remove`'s shifting code in the browser bundle. Usually `i` is 0.
    fn remove_at(&mut self, mut i: usize) -> Option<Entry> {
        while i > 0 {
            self.waiting.swap(i, i - 1);
            i -= 1;
        }
        self.waiting.pop_front()
    }

    fn push_back(&mut self, entry: Entry) {
        self.waiting_bytes += entry.batch_bytes();
        self.waiting.push_back(entry);
    }

    /// Takes up to `max_count` messages from the front whose body fits `max_body_bytes` (at
    /// least one message, if any waits and fits alone). They count as in flight.
    pub fn take(&mut self, max_count: usize, max_body_bytes: usize) -> Vec<Entry> {
        let mut bytes = ENVELOPE_BYTES;
        let mut n = 0;
        while n < max_count && n < self.waiting.len() {
            let size = self.waiting[n].batch_bytes();
            if bytes + size > max_body_bytes {
                break;
            }
            bytes += size;
            n += 1;
        }
        let taken = self.split_front(n);
        self.in_flight += taken.len();
        taken
    }

    /// The first `n` waiting messages, taken out (`pop_front` rather than `drain(..n)`: no drain
    /// machinery in the browser bundle).
    fn split_front(&mut self, n: usize) -> Vec<Entry> {
        let mut front = Vec::with_capacity(n);
        while front.len() < n {
            match self.waiting.pop_front() {
                Some(e) => front.push(e),
                None => break,
            }
        }
        self.waiting_bytes -= batch_bytes(&front);
        front
    }

    /// Messages of a batch come back from flight (delivered or not).
    pub fn landed(&mut self, n: usize) {
        self.in_flight = self.in_flight.saturating_sub(n);
    }

    /// Puts messages back at the front, in their order (for another attempt).
    pub fn requeue_front(&mut self, mut entries: Vec<Entry>) {
        self.waiting_bytes += batch_bytes(&entries);
        while let Some(e) = entries.pop() {
            self.waiting.push_front(e);
        }
    }

    /// Removes and returns every waiting message matching `pred`.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        while let Some(e) = self.waiting.pop_front() {
            if pred(&e) {
                removed.push(e);
            } else {
                kept.push_back(e);
            }
        }
        self.waiting_bytes -= batch_bytes(&removed);
        self.waiting = kept;
        removed
    }

    /// Removes and returns the messages at the front that match `pred`, up to the first that
    /// does not.
    pub fn pop_front_while(&mut self, mut pred: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut n = 0;
        while n < self.waiting.len() && pred(&self.waiting[n]) {
            n += 1;
        }
        self.split_front(n)
    }
}

/// Writes a batch body. `sent_at` is the RFC 3339 attempt time (24 bytes); `write_key` is
/// included for transports that cannot send headers (`sendBeacon`).
/// Where `sentAt` goes in a message's JSON: right after its top-level `timestamp` (the fields
/// before it are ids, whose string values cannot contain the unescaped key). `None` when there
/// is no timestamp (then it goes first).
fn sent_at_position(json: &str) -> Option<usize> {
    const KEY: &[u8] = b",\"timestamp\":\"";
    let b = json.as_bytes();
    // (A plain loop over `starts_with`: no `Windows` iterator in the browser bundle.)
    let mut at = 0;
    while !b[at..].starts_with(KEY) {
        at += 1;
        if at >= b.len() {
            return None;
        }
    }
    let start = at + KEY.len();
    b[start..]
        .iter()
        .position(|&c| c == b'"')
        .map(|end| start + end + 1)
}

/// The sum of [`Entry::batch_bytes`] over `entries`.
fn batch_bytes(entries: &[Entry]) -> usize {
    let mut n = 0;
    for e in entries {
        n += e.batch_bytes();
    }
    n
}

/// `,"writeKey":"…"` for `write_key`, as a batch body carries it.
pub fn write_key_field(write_key: &str) -> String {
    let mut out = String::from(",\"writeKey\":");
    crate::json::write_str(&mut out, write_key);
    out
}

/// Writes a batch body. `sent_at` is the RFC 3339 attempt time (24 bytes); `key_field` is
/// [`write_key_field`] for transports that cannot send headers (`sendBeacon`, CORS-simple
/// `fetch`), or empty.
pub fn write_body(entries: &[Entry], sent_at: &str, key_field: &str) -> Vec<u8> {
    let size = ENVELOPE_BYTES + batch_bytes(entries) + key_field.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"batch\":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let json = e.json.as_bytes();
        match e.sent_at as usize {
            0 => {
                out.extend_from_slice(b"{\"sentAt\":\"");
                out.extend_from_slice(sent_at.as_bytes());
                out.extend_from_slice(b"\",");
                out.extend_from_slice(&json[1..]);
            }
            at => {
                out.extend_from_slice(&json[..at]);
                out.extend_from_slice(b",\"sentAt\":\"");
                out.extend_from_slice(sent_at.as_bytes());
                out.push(b'"');
                out.extend_from_slice(&json[at..]);
            }
        }
    }
    out.extend_from_slice(b"],\"sentAt\":\"");
    out.extend_from_slice(sent_at.as_bytes());
    out.push(b'"');
    out.extend_from_slice(key_field.as_bytes());
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
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
}
