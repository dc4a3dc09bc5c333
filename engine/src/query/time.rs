//! Dates, ranges, time zones and time buckets.
//!
//! Time zones are applied without any database time-zone support, so that the three backends
//! agree to the millisecond: the UTC offsets in force over the query's range (plus a margin) are
//! computed here with `chrono-tz`, and the SQL adds `CASE WHEN ts < t1 THEN o0 WHEN ... END` (a
//! constant for UTC or zones without transitions in the range) to `ts` before integer-dividing
//! it into hours, days and ISO weeks (Monday first). Months are a `CASE` over the months' start
//! instants. Bucket ids are absolute (hours/days/weeks since the Unix epoch in local time,
//! `year * 12 + month - 1`), so Rust fills missing buckets and labels them exactly as SQL groups.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::QueryError;
use super::spec::{DEFAULT_FROM, DEFAULT_TO, Interval};
use super::sql::Sql;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Margin around a range for which offsets and month boundaries are computed (look-backs of
/// rolling metrics and previous periods stay inside it).
const MARGIN: i64 = 400 * DAY;

/// A time zone: UTC or an IANA zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Utc,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn parse(name: Option<&str>) -> Result<Zone, QueryError> {
        match name {
            None | Some("UTC") | Some("utc") | Some("Etc/UTC") | Some("") => Ok(Zone::Utc),
            Some(n) => n
                .parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| QueryError::Invalid(format!("unknown time zone {n:?} (use an IANA name)"))),
        }
    }

    /// UTC offset in ms at instant `ms`.
    pub fn offset_ms(&self, ms: i64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::Named(tz) => {
                let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
                let local = utc.with_timezone(tz).naive_local();
                (local - utc.naive_utc()).num_milliseconds()
            }
        }
    }

    /// The instant of local midnight starting `date` (the earliest one if ambiguous; the first
    /// valid instant if midnight is skipped).
    pub fn day_start(&self, date: NaiveDate) -> i64 {
        let naive = NaiveDateTime::new(date, NaiveTime::MIN);
        match self {
            Zone::Utc => naive.and_utc().timestamp_millis(),
            Zone::Named(tz) => {
                let mut n = naive;
                for _ in 0..48 {
                    if let Some(dt) = tz.from_local_datetime(&n).earliest() {
                        return dt.timestamp_millis();
                    }
                    n += Duration::minutes(30);
                }
                naive.and_utc().timestamp_millis()
            }
        }
    }

    pub fn local_date(&self, ms: i64) -> NaiveDate {
        let local = ms + self.offset_ms(ms);
        DateTime::<Utc>::from_timestamp_millis(local)
            .unwrap_or_default()
            .date_naive()
    }
}

/// A resolved half-open range `[from_ms, to_ms)` in a zone, with what SQL needs for buckets.
#[derive(Debug, Clone)]
pub struct Frame {
    pub from_ms: i64,
    pub to_ms: i64,
    pub zone: Zone,
    /// (start instant, offset) segments covering the range plus [`MARGIN`], first start = -inf.
    segments: Vec<(i64, i64)>,
}

impl Frame {
    /// Resolves `from`/`to` (defaults `30_days_ago`/`today`) at `now_ms` in `zone`.
    pub fn resolve(
        from: Option<&str>,
        to: Option<&str>,
        zone: Zone,
        now_ms: i64,
    ) -> Result<Frame, QueryError> {
        let from_ms = parse_bound(from.unwrap_or(DEFAULT_FROM), zone, now_ms, false)?;
        let to_ms = parse_bound(to.unwrap_or(DEFAULT_TO), zone, now_ms, true)?;
        Frame::new(from_ms, to_ms, zone)
    }

