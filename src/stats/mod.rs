//! Counters and the debug log: every message the core lets go of is accounted for.
//!
//! [`Stats`] counts what was enqueued, sent, retried and dropped (by [`DropReason`]). The optional
//! debug log hook ([`crate::Core::set_debug_log`]) receives a structured [`LogEvent`] for every
//! step that matters (enqueued, dropped with reason, batch sent, retry scheduled, consent change,
//! store warnings); [`LogEvent::render`] (also its `Display`) gives a one-line human message.
//! Building a log event costs nothing when no hook is set. [`Stats::to_json`] writes the
//! snapshot as JSON (the browser's `stats()`); with the `serde` feature it is also `Serialize`,
//! with the same shape.
//!
//! # Layout
//! The counters (this file: [`Stats`], [`DropReason`], [`DropCounts`], [`Rejection`]), the
//! snapshot as JSON (`snapshot_json.rs`: [`Stats::to_json`] and the serde shape of
//! [`DropCounts`]) and the debug log's events (`log_event.rs`: [`LogEvent`], [`LogLevel`]).

use std::fmt;

mod log_event;
mod snapshot_json;
#[cfg(test)]
mod tests;

pub use log_event::{LogEvent, LogLevel};

/// Why a message was dropped. Serialized in `snake_case` (`"queue_full"`), as shown in stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum DropReason {
    /// The message's consent category is denied (at track time, or consent was denied/revoked
    /// while it was pending or queued).
    Consent,
    /// The queue (or the pending-consent buffer) was full; the oldest non-`necessary` message went.
    QueueFull,
    /// The event failed validation (empty or over-long name, missing id, unserializable value).
    Invalid,
    /// Over `tracking.max_message_bytes` serialized, or refused by the collector with 413 alone.
    TooLarge,
    /// The collector refused it (4xx other than 413/429, or listed in the response's `rejected`).
    Rejected,
    /// The tracking plan does not list it (or, with `strict`, it carries unlisted properties).
    NotInPlan,
    /// Tracking is disabled (`tracking.enabled: false`), or the plan sets `enabled: false`.
    Disabled,
    /// A `before_send` hook returned `None`.
    BeforeSend,
    /// Delivery failed `delivery.max_attempts` times.
    RetriesExhausted,
    /// Still undelivered after `delivery.max_age`.
    Expired,
    /// Still queued when a host shut down without persistent storage.
    Shutdown,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [DropReason; 11] = [
        DropReason::Consent,
        DropReason::QueueFull,
        DropReason::Invalid,
        DropReason::TooLarge,
        DropReason::Rejected,
        DropReason::NotInPlan,
        DropReason::Disabled,
        DropReason::BeforeSend,
        DropReason::RetriesExhausted,
        DropReason::Expired,
        DropReason::Shutdown,
    ];

    /// The `snake_case` name (`"queue_full"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Consent => "consent",
            DropReason::QueueFull => "queue_full",
            DropReason::Invalid => "invalid",
            DropReason::TooLarge => "too_large",
            DropReason::Rejected => "rejected",
            DropReason::NotInPlan => "not_in_plan",
            DropReason::Disabled => "disabled",
            DropReason::BeforeSend => "before_send",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Expired => "expired",
            DropReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dropped messages counted per [`DropReason`]. With the `serde` feature it serializes as a map
/// of the non-zero counts (`{"queue_full": 2}`), like [`Stats::to_json`] writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::ALL.len()]);

impl DropCounts {
    /// Messages dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// The non-zero counts, in [`DropReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.0[*r as usize]))
            .filter(|(_, n)| *n > 0)
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn add(&mut self, reason: DropReason, n: u64) {
        self.0[reason as usize] += n;
    }
}

/// One message the collector refused, as remembered in [`Stats::recent_rejections`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct Rejection {
    pub message_id: String,
    pub reason: String,
}

/// How many rejections [`Stats::recent_rejections`] keeps (the newest).
pub const RECENT_REJECTIONS: usize = 20;

/// A snapshot of the core's counters. Counters start at zero for each [`crate::Core`] instance
/// (they are not persisted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct Stats {
    /// Messages accepted into the delivery queue (after every pipeline step).
    pub enqueued: u64,
    /// Messages restored from the store (at startup, or adopted from another tab).
    pub restored: u64,
    /// Messages the collector accepted.
    pub sent: u64,
    /// Messages put back in the queue for another attempt (counted once per attempt).
    pub retried: u64,
    /// Batches handed to the host for sending.
    pub batches: u64,
    /// Dropped messages by reason.
    pub dropped: DropCounts,
    /// Messages waiting for a consent decision (in memory only).
    pub pending_consent: usize,
    /// Messages waiting in the delivery queue.
    pub queued: usize,
    /// Messages in batches handed out and not yet reported.
    pub in_flight: usize,
    /// Store operations that failed (the core keeps going in memory).
    pub store_errors: u64,
    /// Custom PII patterns (`pii_patterns`) the host's regex engine refused, counted at each
    /// compile (they are skipped; the collector still applies the ones it accepts).
    pub invalid_patterns: u64,
    /// The newest collector rejections, oldest first (at most [`RECENT_REJECTIONS`]).
    pub recent_rejections: Vec<Rejection>,
    /// The newest warnings (store errors, corrupt records skipped), oldest first (at most 20).
    pub warnings: Vec<String>,
}

impl Stats {
    /// Messages dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason)
    }

    /// Messages dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.total()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason, n: u64) {
        self.dropped.add(reason, n);
    }

    pub(crate) fn remember_rejection(&mut self, rejection: Rejection) {
        if self.recent_rejections.len() == RECENT_REJECTIONS {
            self.recent_rejections.remove(0);
        }
        self.recent_rejections.push(rejection);
    }
}

pub use crate::platform::DebugLog;
