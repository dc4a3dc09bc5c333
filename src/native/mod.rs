//! The native host (feature `native`): [`Client`], a tokio task that drives the [`Core`]
//! and sends gzip-compressed batches with reqwest; its [`BlockingClient`] facade; the
//! [`FileStore`]; the [`RegexMatcher`] for custom PII patterns; and the [`Transport`] /
//! [`HostClock`] traits the client's side effects go
//! through (test doubles: `testing::MemoryTransport`, `testing::ManualClock`).
//!
//! ```no_run
//! use footfall::{Client, Event, Tracker};
//! # async fn run() -> Result<(), footfall::native::ClientError> {
//! let client = Client::builder("WRITE_KEY").endpoint("https://collector.example.com").data_dir("/var/lib/myapp/footfall").build()?;
//! client.track(Event::track("order_completed").user_id("user_42").property("total", 49.9));
//! client.track_sign_in(); // typed helpers come with the `Tracker` trait
//! client.flush().await;
//! client.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! # Durability: what survives a crash, exactly
//!
//! - `track()` only hands the event to the worker thread (it never blocks on I/O); the worker
//!   appends it to `queue.log` in the data dir (in its slot of it, see below) with one
//!   `write(2)` an instant later, after every command issued before it.
//! - **Process killed** (`SIGKILL`, OOM killer, `panic = "abort"`, `std::process::exit`): every
//!   event tracked before one of these returned survives — [`Client::sync`] (the explicit
//!   checkpoint), [`Client::flush`], [`Client::stats`], [`Client::shutdown`] — and so does every
//!   event tracked before the last handle was dropped: dropping it waits (at most
//!   [`ClientBuilder::close_timeout`]) until the worker wrote them. Events tracked after the
//!   last of these can be lost if the process dies in the instant before the worker writes
//!   them.
//! - **Power loss / kernel crash**: the same, only with [`ClientBuilder::sync_writes`] (an
//!   `fsync` per write); without it, what the kernel had not flushed yet may be lost.
//! - **Never persisted**: events waiting for a consent decision (by design), and everything
//!   when the client has no data dir.
//! - **After the restart** the next client on the data dir delivers the survivors, each with
//!   its original `messageId`. A batch that was in flight when the process died may reach the
//!   collector a second time with the same `messageId`s — exactly once from the collector's
//!   point of view, which de-duplicates on `messageId`.
//! - **Damage**: a torn or corrupt record in `queue.log` is skipped with a warning and costs
//!   only that record (a damaged *remove* record means a re-send, never a loss); an unreadable
//!   `state.json` costs the identity (a new anonymous id), never the queue.
//! - **Several clients on one data dir** (worker processes of one service, an overlapping
//!   restart or blue-green switch, a second `Client` in this process): each one writes to a
//!   *slot* of its own, enforced with a lock (`flock`) — the first the data dir itself, the
//!   others `{data_dir}/slot-1`, `slot-2`, … (at most [`MAX_SLOTS`]; beyond, `build` fails
//!   with a [`ClientError::Store`] naming the limit). No client ever reads or writes a slot
//!   whose lock is held. A new slot starts with the anonymous id, session and consent choices
//!   persisted in the data dir (every process of one service shares them), then keeps its
//!   own. A client dropped without `shutdown` keeps its slot while its worker goes on
//!   delivering (up to `close_timeout`); once [`Client::shutdown`] returns, the slot is free.
//! - **Events left in a slot** by a client that stopped or died are *adopted* by the next
//!   client that starts on the data dir, and by the running ones (at most every
//!   [`ADOPT_INTERVAL_MS`], also when idle): its queue is read like after a
//!   restart (a corrupt record skipped with a warning), written into the adopter's own
//!   `queue.log` (`fsync`ed with `sync_writes`) and only then removed from the adopted slot
//!   (whose directory goes too; the data dir itself stays). The adopted events keep their
//!   `messageId`s, count in [`crate::Stats::restored`] and obey the same rules as restored
//!   ones (consent, `max_age`, `max_queue_size`: over the cap the oldest are dropped, counted
//!   `queue_full`); problems while adopting at start are in [`crate::Stats::warnings`], those
//!   of a running client's adoption are logged (`tracing`, target `footfall`). A crash
//!   between the two steps leaves them in both slots: they may be sent twice with the same
//!   `messageId`s, and the collector de-duplicates — at-least-once on the wire, exactly once
//!   from the collector's point of view. On a file system that cannot lock (NFS without a
//!   lock daemon) there are no slots: the client uses the data dir unlocked, with a warning,
//!   and must be the only one there.
//! - **A data dir that cannot be used** (a file in its place, not writable) fails
//!   [`ClientBuilder::build`]. Write failures later (disk full) never fail `track()`: the
//!   events stay in memory and are delivered, each failure counted in
//!   [`crate::Stats::store_errors`] with a warning — those events are not durable. A data dir
//!   deleted while in use is recreated, with the queue, on the next write (counted the same way).
//! - **Collector down**: at most `tracking.max_queue_size` messages are kept (then the oldest
//!   non-`necessary` one is dropped, `queue_full`); a message is given up after
//!   `delivery.max_attempts` failed attempts (`retries_exhausted`, default 10) or
//!   `delivery.max_age` (`expired`, default 12 h) — raise `max_attempts` to ride out long
//!   outages. Every drop is counted with its reason.
//! - A panicking `before_send` hook costs that event (counted `before_send`), and a panicking
//!   custom [`Transport`] is a failed attempt: neither stops the worker.
//!
//! [`Core`]: crate::Core

