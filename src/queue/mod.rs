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
//!
//! # Layout
//! The queue (this file: [`Queue`], its bound and eviction), one queued message (`entry.rs`:
//! [`Entry`], its size in a batch and where `sentAt` is spliced in) and the batch body
//! (`body.rs`: [`write_body`], [`write_key_field`], [`ENVELOPE_BYTES`]).

use std::collections::VecDeque;

mod body;
mod entry;
#[cfg(test)]
mod tests;

pub use body::{ENVELOPE_BYTES, write_body, write_key_field};
pub use entry::Entry;

use body::batch_bytes;

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
