//! Reading a request body within the limits: size before and after gzip decompression, a time
//! limit, and the accepted content types (`application/json`, `text/plain` for beacons,
//! `application/x-www-form-urlencoded` for `curl -d` and RudderStack; no content type is read as
//! JSON).
//!
//! A gzip body is inflated through a reader capped at `max_request_bytes + 1` bytes, so a gzip
//! bomb costs at most that much memory and answers 413.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use futures::StreamExt;

use crate::error::ApiError;

/// Checks the content type: JSON or text (beacons send `text/plain`), anything else is 415.
/// `application/x-www-form-urlencoded` is read as JSON too: it is what `curl -d` sends by default
/// and what RudderStack's Node library (axios posting a gzip buffer) sends; a body that is really
/// form-encoded then fails as `invalid_json`, naming the problem.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("").to_ascii_lowercase();
    let mime = text.split(';').next().unwrap_or("").trim();
    if matches!(
        mime,
        "application/json" | "text/plain" | "application/x-www-form-urlencoded" | ""
    ) || mime.ends_with("+json")
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(mime.chars().take(100).collect()))
    }
}

/// Whether the body is gzip-compressed (`Content-Encoding: gzip`); other encodings are 415.
fn is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(e) if e.is_empty() || e == "identity" => Ok(false),
        Some(e) if e == "gzip" || e == "x-gzip" => Ok(true),
        Some(e) => Err(ApiError::UnsupportedEncoding(e.chars().take(50).collect())),
    }
}

/// An oversized body is read and discarded up to this many bytes before the 413 goes out, so
/// the client (still sending) reads the answer instead of a connection reset. Beyond it the
/// connection is simply closed.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads and (when gzip) inflates the body; at most `limit` bytes either way.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let gzip = is_gzip(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let read = async {
        if declared.is_some_and(|len| len > limit as u64) {
            if declared.is_some_and(|len| len <= DRAIN_LIMIT as u64) {
                drain(body.into_data_stream()).await;
            }
            return Err(ApiError::BodyTooLarge { limit });
        }
        collect(body, limit).await
    };
    let raw = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout(timeout.as_secs()))??;
    if gzip { inflate(&raw, limit) } else { Ok(raw) }
}

async fn collect(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BodyRead(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            drain(stream).await;
            return Err(ApiError::BodyTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads and discards up to [`DRAIN_LIMIT`] bytes.
async fn drain(mut stream: axum::body::BodyDataStream) {
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
    }
}

/// Inflates gzip, refusing output beyond `limit` bytes (gzip bombs) with 413. Every member of a
/// multi-member body counts (RFC 1952: concatenated gzip streams are one file), and bytes after
/// the last member that are not gzip make the body invalid: never a part of a body read as the
/// whole.
pub fn inflate(compressed: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(limit + 1));
    MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::InvalidGzip)?;
    if out.len() > limit {
        return Err(ApiError::BodyTooLarge { limit });
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflate_caps_bombs() {
        assert_eq!(&inflate(&gz(b"hello"), 10).unwrap()[..], b"hello");
        let bomb = gz(&vec![b'a'; 20_000_000]);
        assert!(bomb.len() < 100_000);
        assert_eq!(inflate(&bomb, 512_000).unwrap_err().code(), "too_large");
        assert_eq!(inflate(b"not gzip", 10).unwrap_err().code(), "invalid_gzip");
    }

    #[test]
    fn inflate_reads_every_member_and_refuses_trailing_garbage() {
        let mut two = gz(br#"{"batch":[{"a":1},"#);
        two.extend(gz(br#"{"b":2}]}"#));
        assert_eq!(
            &inflate(&two, 100).unwrap()[..],
            br#"{"batch":[{"a":1},{"b":2}]}"#
        );
        let mut trailing = gz(b"{}");
        trailing.extend_from_slice(b"garbage after the gzip stream");
        assert_eq!(inflate(&trailing, 100).unwrap_err().code(), "invalid_gzip");
        // A bomb split over many members is capped all the same.
        let member = gz(&vec![b' '; 1_000_000]);
        let many: Vec<u8> = std::iter::repeat_n(member, 20).flatten().collect();
        assert_eq!(inflate(&many, 512_000).unwrap_err().code(), "too_large");
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain;charset=UTF-8".parse().unwrap());
        assert!(check_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "multipart/form-data".parse().unwrap());
        assert_eq!(
            check_content_type(&h).unwrap_err().code(),
            "unsupported_media_type"
        );
        h.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(is_gzip(&h).unwrap_err().code(), "unsupported_encoding");
    }
}
