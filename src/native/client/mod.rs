//! [`Client`]: the native SDK handle. Cheap to clone, `Send + Sync`; every clone talks to one
//! background worker (see `worker.rs`) that owns the [`Core`].
//!
//! `track()` stamps the event with the clock, pushes it onto an unbounded channel guarded by a
//! counter (at most `channel_capacity` events in the channel; beyond that the event is dropped
//! and counted as `queue_full`) and returns: it never blocks, never awaits and never panics.
//! Control calls (consent, identity, super properties) share the channel so they stay ordered
//! with events, and are never refused.
//!
//! The worker runs on its own thread with a single-threaded tokio runtime, so a `Client` works
//! the same inside or outside an application's runtime (and in non-async programs, see
//! [`super::BlockingClient`]); `flush().await` and `shutdown().await` work from any executor.
//!
//! Dropping the last handle of a client with a data dir waits (at most `close_timeout`) until
//! the worker has written everything tracked there, so a process that exits right after loses
//! nothing (see the durability section of the module docs of `footfall::native`).
//!
//! [`ClientBuilder`] and the start of the worker are in `builder.rs`, the commands the handles
//! send the worker (and the counters they share) in `command.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::HostClock;
#[cfg(doc)]
use crate::Core;
use crate::config::ConfigError;
use crate::consent::PrivacySignals;
use crate::event::Properties;
use crate::event::{Event, Tracker};
use crate::settings::PrivacySettings;
use crate::stats::{DropReason, Stats};
use crate::store::StoreError;

mod builder;
mod command;

pub use builder::ClientBuilder;
pub(crate) use command::{Command, ConsentAction, Counters, Reply};

/// Building or starting the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("data dir: {0}")]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Http(String),
    #[error("starting the background worker: {0}")]
    Worker(String),
}

/// What [`Client::shutdown`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Messages delivered over the client's lifetime.
    pub sent: u64,
    /// Messages not delivered by the deadline.
    pub unsent: usize,
    /// Whether the unsent messages stay in the data dir for the next start (else they were
    /// counted as dropped with reason `shutdown`).
    pub persisted: bool,
}

struct Shared {
    tx: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
    capacity: usize,
    closed: AtomicBool,
    clock: Arc<dyn HostClock>,
    /// Persistent clients: how long dropping the last handle waits for the worker to have
    /// written what was tracked (`close_timeout`).
    drop_wait: Option<Duration>,
    worker: std::thread::ThreadId,
}

impl Drop for Shared {
    /// The last handle is gone: wait (at most `close_timeout`) until the worker has applied —
    /// and written to the data dir — everything tracked, so a process that exits right after
    /// dropping its client loses nothing. Not on the worker's own thread (a handle owned by a
    /// hook), where waiting would only time out.
    fn drop(&mut self) {
        let Some(wait) = self.drop_wait else { return };
        if std::thread::current().id() == self.worker {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Command::Sync(Reply::Blocking(tx))).is_ok() {
            let _ = rx.recv_timeout(wait);
        }
    }
}

