//! What the handles send the worker over the channel (events and control calls, in order) and
//! the counters they share with it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize};

use tokio::sync::oneshot;

use super::ShutdownReport;
use crate::consent::PrivacySignals;
use crate::event::{Event, Properties};
use crate::settings::PrivacySettings;
use crate::stats::Stats;

/// Where a reply goes: an async waiter or a blocking one.
pub(crate) enum Reply<T> {
    Async(oneshot::Sender<T>),
    Blocking(std::sync::mpsc::Sender<T>),
}

impl<T> Reply<T> {
    pub(crate) fn send(self, value: T) {
        match self {
            Reply::Async(s) => drop(s.send(value)),
            Reply::Blocking(s) => drop(s.send(value)),
        }
    }
}

// Almost every command is a `Track`; boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    /// An event and when `track` was called (the core's enqueue time).
    Track(Event, u64),
    Consent {
        action: ConsentAction,
        categories: Vec<String>,
    },
    Signals(PrivacySignals),
    Reset,
    Register(Properties),
    Unregister(String),
    Flush(Reply<usize>),
    /// Answered once every earlier command was applied (and its store writes done).
    Sync(Reply<()>),
    Stats(Reply<Stats>),
    Privacy(Reply<PrivacySettings>),
    Shutdown {
        deadline_ms: u64,
        reply: Reply<ShutdownReport>,
    },
    #[cfg(feature = "testing")]
    Kill(Reply<()>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsentAction {
    Grant,
    Deny,
    Revoke,
    GrantAll,
    DenyAll,
}

/// Counters shared by the handles and the worker.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) in_channel: AtomicUsize,
    pub(crate) dropped_full: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    /// Events lost to a panicking `before_send` hook (or debug log), counted as `before_send`.
    pub(crate) dropped_panic: AtomicU64,
    pub(crate) final_stats: Mutex<Option<Stats>>,
}
