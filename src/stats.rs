//! Counters and the debug log: every message the core lets go of is accounted for.
//!
//! [`Stats`] counts what was enqueued, sent, retried and dropped (by [`DropReason`]). The optional
//! debug log hook ([`crate::Core::set_debug_log`]) receives a structured [`LogEvent`] for every
//! step that matters (enqueued, dropped with reason, batch sent, retry scheduled, consent change,
//! store warnings); [`LogEvent::render`] (also its `Display`) gives a one-line human message.
//! Building a log event costs nothing when no hook is set. [`Stats::to_json`] writes the
//! snapshot as JSON (the browser's `stats()`); with the `serde` feature it is also `Serialize`,
//! with the same shape.

use std::fmt;

use crate::json::{push_u64, write_str};
use crate::map::NameMap;

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

#[cfg(feature = "serde")]
impl serde::Serialize for DropCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (reason, n) in self.iter() {
            map.serialize_entry(reason.as_str(), &n)?;
        }
        map.end()
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

    /// The snapshot as JSON, camelCase (`{"enqueued":3,...,"dropped":{"queue_full":2},...}`).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let num = |out: &mut String, key: &str, n: u64| {
            out.push_str(key);
            push_u64(out, n);
        };
        num(&mut out, "{\"enqueued\":", self.enqueued);
        num(&mut out, ",\"restored\":", self.restored);
        num(&mut out, ",\"sent\":", self.sent);
        num(&mut out, ",\"retried\":", self.retried);
        num(&mut out, ",\"batches\":", self.batches);
        out.push_str(",\"dropped\":{");
        // The non-zero counts (`DropCounts::iter`), by a plain loop: the filter/map chain cost
        // the browser bundle more.
        let mut first = true;
        for &reason in &DropReason::ALL {
            let n = self.dropped.get(reason);
            if n == 0 {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_str(&mut out, reason.as_str());
            out.push(':');
            push_u64(&mut out, n);
        }
        out.push('}');
        num(&mut out, ",\"pendingConsent\":", self.pending_consent as u64);
        num(&mut out, ",\"queued\":", self.queued as u64);
        num(&mut out, ",\"inFlight\":", self.in_flight as u64);
        num(&mut out, ",\"storeErrors\":", self.store_errors);
        num(&mut out, ",\"invalidPatterns\":", self.invalid_patterns);
        out.push_str(",\"recentRejections\":[");
        for (i, r) in self.recent_rejections.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"messageId\":");
            write_str(&mut out, &r.message_id);
            out.push_str(",\"reason\":");
            write_str(&mut out, &r.reason);
            out.push('}');
        }
        out.push_str("],\"warnings\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, w);
        }
        out.push_str("]}");
        out
    }
}

/// Severity of a [`LogEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
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
        preferences: &'a NameMap<bool>,
        source: &'a str,
    },
    /// Something went wrong that the core worked around (store error, corrupt record).
    Warning { detail: &'a str },
    /// The privacy team's settings: applied, restored, or a fetch failed (and when the next try
    /// is).
    Settings { detail: &'a str },
}

impl LogEvent<'_> {
    /// The severity of this event.
    pub fn level(&self) -> LogLevel {
        match self {
            LogEvent::Warning { .. } => LogLevel::Warn,
            LogEvent::Dropped { .. }
            | LogEvent::RetryScheduled { .. }
            | LogEvent::ConsentChanged { .. }
            | LogEvent::Settings { .. } => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }

    /// The event as one line of text (what `Display` shows), e.g.
    /// `dropped m1 (too_large): 40000 bytes`. Built by concatenation, without `core::fmt`.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(64);
        let n = |s: &mut String, v: u64| push_u64(s, v);
        match self {
            LogEvent::Enqueued { message_id, category } => {
                crate::json::push_all(&mut s, &["enqueued ", message_id, " (", category, ")"]);
            }
            LogEvent::PendingConsent { message_id, category } => {
                crate::json::push_all(&mut s, &[message_id, " waits for consent to `", category, "`"]);
            }
            LogEvent::Dropped {
                message_id,
                reason,
                detail,
            } => {
                let id = message_id.unwrap_or("event");
                crate::json::push_all(&mut s, &["dropped ", id, " (", reason.as_str(), "): ", detail]);
            }
            LogEvent::BatchReady {
                batch_id,
                messages,
                bytes,
            } => {
                s.push_str("batch ");
                n(&mut s, *batch_id);
                s.push_str(" ready: ");
                n(&mut s, *messages as u64);
                s.push_str(" messages, ");
                n(&mut s, *bytes as u64);
                s.push_str(" bytes");
            }
            LogEvent::Delivered {
                batch_id,
                messages,
                accepted,
            } => {
                s.push_str("batch ");
                n(&mut s, *batch_id);
                s.push_str(" delivered: ");
                n(&mut s, *accepted as u64);
                s.push_str(" of ");
                n(&mut s, *messages as u64);
                s.push_str(" accepted");
            }
            LogEvent::RetryScheduled {
                batch_id,
                messages,
                delay_ms,
                cause,
            } => {
                s.push_str("batch ");
                n(&mut s, *batch_id);
                s.push_str(" failed (");
                s.push_str(cause);
                s.push_str("); ");
                n(&mut s, *messages as u64);
                s.push_str(" messages retry in ");
                n(&mut s, *delay_ms);
                s.push_str(" ms");
            }
            LogEvent::ConsentChanged { preferences, source } => {
                s.push_str("consent changed (");
                s.push_str(source);
                s.push_str("):");
                for (category, granted) in preferences.iter() {
                    s.push(' ');
                    s.push_str(category);
                    s.push_str(if *granted { "=granted" } else { "=denied" });
                }
            }
            LogEvent::Warning { detail } => {
                s.push_str("warning: ");
                s.push_str(detail);
            }
            LogEvent::Settings { detail } => s.push_str(detail),
        }
        s
    }
}

impl fmt::Display for LogEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

pub use crate::platform::DebugLog;

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "serde")]
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
        stats.remember_rejection(Rejection {
            message_id: "m\"1".into(),
            reason: "bad".into(),
        });
        stats.warnings.push("w".into());
        let ours: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(
            ours,
            serde_json::to_value(&stats).unwrap(),
            "to_json and serde agree"
        );
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