/// The native Footfall client. See the module docs.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    fn send(&self, command: Command) -> bool {
        self.shared.tx.send(command).is_ok()
    }

    /// Sends `event` through the pipeline. Returns at once; never blocks, never panics.
    pub fn track(&self, mut event: Event) {
        let s = &*self.shared;
        if s.closed.load(Ordering::Relaxed) {
            s.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if s.counters.in_channel.fetch_add(1, Ordering::AcqRel) >= s.capacity {
            s.counters.in_channel.fetch_sub(1, Ordering::AcqRel);
            s.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = s.clock.now_ms();
        event.timestamp.get_or_insert(now);
        if !self.send(Command::Track(event, now)) {
            s.counters.in_channel.fetch_sub(1, Ordering::AcqRel);
            s.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn consent(&self, action: ConsentAction, categories: &[&str]) {
        let categories = categories.iter().map(|c| c.to_string()).collect();
        self.send(Command::Consent { action, categories });
    }

    /// Grants consent categories (see [`Core::grant`]).
    pub fn grant(&self, categories: &[&str]) {
        self.consent(ConsentAction::Grant, categories);
    }

    /// Denies consent categories (see [`Core::deny`]).
    pub fn deny(&self, categories: &[&str]) {
        self.consent(ConsentAction::Deny, categories);
    }

    /// Revokes consent categories (see [`Core::revoke`]).
    pub fn revoke(&self, categories: &[&str]) {
        self.consent(ConsentAction::Revoke, categories);
    }

    /// Grants every known category.
    pub fn grant_all(&self) {
        self.consent(ConsentAction::GrantAll, &[]);
    }

    /// Denies every known category but `necessary`.
    pub fn deny_all(&self) {
        self.consent(ConsentAction::DenyAll, &[]);
    }

    /// Reports GPC / DNT signals (see [`Core::set_privacy_signals`]).
    pub fn set_privacy_signals(&self, signals: PrivacySignals) {
        self.send(Command::Signals(signals));
    }

    /// Logout: new anonymous id, no user id, no session.
    pub fn reset(&self) {
        self.send(Command::Reset);
    }

    /// Registers super properties (added to every track/page/screen): a [`Properties`] map or
    /// a `serde_json` map.
    pub fn register(&self, properties: impl Into<Properties>) {
        self.send(Command::Register(properties.into()));
    }

    /// Removes a super property.
    pub fn unregister(&self, key: &str) {
        self.send(Command::Unregister(key.to_string()));
    }

    pub(crate) fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<oneshot::Receiver<T>> {
        let (tx, rx) = oneshot::channel();
        self.send(make(Reply::Async(tx))).then_some(rx)
    }

    pub(crate) fn request_blocking<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        if !self.send(make(Reply::Blocking(tx))) {
            return None;
        }
        rx.recv().ok()
    }

    /// Sends everything queued now (ignoring batch size and flush interval) and waits until
    /// each batch got an answer. Does not wait through a retry backoff: returns how many
    /// messages are still queued (0 when everything was delivered or dropped).
    pub async fn flush(&self) -> usize {
        match self.request(Command::Flush) {
            Some(rx) => rx.await.unwrap_or(0),
            None => 0,
        }
    }

    /// Waits until everything tracked on this client before the call has reached the worker
    /// and, with a data dir, been written there (`queue.log`; `fsync`ed with
    /// [`ClientBuilder::sync_writes`]). From then on those events survive the process being
    /// killed (`SIGKILL`, `panic = "abort"`, `std::process::exit`) — and, with `sync_writes`,
    /// a power loss — and are delivered by the next client on the data dir. It does not wait
    /// for delivery (see [`Client::flush`]). Events waiting for a consent decision stay in
    /// memory by design. A failed write does not fail it (it is counted in
    /// [`Stats::store_errors`] with a warning). `false` once the client is shut down.
    pub async fn sync(&self) -> bool {
        match self.request(Command::Sync) {
            Some(rx) => rx.await.is_ok(),
            None => false,
        }
    }

    pub(crate) fn mark_closed(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Stops accepting events, then keeps delivering (with retries) until the queue is empty
    /// or `timeout` (on the client's clock) has passed. Undelivered messages stay in the data
    /// dir for the next start, or, without one, are counted as dropped (`shutdown`).
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.shared.closed.store(true, Ordering::Relaxed);
        let deadline_ms = self
            .shared
            .clock
            .now_ms()
            .saturating_add(timeout.as_millis() as u64);
        match self.request(|reply| Command::Shutdown { deadline_ms, reply }) {
            Some(rx) => rx.await.unwrap_or(ShutdownReport {
                sent: 0,
                unsent: 0,
                persisted: false,
            }),
            None => ShutdownReport {
                sent: self.final_stats().sent,
                unsent: 0,
                persisted: false,
            },
        }
    }

    /// The counters (the core's, plus events `track` refused before reaching it).
    pub async fn stats(&self) -> Stats {
        let stats = match self.request(Command::Stats) {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        self.with_handle_drops(stats.unwrap_or_else(|| self.final_stats()))
    }

    /// The privacy settings in force: the local configuration merged with the privacy team's
    /// settings from `{endpoint}/v1/settings` (fetched at start and every
    /// `delivery.settings_refresh`, persisted in the data dir), stricter wins. The local
    /// configuration's alone until server settings are known.
    pub async fn privacy_settings(&self) -> Option<PrivacySettings> {
        self.request(Command::Privacy)?.await.ok()
    }

    pub(crate) fn final_stats(&self) -> Stats {
        self.shared
            .counters
            .final_stats
            .lock()
            .map(|s| s.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    pub(crate) fn with_handle_drops(&self, mut stats: Stats) -> Stats {
        let c = &self.shared.counters;
        stats.count_drop(DropReason::QueueFull, c.dropped_full.load(Ordering::Relaxed));
        stats.count_drop(DropReason::Shutdown, c.dropped_closed.load(Ordering::Relaxed));
        stats.count_drop(DropReason::BeforeSend, c.dropped_panic.load(Ordering::Relaxed));
        stats
    }

    /// Stops the worker like a crash: nothing more is sent, written or persisted, in-flight
    /// requests are abandoned. Returns once the worker has stopped (test-only).
    #[cfg(feature = "testing")]
    pub async fn kill(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        if let Some(rx) = self.request(Command::Kill) {
            let _ = rx.await;
        }
    }
}

impl Tracker for Client {
    fn track(&self, event: Event) {
        Client::track(self, event);
    }
}
