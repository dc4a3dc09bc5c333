//! Randomness: the [`Rng`] trait (message ids, anonymous ids, retry jitter).
//!
//! The host supplies the randomness: the operating system's natively ([`OsRng`], feature
//! `native`), `crypto.getRandomValues` in the browser bindings, a seeded generator in tests
//! (`testing::SeededRng`). The core turns 16 random bytes into a UUID v4 with the `uuid` crate.

use crate::platform::MaybeSend;

/// A source of random bytes.
pub trait Rng: MaybeSend {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);

    /// A random `u64`.
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
}

impl<R: Rng + ?Sized> Rng for Box<R> {
    fn fill(&mut self, buf: &mut [u8]) {
        (**self).fill(buf)
    }
}

/// A new random UUID v4, lowercase and hyphenated.
pub fn uuid_v4(rng: &mut (impl Rng + ?Sized)) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_lower(&mut buf).to_owned()
}

/// A uniformly random integer in `0..=max` (full-jitter backoff).
pub fn below_or_equal(rng: &mut (impl Rng + ?Sized), max: u64) -> u64 {
    // Multiply-shift (Lemire): unbiased enough at retry-delay scales, and no division.
    ((u128::from(rng.next_u64()) * (u128::from(max) + 1)) >> 64) as u64
}

/// The operating system's random generator (`getrandom`).
#[cfg(feature = "native")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

#[cfg(feature = "native")]
impl Rng for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // Practically unreachable on supported systems; fall back to a time-seeded mix so a
            // broken entropy source never panics the caller.
            let mut x = crate::platform::system_now_ms() ^ 0x9E37_79B9_7F4A_7C15 ^ (buf.as_ptr() as u64);
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl Rng for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
    }

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        let id = uuid_v4(&mut Counter(0));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(uuid_v4(&mut Counter(0)), uuid_v4(&mut Counter(1)));
    }

    #[test]
    fn below_or_equal_stays_in_range() {
        let mut rng = Counter(7);
        for max in [0, 1, 999, 60_000] {
            for _ in 0..50 {
                assert!(below_or_equal(&mut rng, max) <= max);
            }
        }
    }
}
