//! HTTP IMF-fixdates (`Sun, 06 Nov 1994 08:49:37 GMT`), for `Retry-After` (feature `http-date`).

use super::{days_from_civil, digits};

/// Parses an HTTP IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into ms since the epoch.
pub fn parse_http_date_ms(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day = digits(parts.next()?)? as u32;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    let year = digits(parts.next()?)? as i64;
    let mut hms = parts.next()?.split(':');
    let (h, m, sec) = (digits(hms.next()?)?, digits(hms.next()?)?, digits(hms.next()?)?);
    if parts.next()? != "GMT" || parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + (h * 3600 + m * 60 + sec) as i64;
    u64::try_from(secs).ok().map(|s| s * 1000)
}
