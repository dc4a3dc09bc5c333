//! Randomness: the [`Rng`] trait (message ids, anonymous ids, retry jitter).
//!
//! The host supplies the randomness: the operating system's natively ([`OsRng`], feature
//! `native`), `crypto.getRandomValues` in the browser bindings, a seeded generator in tests
//! (`testing::SeededRng`). The core turns 16 random bytes into a UUID v4 (RFC 9562: version 4,
//! variant `10`, lowercase hyphenated).

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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 15)];
        at += 2;
    }
    // Only ASCII hex digits and dashes were written (chars, not a UTF-8 check: bundle size).
    let mut id = String::with_capacity(36);
    crate::text::push_ascii(&mut id, &out);
    id
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

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn uuid_v4_matches_the_uuid_crate() {
        for seed in 0..64u8 {
            let mut bytes = [0u8; 16];
            Counter(seed.wrapping_mul(37)).fill(&mut bytes);
            let theirs = uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .hyphenated()
                .to_string();
            assert_eq!(uuid_v4(&mut Counter(seed.wrapping_mul(37))), theirs);
        }
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
