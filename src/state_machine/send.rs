//! Batching and delivery: when a batch is ready, what goes in it, and what a delivery outcome
//! does to its messages (see [`crate::delivery`] for the policy table).

use crate::delivery::{Delivery, Verdict, backoff_ms, classify};
use crate::queue::{ENVELOPE_BYTES, Entry, write_body, write_key_field};
use crate::stats::{DropReason, LogEvent, Rejection};

use super::Core;

/// A batch for the host to send: POST `body` to [`Core::batch_url`] with
/// `Content-Type: application/json` and the [`Core::authorization`] header (gzip optional) —
/// or, with [`Core::set_write_key_in_body`], as `text/plain` without headers — then report the
/// outcome with [`Core::report`] and this `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingBatch {
    pub id: u64,
    /// `{"batch":[...],"sentAt":"..."}` (with `writeKey` when asked for).
    pub body: Vec<u8>,
    /// How many messages it carries.
    pub messages: usize,
}

impl Core {
    /// Asks for everything queued to be sent as soon as possible, ignoring `batch_size` and
    /// `flush_interval` (still respecting backoff and `max_in_flight`). Drive with
    /// [`Core::poll_batch`] as usual.
    pub fn flush(&mut self) {
        self.flush_requested = !self.queue.is_empty();
    }

    /// Asks for the next attempt to happen now rather than after the backoff (the host's
    /// connectivity came back: the browser's `online` event). Attempt counts are kept; the next
    /// failure backs off as usual.
    pub fn retry_now(&mut self) {
        self.retry_at = 0;
    }

    fn ready(&self, now: u64) -> bool {
        let t = &self.config.tracking;
        self.flush_requested
            || self.split_limit.is_some()
            || self.queue.waiting() >= t.batch_size
            || self.queue.waiting_bytes() + ENVELOPE_BYTES + self.key_field.len() >= t.max_batch_bytes
            || self
                .queue
                .oldest()
                .is_some_and(|o| now >= o.saturating_add(self.limits.flush_interval_ms))
    }

