//! The one place where the core differs between targets.
//!
//! Natively the core runs inside a tokio task of [`crate::Client`], so everything it owns (store,
//! rng, hooks) must be `Send + Sync`. In the browser (wasm32) the host's implementations wrap JS
//! objects (`localStorage`, JS callbacks) that are never `Send`. [`MaybeSend`] and [`MaybeSync`]
//! are `Send`/`Sync` natively and empty on wasm32, so the logic modules never mention the target.

#[cfg(not(target_arch = "wasm32"))]
mod bounds {
    /// `Send` natively; no bound on wasm32.
    pub trait MaybeSend: Send {}
    impl<T: Send + ?Sized> MaybeSend for T {}
    /// `Sync` natively; no bound on wasm32.
    pub trait MaybeSync: Sync {}
    impl<T: Sync + ?Sized> MaybeSync for T {}
}

#[cfg(target_arch = "wasm32")]
mod bounds {
    /// `Send` natively; no bound on wasm32.
    pub trait MaybeSend {}
    impl<T: ?Sized> MaybeSend for T {}
    /// `Sync` natively; no bound on wasm32.
    pub trait MaybeSync {}
    impl<T: ?Sized> MaybeSync for T {}
}

pub use bounds::{MaybeSend, MaybeSync};

#[cfg(feature = "serde")]
use crate::message::Message;
use crate::stats::LogEvent;

/// A `before_send` hook: returns the (possibly changed) message, or `None` to drop it (feature
/// `serde`: hooks see the wire [`Message`]).
#[cfg(all(feature = "serde", not(target_arch = "wasm32")))]
pub type BeforeSend = Box<dyn Fn(Message) -> Option<Message> + Send + Sync>;
/// A `before_send` hook: returns the (possibly changed) message, or `None` to drop it (feature
/// `serde`: hooks see the wire [`Message`]).
#[cfg(all(feature = "serde", target_arch = "wasm32"))]
pub type BeforeSend = Box<dyn Fn(Message) -> Option<Message>>;

/// The debug log hook: called synchronously for each [`LogEvent`].
#[cfg(not(target_arch = "wasm32"))]
pub type DebugLog = Box<dyn Fn(&LogEvent<'_>) + Send + Sync>;
/// The debug log hook: called synchronously for each [`LogEvent`].
#[cfg(target_arch = "wasm32")]
pub type DebugLog = Box<dyn Fn(&LogEvent<'_>)>;

/// Milliseconds since the Unix epoch from the operating system clock (not on wasm32, where
/// `SystemTime` is unavailable: the browser host passes `Date.now()`).
#[cfg(not(target_arch = "wasm32"))]
pub fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
