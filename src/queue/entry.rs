//! [`Entry`]: one queued message, kept as its final JSON plus what the queue needs, and where
//! the per-attempt `sentAt` is spliced into it.

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
