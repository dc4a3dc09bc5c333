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
//! [`Core`]: crate::Core

mod blocking;
mod client;
mod file_store;
mod http;
mod patterns;
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
