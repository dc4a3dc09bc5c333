//! The embedded store's dedupe index: a set of 128-bit digests of (project_id, message_id) in
//! memory, instead of a primary key in DuckDB.
//!
//! Why: a DuckDB PRIMARY KEY on two VARCHAR columns costs an ART index insert per row that made
//! `write` 3× slower than a plain append (measured by engine/tests/store_throughput.rs), and
//! DuckDB checkpoints the whole index. DuckDB also allows only one writing process per database
//! file, and this store serializes its writes behind one mutex, so a set owned by the writer is
//! authoritative: it is loaded from `events` at startup (`migrate`, or the first write), extended
//! only after a commit succeeds, and shrunk by the keys that erasure and retention delete
//! (`DELETE … RETURNING`).
//!
//! Exactness: the digest is SHA-256 truncated to 128 bits over a length-prefixed key. Two
//! different keys share a digest with probability ~n²/2¹²⁹ (10⁻¹⁹ at ten billion events), below
//! the collision rate of the SDKs' own random 122-bit UUID message ids, and a collision cannot be
//! crafted (it needs a SHA-256 second preimage). Memory: ~20 bytes per stored event.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use sha2::{Digest, Sha256};

/// The digests are uniformly random already: hash a digest by its low 64 bits.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub type KeySet = HashSet<u128, BuildHasherDefault<DigestHasher>>;

/// The digest of one (project_id, message_id).
pub fn key(project_id: &str, message_id: &str) -> u128 {
    let mut h = Sha256::new();
    h.update((project_id.len() as u64).to_le_bytes());
    h.update(project_id.as_bytes());
    h.update(message_id.as_bytes());
    let digest = h.finalize();
    u128::from_le_bytes(digest[..16].try_into().expect("SHA-256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_unambiguous() {
        assert_eq!(key("p", "m"), key("p", "m"));
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert_ne!(key("p", "m1"), key("p", "m2"));
        let mut set = KeySet::default();
        assert!(set.insert(key("p", "m")));
        assert!(!set.insert(key("p", "m")));
    }
}