    pub fn new(from_ms: i64, to_ms: i64, zone: Zone) -> Result<Frame, QueryError> {
        if from_ms > to_ms {
            return Err(QueryError::Invalid(format!(
                "the range starts after it ends ({} > {})",
                ms_to_rfc3339(from_ms),
                ms_to_rfc3339(to_ms)
            )));
        }
        if to_ms - from_ms > 20 * 366 * DAY {
            return Err(QueryError::Invalid("ranges are limited to 20 years".into()));
        }
        let mut segments = vec![(i64::MIN, zone.offset_ms(from_ms - MARGIN))];
        if let Zone::Named(_) = zone {
            let (mut t, end) = (from_ms - MARGIN, to_ms + MARGIN);
            while t < end {
                let next = t + HOUR;
                let (a, b) = (zone.offset_ms(t), zone.offset_ms(next));
                if a != b {
                    // Binary search of the first ms with the new offset.
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2;
                        if zone.offset_ms(mid) == a {
                            lo = mid
                        } else {
                            hi = mid
                        }
                    }
                    segments.push((hi, b));
                }
                t = next;
            }
        }
        Ok(Frame {
            from_ms,
            to_ms,
            zone,
            segments,
        })
    }

    /// The offset (ms) SQL adds to `ts` to get local time.
    pub fn offset_sql(&self, ts: &str) -> String {
        if self.segments.len() == 1 {
            return format!("{}", self.segments[0].1);
        }
        let mut s = String::from("(CASE");
        for w in self.segments.windows(2) {
            s.push_str(&format!(" WHEN {ts} < {} THEN {}", w[1].0, w[0].1));
        }
        s.push_str(&format!(
            " ELSE {} END)",
            self.segments.last().expect("non-empty").1
        ));
        s
    }

    fn local_sql(&self, ts: &str) -> String {
        if self.segments.len() == 1 && self.segments[0].1 == 0 {
            ts.to_string()
        } else {
            format!("({ts} + {})", self.offset_sql(ts))
        }
    }

    /// SQL for the absolute bucket id of `ts` (valid for instants within the margin).
    pub fn bucket_sql(&self, sql: &Sql, ts: &str, interval: Interval) -> String {
        let local = self.local_sql(ts);
        match interval {
            Interval::Hour => sql.idiv(&local, HOUR),
            Interval::Day => sql.idiv(&local, DAY),
            Interval::Week => sql.idiv(&format!("{} + 3", sql.idiv(&local, DAY)), 7),
            Interval::Month => {
                let first = self.bucket_of(self.from_ms - MARGIN, Interval::Month);
                let last = self.bucket_of(self.to_ms + MARGIN, Interval::Month);
                let mut s = String::from("(CASE");
                for id in first..last {
                    s.push_str(&format!(
                        " WHEN {ts} < {} THEN {id}",
                        self.bucket_start(id + 1, Interval::Month)
                    ));
                }
                s.push_str(&format!(" ELSE {last} END)"));
                s
            }
        }
    }

    /// The bucket id of instant `ms` (same arithmetic as [`Frame::bucket_sql`]).
    pub fn bucket_of(&self, ms: i64, interval: Interval) -> i64 {
        let local = ms + self.zone.offset_ms(ms);
        match interval {
            Interval::Hour => local.div_euclid(HOUR),
            Interval::Day => local.div_euclid(DAY),
            Interval::Week => (local.div_euclid(DAY) + 3).div_euclid(7),
            Interval::Month => {
                let d = self.zone.local_date(ms);
                d.year() as i64 * 12 + d.month0() as i64
            }
        }
    }

    /// The first instant of bucket `id`.
    pub fn bucket_start(&self, id: i64, interval: Interval) -> i64 {
        match interval {
            Interval::Hour => {
                // Local hour start → instant: subtract the offset in force then.
                let local = id * HOUR;
                let guess = local - self.zone.offset_ms(local);
                local - self.zone.offset_ms(guess)
            }
            _ => self.zone.day_start(bucket_date(id, interval)),
        }
    }

    /// Every bucket id overlapping the range, in order; more than [`MAX_BUCKETS`] is refused
    /// with a message that suggests a coarser interval (an hourly trend over years would
    /// answer hundreds of thousands of points no chart can show).
    pub fn buckets(&self, interval: Interval) -> Result<Vec<i64>, QueryError> {
        if self.to_ms <= self.from_ms {
            return Ok(Vec::new());
        }
        let (first, last) = (
            self.bucket_of(self.from_ms, interval),
            self.bucket_of(self.to_ms - 1, interval),
        );
        let n = last - first + 1;
        if n > MAX_BUCKETS {
            return Err(QueryError::Invalid(format!(
                "the range makes {n} {} buckets, more than {MAX_BUCKETS}: use a coarser interval or a shorter range",
                interval_name(interval)
            )));
        }
        Ok((first..=last).collect())
    }

    pub fn label(&self, id: i64, interval: Interval) -> String {
        bucket_label(id, interval)
    }
}

/// Most buckets a query answers (10,000: 416 days of hours, 27 years of days).
pub const MAX_BUCKETS: i64 = 10_000;

fn interval_name(interval: Interval) -> &'static str {
    match interval {
        Interval::Hour => "hourly",
        Interval::Day => "daily",
        Interval::Week => "weekly",
        Interval::Month => "monthly",
    }
}

/// The local date a day/week/month bucket starts on (hours: the date of the hour).
fn bucket_date(id: i64, interval: Interval) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    match interval {
        Interval::Hour => epoch + Duration::days(id.div_euclid(24)),
        Interval::Day => epoch + Duration::days(id),
        Interval::Week => epoch + Duration::days(id * 7 - 3),
        Interval::Month => NaiveDate::from_ymd_opt(id.div_euclid(12) as i32, id.rem_euclid(12) as u32 + 1, 1)
            .unwrap_or(epoch),
    }
}

/// `2026-10-01T13:00` (hour), `2026-10-01` (day; week = its Monday), `2026-10` (month).
pub fn bucket_label(id: i64, interval: Interval) -> String {
    let d = bucket_date(id, interval);
    match interval {
        Interval::Hour => format!("{}T{:02}:00", d.format("%Y-%m-%d"), id.rem_euclid(24)),
        Interval::Day | Interval::Week => d.format("%Y-%m-%d").to_string(),
        Interval::Month => d.format("%Y-%m").to_string(),
    }
}

