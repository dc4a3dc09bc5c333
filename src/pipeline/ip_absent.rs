//! `anonymize_ip` without address parsing: the build without the `ip` feature (the browser
//! bundle). A browser never knows the client's address — the collector sees it on the request
//! and truncates it because the message says `context.anonymizeIp: true` — so the parser and
//! printer of [`super::ip`] would be dead weight there.
//!
//! A `context.ip` a page supplies itself cannot be truncated here, so it is removed (the
//! stricter outcome: the collector records the truncated request address instead).

/// Without the `ip` feature no address is truncated: always `None`, which makes the anonymize
/// step remove `context.ip` (as it does for text that is not an address).
pub fn truncate_ip(_ip: &str) -> Option<String> {
    None
}
