//! Time source for hosts: the core itself never reads a clock (every call takes `now`, in ms
//! since the Unix epoch); hosts use a [`Clock`] to produce `now`. The native client uses
//! [`SystemClock`]; tests use `testing::ManualClock`; the browser passes `Date.now()`.

use crate::platform::{MaybeSend, MaybeSync};

/// Milliseconds since the Unix epoch.
pub trait Clock: MaybeSend + MaybeSync {
    fn now_ms(&self) -> u64;
}

/// The operating system clock (not available on wasm32).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::platform::system_now_ms()
    }
}