mod blocking;
mod client;
mod dir_lock;
mod file_store;
mod http;
mod patterns;
mod slots;
#[cfg(feature = "testing")]
pub mod testing;
mod worker;

use std::future::Future;
use std::pin::Pin;

pub use blocking::BlockingClient;
pub use client::{Client, ClientBuilder, ClientError, ShutdownReport};
pub use file_store::{COMPACT_AFTER_REMOVES, FileStore};
pub use http::HttpTransport;
pub use patterns::RegexMatcher;
pub use slots::{ADOPT_INTERVAL_MS, MAX_SLOTS};

use crate::clock::{Clock, SystemClock};
use crate::delivery::Delivery;
use crate::settings_fetch::{SettingsRequest, SettingsResponse};

/// A boxed, `Send` future (what the side-effect traits return).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sends one batch body (uncompressed JSON) and reports what happened. Implementations never
/// fail: every error is a [`Delivery::NetworkError`].
pub trait Transport: Send + Sync + 'static {
    fn send(&self, body: Vec<u8>) -> BoxFuture<Delivery>;

    /// Fetches the privacy settings: `GET request.url` with the write key and
    /// `If-None-Match: request.etag` (see [`crate::settings_fetch`]). Never fails: every error
    /// is a [`SettingsResponse::Failed`]. Default `None`: this transport does not fetch settings
    /// (the client then keeps the local and last persisted settings).
    fn fetch_settings(&self, request: SettingsRequest) -> Option<BoxFuture<SettingsResponse>> {
        let _ = request;
        None
    }
}

/// A [`Clock`] the client can also sleep on.
pub trait HostClock: Clock + Send + Sync + 'static {
    /// Completes once [`Clock::now_ms`] reaches `deadline_ms`.
    fn sleep_until(&self, deadline_ms: u64) -> BoxFuture<()>;
}

impl HostClock for SystemClock {
    fn sleep_until(&self, deadline_ms: u64) -> BoxFuture<()> {
        let wait = deadline_ms.saturating_sub(self.now_ms());
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(wait)))
    }
}

#[cfg(feature = "testing")]
impl HostClock for crate::testing::ManualClock {
    fn sleep_until(&self, deadline_ms: u64) -> BoxFuture<()> {
        Box::pin(crate::testing::ManualClock::sleep_until(self, deadline_ms))
    }
}