pub fn ms_to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses a range bound. Dates and day-relative words name whole local days: as a start they
/// mean the day's first instant, as an end (`is_end`) the first instant of the next day.
pub fn parse_bound(s: &str, zone: Zone, now_ms: i64, is_end: bool) -> Result<i64, QueryError> {
    let s = s.trim();
    let today = zone.local_date(now_ms);
    let day = |d: NaiveDate| zone.day_start(if is_end { d + Duration::days(1) } else { d });
    let bad = || {
        QueryError::Invalid(format!(
            "invalid date {s:?}: use YYYY-MM-DD, an RFC 3339 time, now, today, yesterday or N_days_ago / \
             N_weeks_ago / N_months_ago / N_hours_ago"
        ))
    };
    match s {
        "now" => return Ok(now_ms),
        "today" => return Ok(day(today)),
        "yesterday" => return Ok(day(today - Duration::days(1))),
        _ => {}
    }
    if let Some(rest) = s.strip_suffix("_ago") {
        let (n, unit) = rest.split_once('_').ok_or_else(bad)?;
        let n: i64 = n.parse().map_err(|_| bad())?;
        if !(0..=100_000).contains(&n) {
            return Err(bad());
        }
        return match unit {
            "day" | "days" => Ok(day(today - Duration::days(n))),
            "week" | "weeks" => Ok(day(today - Duration::days(7 * n))),
            "month" | "months" => {
                let d = today
                    .checked_sub_months(chrono::Months::new(n as u32))
                    .ok_or_else(bad)?;
                Ok(day(d))
            }
            "hour" | "hours" => Ok(now_ms - n * HOUR),
            _ => Err(bad()),
        };
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(day(d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_max_buckets_is_refused_with_advice() {
        let now = parse_bound("2026-10-15T12:00:00Z", Zone::Utc, 0, false).unwrap();
        let years = Frame::resolve(Some("2010-01-01"), Some("today"), Zone::Utc, now).unwrap();
        let e = years.buckets(Interval::Hour).unwrap_err().to_string();
        assert!(e.contains("hourly") && e.contains("coarser interval"), "{e}");
        assert_eq!(
            years.buckets(Interval::Day).unwrap().len(),
            6132,
            "days of the same range are fine"
        );
        let edge = Frame::new(0, MAX_BUCKETS * HOUR, Zone::Utc).unwrap();
        assert_eq!(edge.buckets(Interval::Hour).unwrap().len() as i64, MAX_BUCKETS);
        let over = Frame::new(0, MAX_BUCKETS * HOUR + 1, Zone::Utc).unwrap();
        assert!(over.buckets(Interval::Hour).is_err());
    }

    #[test]
    fn bounds_and_buckets() {
        let now = parse_bound("2026-10-15T12:00:00Z", Zone::Utc, 0, false).unwrap();
        let f = Frame::resolve(Some("7_days_ago"), Some("today"), Zone::Utc, now).unwrap();
        assert_eq!(ms_to_rfc3339(f.from_ms), "2026-10-08T00:00:00.000Z");
        assert_eq!(ms_to_rfc3339(f.to_ms), "2026-10-16T00:00:00.000Z");
        assert_eq!(f.buckets(Interval::Day).unwrap().len(), 8);
        let w = f.buckets(Interval::Week).unwrap();
        assert_eq!(bucket_label(w[0], Interval::Week), "2026-10-05");
        assert_eq!(
            f.bucket_start(w[1], Interval::Week),
            parse_bound("2026-10-12", Zone::Utc, 0, false).unwrap()
        );
        let m = f.bucket_of(now, Interval::Month);
        assert_eq!(bucket_label(m, Interval::Month), "2026-10");
        assert!(parse_bound("2026-13-01", Zone::Utc, now, false).is_err());
        assert!(parse_bound("x_days_ago", Zone::Utc, now, false).is_err());
    }

    #[test]
    fn zones_shift_days() {
        let z = Zone::parse(Some("America/New_York")).unwrap();
        // 2026-03-08 is the DST switch in New York: the day has 23 hours.
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(z.day_start(d + Duration::days(1)) - z.day_start(d), 23 * HOUR);
        let f = Frame::new(z.day_start(d), z.day_start(d + Duration::days(2)), z).unwrap();
        assert_eq!(f.buckets(Interval::Day).unwrap().len(), 2);
        assert_eq!(
            f.bucket_of(z.day_start(d) + 23 * HOUR, Interval::Day),
            f.bucket_of(z.day_start(d), Interval::Day) + 1
        );
        assert!(f.offset_sql("ts").starts_with("(CASE"));
        assert!(Zone::parse(Some("Mars/Base")).is_err());
    }
}
