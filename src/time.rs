//! Time on the wire, by hand (no `chrono` in the browser bundle).
//!
//! The core counts time as `u64` milliseconds since the Unix epoch, always passed in by the host
//! (`now`). Messages carry RFC 3339 UTC strings with exactly three fractional digits
//! (`2026-11-28T20:49:12.345Z`). HTTP `Retry-After` values are either delta-seconds or an
//! IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); [`retry_after_ms`] understands both (dates
//! with the `http-date` feature).

/// Days since 1970-01-01 → (year, month 1-12, day 1-31). Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month 1-12, day 1-31) → days since 1970-01-01. Inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Writes `value` as `width` decimal digits ending at `buf[end]` (exclusive).
fn put(buf: &mut [u8; 24], end: usize, width: usize, mut value: u64) {
    for i in (end - width..end).rev() {
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Appends `ms` (milliseconds since the epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn write_rfc3339_ms(out: &mut String, ms: u64) {
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    put(&mut buf, 4, 4, year.clamp(0, 9999) as u64);
    put(&mut buf, 7, 2, u64::from(month));
    put(&mut buf, 10, 2, u64::from(day));
    put(&mut buf, 13, 2, sod / 3600);
    put(&mut buf, 16, 2, sod / 60 % 60);
    put(&mut buf, 19, 2, sod % 60);
    put(&mut buf, 23, 3, ms % 1000);
    // Only ASCII was written (chars, not a UTF-8 check: bundle size).
    crate::text::push_ascii(out, &buf);
}

/// `ms` (milliseconds since the epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: u64) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339_ms(&mut out, ms);
    out
}

/// `s` as a decimal number of 1 to 19 ASCII digits ([`crate::text::decimal`], one parser).
fn digits(s: &str) -> Option<u64> {
    if s.len() > 19 {
        return None;
    }
    crate::text::decimal(s)
}

/// Parses an RFC 3339 timestamp (`Z` or `±HH:MM` offset, any number of fractional digits) into
/// milliseconds since the epoch. Returns `None` for anything else or for dates before 1970.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(s.get(0..4)?)? as i64;
    let month = digits(s.get(5..7)?)? as u32;
    let day = digits(s.get(8..10)?)? as u32;
    let (h, mi, sec) = (
        digits(s.get(11..13)?)?,
        digits(s.get(14..16)?)?,
        digits(s.get(17..19)?)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut millis = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac
            .as_bytes()
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if end == 0 {
            return None;
        }
        let mut scaled = 0u64;
        for (i, c) in frac[..end].bytes().take(3).enumerate() {
            scaled += u64::from(c - b'0') * [100, 10, 1][i];
        }
        millis = scaled;
        rest = &frac[end..];
    }
    let offset_min: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let m = (digits(&rest[1..3])? * 60 + digits(&rest[4..6])?) as i64;
            if rest.starts_with('-') { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + sec) as i64 - offset_min * 60;
    u64::try_from(secs).ok().map(|s| s * 1000 + millis)
}

/// The delay a `Retry-After` header value asks for, in ms from `now_ms`: delta-seconds
/// (`"120"`) or an HTTP date (a date in the past means "now", 0). `None` if unparseable.
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim_ascii(); // HTTP whitespace (SP, HTAB)
    if let Some(secs) = digits(value) {
        return Some(secs.saturating_mul(1000));
    }
    http_date::parse_http_date_ms(value).map(|at| at.saturating_sub(now_ms))
}

/// HTTP dates in `Retry-After`: parsed with the `http-date` feature (native hosts). The browser
/// host hands the core delta-seconds only (`js/src/host.ts` turns a date into seconds with the
/// browser's own `Date.parse`), so its build leaves the parser out.
#[cfg(feature = "http-date")]
mod http_date;
#[cfg(feature = "http-date")]
pub use http_date::parse_http_date_ms;
#[cfg(not(feature = "http-date"))]
mod http_date {
    /// Without the `http-date` feature: no date is understood (`Retry-After` must be seconds).
    pub fn parse_http_date_ms(_s: &str) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_known_instants() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_ms(1_764_324_930_123), "2025-11-28T10:15:30.123Z");
        assert_eq!(format_rfc3339_ms(951_782_400_007), "2000-02-29T00:00:00.007Z");
        assert_eq!(format_rfc3339_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_inverts_format_for_many_instants() {
        let mut ms = 0u64;
        while ms < 5_000_000_000_000 {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms), "{ms}");
            ms += 86_399_997 * 7 + 13;
        }
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let base = parse_rfc3339_ms("2026-11-28T10:15:30.123Z").unwrap();
        assert_eq!(parse_rfc3339_ms("2026-11-28T11:15:30.123+01:00"), Some(base));
        assert_eq!(parse_rfc3339_ms("2026-11-28T10:15:30.123456Z"), Some(base));
        assert_eq!(parse_rfc3339_ms("2026-11-28T10:15:30Z"), Some(base - 123));
        assert_eq!(parse_rfc3339_ms("2026-11-28 10:15:30"), None);
        assert_eq!(parse_rfc3339_ms("2026-13-28T10:15:30Z"), None);
        assert_eq!(parse_rfc3339_ms("not a date at all!!"), None);
    }

    #[cfg(feature = "http-date")]
    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(retry_after_ms("120", 0), Some(120_000));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        let now = parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(now, 784_111_777_000);
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(30_000));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(0));
        assert_eq!(retry_after_ms("soon", now), None);
        assert_eq!(retry_after_ms("-5", now), None);
    }
}
