//! The batch body, written by concatenation of the queued messages' JSON (see the module docs
//! of [`crate::queue`]).

use super::Entry;

/// `{"batch":[` + `],"sentAt":"2026-11-28T20:49:12.345Z"}`
pub const ENVELOPE_BYTES: usize = r#"{"batch":[],"sentAt":""}"#.len() + 24;

/// The sum of [`Entry::batch_bytes`] over `entries`.
pub(super) fn batch_bytes(entries: &[Entry]) -> usize {
    let mut n = 0;
    for e in entries {
        n += e.batch_bytes();
    }
    n
}

/// `,"writeKey":"…"` for `write_key`, as a batch body carries it.
pub fn write_key_field(write_key: &str) -> String {
    let mut out = String::from(",\"writeKey\":");
    crate::json::write_str(&mut out, write_key);
    out
}

/// Writes a batch body. `sent_at` is the RFC 3339 attempt time (24 bytes); `key_field` is
/// [`write_key_field`] for transports that cannot send headers (`sendBeacon`, CORS-simple
/// `fetch`), or empty.
pub fn write_body(entries: &[Entry], sent_at: &str, key_field: &str) -> Vec<u8> {
    let size = ENVELOPE_BYTES + batch_bytes(entries) + key_field.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"batch\":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let json = e.json.as_bytes();
        match e.sent_at as usize {
            0 => {
                out.extend_from_slice(b"{\"sentAt\":\"");
                out.extend_from_slice(sent_at.as_bytes());
                out.extend_from_slice(b"\",");
                out.extend_from_slice(&json[1..]);
            }
            at => {
                out.extend_from_slice(&json[..at]);
                out.extend_from_slice(b",\"sentAt\":\"");
                out.extend_from_slice(sent_at.as_bytes());
                out.push(b'"');
                out.extend_from_slice(&json[at..]);
            }
        }
    }
    out.extend_from_slice(b"],\"sentAt\":\"");
    out.extend_from_slice(sent_at.as_bytes());
    out.push(b'"');
    out.extend_from_slice(key_field.as_bytes());
    out.push(b'}');
    out
}
