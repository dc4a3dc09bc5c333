//! [`LogEvent`]: what the core tells the debug log hook, its [`LogLevel`] and its one-line
//! rendering.

use std::fmt;

use super::DropReason;
use crate::json::push_u64;
use crate::map::NameMap;

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
