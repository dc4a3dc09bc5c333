//! Sampling of repeated log lines: during an outage every request fails the same way (a full
//! disk, a database that is down, shedding under overload) and SDKs retry, so logging each
//! failure would write thousands of identical lines a second — enough to fill the disk the
//! outage may be about. [`Sampler::admit`] lets the first line of a kind through, then at most one
//! per [`INTERVAL`], and says how many it held back in between (`suppressed`), so the log still
//! shows when a failure started, that it goes on, and how often.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line of a kind per interval (after the first).
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Per kind: when a line was last let through, and how many were held back since.
#[derive(Default)]
pub struct Sampler {
    kinds: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl Sampler {
    /// Whether a line of `kind` at `now` should be written; `Some(n)`: yes, with `n` lines of
    /// that kind held back since the last one written.
    pub fn admit(&self, kind: &'static str, now: Instant) -> Option<u64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        match kinds.get_mut(kind) {
            Some((last, held)) if now.saturating_duration_since(*last) < INTERVAL => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held))
            }
            None => {
                kinds.insert(kind, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_then_one_per_interval_with_the_count_held_back() {
        let s = Sampler::default();
        let t0 = Instant::now();
        assert_eq!(s.admit("store_unavailable", t0), Some(0));
        for i in 1..=500 {
            assert_eq!(s.admit("store_unavailable", t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(s.admit("overloaded", t0), Some(0), "kinds are counted apart");
        assert_eq!(s.admit("store_unavailable", t0 + INTERVAL), Some(500));
        assert_eq!(
            s.admit("store_unavailable", t0 + INTERVAL + Duration::from_secs(1)),
            None
        );
        assert_eq!(s.admit("store_unavailable", t0 + INTERVAL * 3), Some(1));
    }
}