    /// When the host should call [`Core::poll_batch`] — and, if it fetches the privacy
    /// settings ([`Core::set_settings_fetch`]), [`Core::poll_settings`] — next (ms since the
    /// epoch; `now` or earlier means right away), or `None` when nothing is due until the next
    /// `track`, consent change, [`Core::report`] or [`Core::report_settings`].
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        match (self.delivery_wakeup(now), self.settings_wakeup()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn delivery_wakeup(&self, now: u64) -> Option<u64> {
        let oldest = self.queue.oldest()?;
        if self.in_flight.len() >= self.config.delivery.max_in_flight {
            return None;
        }
        let ready_at = if self.ready(now) {
            now
        } else {
            oldest.saturating_add(self.limits.flush_interval_ms)
        };
        let expiry = oldest.saturating_add(self.limits.max_age_ms).saturating_add(1);
        let hold = self.settings_hold(now);
        Some(ready_at.max(self.retry_at).max(hold).min(expiry))
    }

    /// The next batch to send, if one is due at `now` (thresholds reached, flush requested, not
    /// backing off, fewer than `delivery.max_in_flight` batches out, not waiting for the first
    /// settings answer — see [`crate::settings_fetch::SETTINGS_WAIT_MS`]). Call until it returns
    /// `None`. Its messages count as in flight until [`Core::report`].
    pub fn poll_batch(&mut self, now: u64) -> Option<OutgoingBatch> {
        self.save_state_if_due(now);
        self.expire(now);
        if self.queue.is_empty() {
            self.flush_requested = false;
            self.split_limit = None;
            return None;
        }
        if self.in_flight.len() >= self.config.delivery.max_in_flight
            || now < self.retry_at
            || now < self.settings_hold(now)
            || !self.ready(now)
        {
            return None;
        }
        let max_count = self
            .config
            .tracking
            .batch_size
            .min(self.split_limit.unwrap_or(usize::MAX));
        let limit = self
            .config
            .tracking
            .max_batch_bytes
            .saturating_sub(self.key_field.len());
        let entries = self.queue.take(max_count, limit);
        if self.queue.is_empty() {
            self.flush_requested = false;
        }
        (!entries.is_empty()).then(|| self.hand_out(entries, now, None))
    }

    /// Everything queued now, in batches whose bodies are at most `max_bytes` (e.g. 64 KB for
    /// `sendBeacon` / `fetch(keepalive)` on page hide), ignoring thresholds, backoff and
    /// `max_in_flight`. With `write_key_in_body` (or [`Core::set_write_key_in_body`]) each body
    /// carries `writeKey` (for transports that cannot set headers). Report each like any batch
    /// (`Delivery::Beacon`). Also saves the persisted state.
    pub fn flush_all(&mut self, now: u64, max_bytes: usize, write_key_in_body: bool) -> Vec<OutgoingBatch> {
        self.persist(now);
        self.expire(now);
        let key = if write_key_in_body && self.key_field.is_empty() {
            Some(write_key_field(&self.config.delivery.write_key))
        } else {
            None
        };
        let key_bytes = key.as_ref().map_or(self.key_field.len(), String::len);
        let limit = max_bytes
            .min(self.config.tracking.max_batch_bytes)
            .saturating_sub(key_bytes);
        let mut out = Vec::new();
        loop {
            let entries = self.queue.take(usize::MAX, limit);
            if entries.is_empty() {
                break;
            }
            out.push(self.hand_out(entries, now, key.as_deref()));
        }
        self.flush_requested = !self.queue.is_empty();
        out
    }

    /// `key_field`: the `,"writeKey":…` to add, when not every body carries it anyway.
    fn hand_out(&mut self, entries: Vec<Entry>, now: u64, key_field: Option<&str>) -> OutgoingBatch {
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        let sent_at = crate::time::format_rfc3339_ms(now);
        let body = write_body(&entries, &sent_at, key_field.unwrap_or(&self.key_field));
        let messages = entries.len();
        self.stats.batches += 1;
        self.emit(LogEvent::BatchReady {
            batch_id: id,
            messages,
            bytes: body.len(),
        });
        self.in_flight.push((id, entries));
        OutgoingBatch { id, body, messages }
    }

    /// Drops waiting messages older than `delivery.max_age`.
    fn expire(&mut self, now: u64) {
        let max_age = self.limits.max_age_ms;
        let mut gone = Vec::new();
        for e in self
            .queue
            .pop_front_while(|e| now.saturating_sub(e.enqueued_at) > max_age)
        {
            self.dropped(Some(&e.id), DropReason::Expired, "older than delivery.max_age");
            gone.push(e.id);
        }
        self.forget(&gone);
    }

    /// Reports what happened to batch `batch_id` (see [`crate::delivery`] for the policy). An
    /// unknown id is ignored with a warning.
    pub fn report(&mut self, batch_id: u64, delivery: Delivery, now: u64) {
        let Some(i) = self.in_flight.iter().position(|(id, _)| *id == batch_id) else {
            let mut w = String::from("report for unknown batch ");
            crate::json::push_u64(&mut w, batch_id);
            w.push_str(" ignored");
            return self.warn(&w);
        };
        let (_, mut entries) = self.in_flight.remove(i);
        self.queue.landed(entries.len());
        let verdict = classify(&delivery, now);
        let stale = &mut self.server.stale_batches;
        if let Some(at) = stale.iter().position(|id| *id == batch_id) {
            stale.swap_remove(at);
            if !matches!(verdict, Verdict::Delivered { .. } | Verdict::Refused { .. }) {
                // Built under privacy rules that changed while it was out: re-checked first.
                entries = self.recheck_entries(entries);
                if entries.is_empty() {
                    return;
                }
            }
        }
        match verdict {
            Verdict::Delivered { rejected } => {
                self.failures = 0;
                let mut accepted = entries.len();
                for r in &rejected {
                    if let Some(e) = entries.get(r.index) {
                        accepted -= 1;
                        self.reject(e, &r.reason);
                    }
                }
                self.stats.sent += accepted as u64;
                self.emit(LogEvent::Delivered {
                    batch_id,
                    messages: entries.len(),
                    accepted,
                });
                self.forget_entries(&entries);
            }
            Verdict::Refused { reasons, cause } => {
                for (i, e) in entries.iter().enumerate() {
                    let reason = reasons
                        .iter()
                        .find(|r| r.index == i)
                        .map_or(cause.as_str(), |r| r.reason.as_str());
                    self.reject(e, reason);
                }
                self.forget_entries(&entries);
            }
            Verdict::Split if entries.len() == 1 => {
                self.dropped(
                    Some(&entries[0].id),
                    DropReason::TooLarge,
                    "the collector answered 413 to it alone",
                );
                self.forget_entries(&entries[..1]);
            }
            Verdict::Split => {
                let half = entries.len().div_ceil(2);
                self.split_limit = Some(self.split_limit.map_or(half, |l| l.min(half)));
                self.stats.retried += entries.len() as u64;
                let mut cause = String::from("HTTP 413; next batches carry at most ");
                crate::json::push_u64(&mut cause, half as u64);
                self.emit(LogEvent::RetryScheduled {
                    batch_id,
                    messages: entries.len(),
                    delay_ms: 0,
                    cause: &cause,
                });
                self.return_to_queue(entries, false, now);
            }
            Verdict::Retry { after_ms, cause } => {
                self.failures = self.failures.saturating_add(1);
                let delay = after_ms.unwrap_or_else(|| {
                    backoff_ms(
                        self.failures,
                        self.limits.backoff_base_ms,
                        self.limits.backoff_cap_ms,
                        &mut *self.rng,
                    )
                });
                self.retry_at = self.retry_at.max(now.saturating_add(delay));
                self.emit(LogEvent::RetryScheduled {
                    batch_id,
                    messages: entries.len(),
                    delay_ms: delay,
                    cause: &cause,
                });
                self.return_to_queue(entries, true, now);
            }
        }
    }

    fn reject(&mut self, e: &Entry, reason: &str) {
        self.stats.remember_rejection(Rejection {
            message_id: String::from(&*e.id),
            reason: reason.to_string(),
        });
        self.dropped(Some(&e.id), DropReason::Rejected, reason);
    }

    /// Failed messages go back to the front of the queue unless they used up their attempts,
    /// expired, or lost their consent meanwhile.
    fn return_to_queue(&mut self, entries: Vec<Entry>, count_attempt: bool, now: u64) {
        let max_attempts = self.config.delivery.max_attempts;
        let mut kept = Vec::with_capacity(entries.len());
        let mut gone = Vec::new();
        for mut e in entries {
            if count_attempt {
                e.attempts += 1;
            }
            let reason = if e.withdrawn || !self.is_granted(&e.category) {
                Some(DropReason::Consent)
            } else if e.attempts >= max_attempts {
                Some(DropReason::RetriesExhausted)
            } else if now.saturating_sub(e.enqueued_at) > self.limits.max_age_ms {
                Some(DropReason::Expired)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    self.dropped(Some(&e.id), reason, "after a failed delivery");
                    gone.push(e.id);
                }
                None => kept.push(e),
            }
        }
        self.stats.retried += kept.len() as u64;
        self.queue.requeue_front(kept);
        self.forget(&gone);
    }

    /// Gives up on everything not yet delivered (waiting, pending consent, in flight), counting
    /// it as dropped with reason `shutdown`; the store is left as it is (a persistent store
    /// delivers it on the next start). For hosts that shut down without persistence. Returns how
    /// many messages were given up.
    pub fn abandon(&mut self) -> usize {
        let waiting = self.queue.remove_where(|_| true);
        let in_flight: Vec<Entry> = std::mem::take(&mut self.in_flight)
            .into_iter()
            .flat_map(|(_, entries)| entries)
            .collect();
        self.queue.landed(in_flight.len());
        let pending = std::mem::take(&mut self.pending);
        let n = waiting.len() + in_flight.len() + pending.len();
        for e in waiting.iter().chain(&in_flight) {
            self.dropped(
                Some(&e.id),
                DropReason::Shutdown,
                "host shut down before delivery",
            );
        }
        for m in &pending {
            self.dropped(
                Some(&m.id),
                DropReason::Shutdown,
                "host shut down while waiting for consent",
            );
        }
        n
    }
}
