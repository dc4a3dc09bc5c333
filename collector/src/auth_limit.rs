//! Failed admin-token attempts per client address. After [`MAX_FAILURES`] wrong or missing
//! tokens within [`WINDOW`], that address gets `429 too_many_attempts` with `Retry-After` for
//! the rest of the window — even with the right token, so a guess cannot be confirmed faster
//! than 10 tries a minute per address. The address is the client's as ingestion sees it (the
//! connection's, or the `trust_proxy`-th `X-Forwarded-For` entry): behind a proxy, one client's
//! failures do not lock out the others. Requests without a known address (a router driven
//! in-process) are not limited. At most [`MAX_ADDRESSES`] addresses are tracked; beyond, expired
//! windows are forgotten first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address and window.
pub const MAX_FAILURES: u32 = 10;
/// The window, from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once.
pub const MAX_ADDRESSES: usize = 10_000;

/// See the module docs.
#[derive(Default)]
pub struct AuthLimiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthLimiter {
    /// `Err(seconds)` while `ip` is locked out (seconds until its window ends, at least 1).
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&ip) {
            Some((start, n)) if *n >= MAX_FAILURES && now.duration_since(*start) < WINDOW => {
                Err((WINDOW - now.duration_since(*start)).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt of `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&ip) {
            failures.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if failures.len() >= MAX_ADDRESSES
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(ip, _)| *ip)
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_an_address_after_ten_failures_for_the_rest_of_the_window() {
        let l = AuthLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(l.check(a, t0), Ok(()), "attempt {i}");
            l.failed(a, t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(l.check(a, t0 + Duration::from_secs(15)), Err(45));
        assert_eq!(l.check(b, t0), Ok(()), "other addresses are not affected");
        assert_eq!(l.check(a, t0 + WINDOW), Ok(()), "the window ends");
        l.failed(a, t0 + WINDOW);
        assert_eq!(l.check(a, t0 + WINDOW), Ok(()), "a new window starts from 1");
    }

    #[test]
    fn tracks_a_bounded_number_of_addresses() {
        let l = AuthLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 5) {
            l.failed(
                IpAddr::from(i.to_be_bytes()),
                t0 + Duration::from_millis(i as u64),
            );
        }
        assert!(l.failures.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
