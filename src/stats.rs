//! Counters and the debug log: every message the core lets go of is accounted for.
//!
//! [`Stats`] counts what was enqueued, sent, retried and dropped (by [`DropReason`]). The optional
//! debug log hook ([`crate::Core::set_debug_log`]) receives a structured [`LogEvent`] for every
//! step that matters (enqueued, dropped with reason, batch sent, retry scheduled, consent change,
//! store warnings); `LogEvent` implements `Display` for a one-line human message. Building a log
//! event costs nothing when no hook is set.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a message was dropped. Serialized in `snake_case` (`"queue_full"`), as shown in stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// One message the collector refused, as remembered in [`Stats::recent_rejections`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub message_id: String,
    pub reason: String,
}

/// How many rejections [`Stats::recent_rejections`] keeps (the newest).
pub const RECENT_REJECTIONS: usize = 20;

/// A snapshot of the core's counters. Counters start at zero for each [`crate::Core`] instance
/// (they are not persisted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Messages accepted into the delivery queue (after every pipeline step).
    pub enqueued: u64,
    /// Messages restored from the store at startup.
    pub restored: u64,
    /// Messages the collector accepted.
    pub sent: u64,
    /// Messages put back in the queue for another attempt (counted once per attempt).
    pub retried: u64,
    /// Batches handed to the host for sending.
    pub batches: u64,
    /// Dropped messages by reason.
    pub dropped: BTreeMap<DropReason, u64>,
    /// Messages waiting for a consent decision (in memory only).
    pub pending_consent: usize,
    /// Messages waiting in the delivery queue.
    pub queued: usize,
    /// Messages in batches handed out and not yet reported.
    pub in_flight: usize,
    /// Store operations that failed (the core keeps going in memory).
    pub store_errors: u64,
    /// The newest collector rejections, oldest first (at most [`RECENT_REJECTIONS`]).
    pub recent_rejections: Vec<Rejection>,
    /// The newest warnings (store errors, corrupt records skipped), oldest first (at most 20).
    pub warnings: Vec<String>,
}

impl Stats {
    /// Messages dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    /// Messages dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason, n: u64) {
        if n > 0 {
            *self.dropped.entry(reason).or_insert(0) += n;
        }
    }

    pub(crate) fn remember_rejection(&mut self, rejection: Rejection) {
        if self.recent_rejections.len() == RECENT_REJECTIONS {
            self.recent_rejections.remove(0);
        }
        self.recent_rejections.push(rejection);
    }
}

/// Severity of a [`LogEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
}

/// What the core tells the debug log hook.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent<'a> {
    /// A message entered the delivery queue.
    Enqueued { message_id: &'a str, category: &'a str },
    /// A message waits for a consent decision on its category.
    PendingConsent { message_id: &'a str, category: &'a str },
    /// A message was dropped. `message_id` is `None` when it was dropped before getting one.
    Dropped {
        message_id: Option<&'a str>,
        reason: DropReason,
        detail: &'a str,
    },
    /// A batch was handed to the host.
    BatchReady {
        batch_id: u64,
        messages: usize,
        bytes: usize,
    },
    /// A batch was delivered (`accepted` of `messages`).
    Delivered {
        batch_id: u64,
        messages: usize,
        accepted: usize,
    },
    /// A batch failed and its messages wait `delay_ms` for another attempt.
    RetryScheduled {
        batch_id: u64,
        messages: usize,
        delay_ms: u64,
        cause: &'a str,
    },
    /// The effective consent state changed.
    ConsentChanged {
        preferences: &'a BTreeMap<String, bool>,
        source: &'a str,
    },
    /// Something went wrong that the core worked around (store error, corrupt record).
    Warning { detail: &'a str },
}

impl LogEvent<'_> {
    /// The severity of this event.
    pub fn level(&self) -> LogLevel {
        match self {
            LogEvent::Warning { .. } => LogLevel::Warn,
            LogEvent::Dropped { .. } | LogEvent::RetryScheduled { .. } | LogEvent::ConsentChanged { .. } => {
                LogLevel::Info
            }
            _ => LogLevel::Debug,
        }
    }
}

impl fmt::Display for LogEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogEvent::Enqueued { message_id, category } => write!(f, "enqueued {message_id} ({category})"),
            LogEvent::PendingConsent { message_id, category } => {
                write!(f, "{message_id} waits for consent to `{category}`")
            }
            LogEvent::Dropped {
                message_id,
                reason,
                detail,
            } => {
                write!(
                    f,
                    "dropped {} ({reason}): {detail}",
                    message_id.unwrap_or("event")
                )
            }
            LogEvent::BatchReady {
                batch_id,
                messages,
                bytes,
            } => {
                write!(f, "batch {batch_id} ready: {messages} messages, {bytes} bytes")
            }
            LogEvent::Delivered {
                batch_id,
                messages,
                accepted,
            } => {
                write!(f, "batch {batch_id} delivered: {accepted} of {messages} accepted")
            }
            LogEvent::RetryScheduled {
                batch_id,
                messages,
                delay_ms,
                cause,
            } => {
                write!(
                    f,
                    "batch {batch_id} failed ({cause}); {messages} messages retry in {delay_ms} ms"
                )
            }
            LogEvent::ConsentChanged { preferences, source } => {
                write!(f, "consent changed ({source}): {preferences:?}")
            }
            LogEvent::Warning { detail } => write!(f, "warning: {detail}"),
        }
    }
}

pub use crate::platform::DebugLog;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_serialize_snake_case_and_match_as_str() {
        for reason in DropReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
        let mut stats = Stats::default();
        stats.count_drop(DropReason::QueueFull, 2);
        stats.count_drop(DropReason::Consent, 0);
        assert_eq!(
            serde_json::to_value(&stats).unwrap()["dropped"],
            serde_json::json!({"queue_full": 2})
        );
        assert_eq!(stats.dropped_total(), 2);
    }

    #[test]
    fn recent_rejections_keep_the_newest() {
        let mut stats = Stats::default();
        for i in 0..RECENT_REJECTIONS + 3 {
            stats.remember_rejection(Rejection {
                message_id: i.to_string(),
                reason: "bad".into(),
            });
        }
        assert_eq!(stats.recent_rejections.len(), RECENT_REJECTIONS);
        assert_eq!(stats.recent_rejections[0].message_id, "3");
    }

    #[test]
    fn log_events_render_one_line() {
        let e = LogEvent::Dropped {
            message_id: Some("m1"),
            reason: DropReason::TooLarge,
            detail: "40000 bytes",
        };
        assert_eq!(e.to_string(), "dropped m1 (too_large): 40000 bytes");
        assert_eq!(e.level(), LogLevel::Info);
    }
}
