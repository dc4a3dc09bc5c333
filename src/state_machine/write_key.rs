//! The write key on the wire: in every batch body ([`Core::set_write_key_in_body`], for
//! transports that cannot set headers) or as HTTP Basic `Authorization` ([`Core::authorization`],
//! [`basic_auth`]).

use super::Core;

impl Core {
    /// Whether every batch body carries the write key (`"writeKey":"…"`), for hosts whose
    /// transport cannot set the `Authorization` header: the browser sends CORS-simple
    /// `text/plain` requests (an `Authorization` header would force a preflight). Default off
    /// (the native client sends HTTP Basic); [`Core::flush_all`] can also ask for it per call.
    /// Size limits account for the key.
    pub fn set_write_key_in_body(&mut self, on: bool) {
        self.key_field = if on {
            crate::queue::write_key_field(&self.config.delivery.write_key)
        } else {
            String::new()
        };
    }

    /// The `Authorization` header value: HTTP Basic with the write key as username and an empty
    /// password.
    pub fn authorization(&self) -> String {
        basic_auth(&self.config.delivery.write_key)
    }
}

/// `Basic base64(write_key + ":")`.
pub fn basic_auth(write_key: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = String::from(write_key) + ":";
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
