//! Periods (`7_days`), trends and date ranges of dashboards and alerts.
//!
//! Dates are the query layer's ([`crate::query::time::parse_bound`]): `2026-10-01`, an RFC 3339
//! instant, `now`, `today`, `yesterday`, `N_days_ago` / `N_weeks_ago` / `N_months_ago` /
//! `N_hours_ago`. As a range start a day means its first instant; as an end it names the last
//! day included (`to: today` ends at midnight tonight); instants and `now` are exclusive ends.
//! Ranges resolve to half-open `[from, to)` in ms, in the dashboard's time zone (default UTC).

use chrono::{DateTime, Duration, Months, Utc};

use crate::query::time::{Frame, Zone, parse_bound};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A length of time: `7_days`, `24_hours`, `1_months`, `30_minutes`, `90_seconds` (singular
/// unit names and a space instead of `_` are accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub n: u32,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Weeks => "weeks",
            Unit::Months => "months",
        }
    }
}

impl Period {
    pub fn parse(s: &str) -> Result<Period, String> {
        let t = s.trim();
        let (num, unit) = t
            .split_once(['_', ' '])
            .ok_or_else(|| format!("`{t}` is not a period like 7_days or 24_hours"))?;
        let n: u32 = num
            .parse()
            .map_err(|_| format!("`{t}`: `{num}` is not a whole number"))?;
        if n == 0 {
            return Err(format!("`{t}`: a period must be longer than zero"));
        }
        let unit = match unit.trim().trim_end_matches('s') {
            "second" | "sec" => Unit::Seconds,
            "minute" | "min" => Unit::Minutes,
            "hour" => Unit::Hours,
            "day" => Unit::Days,
            "week" => Unit::Weeks,
            "month" => Unit::Months,
            other => return Err(format!("`{t}`: unknown unit `{other}` (seconds to months)")),
        };
        Ok(Period { n, unit })
    }

    /// `ts_ms` moved back by this period (months are calendar months).
    pub fn before(&self, ts_ms: i64) -> i64 {
        let n = i64::from(self.n);
        let back = match self.unit {
            Unit::Seconds => Duration::seconds(n),
            Unit::Minutes => Duration::minutes(n),
            Unit::Hours => Duration::hours(n),
            Unit::Days => Duration::days(n),
            Unit::Weeks => Duration::weeks(n),
            Unit::Months => {
                let t = ms_to_utc(ts_ms);
                return t
                    .checked_sub_months(Months::new(self.n))
                    .unwrap_or(t)
                    .timestamp_millis();
            }
        };
        ts_ms - back.num_milliseconds()
    }

    /// Approximate length in milliseconds (a month counts 30 days); for intervals and windows.
    pub fn approx_ms(&self) -> i64 {
        let unit_ms: i64 = match self.unit {
            Unit::Seconds => 1_000,
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
            Unit::Days => 86_400_000,
            Unit::Weeks => 7 * 86_400_000,
            Unit::Months => 30 * 86_400_000,
        };
        unit_ms * i64::from(self.n)
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.n, self.unit.name())
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Period::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A metric widget's comparison: `7_days` (shift back 7 days) or `previous_period` (shift back
/// by the range's own length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Shift(Period),
    PreviousPeriod,
}

impl Trend {
    /// The comparison range of `[from, to)`.
    pub fn previous(&self, from: i64, to: i64) -> (i64, i64) {
        match self {
            Trend::Shift(p) => (p.before(from), p.before(to)),
            Trend::PreviousPeriod => (from - (to - from), from),
        }
    }
}

impl std::fmt::Display for Trend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trend::Shift(p) => p.fmt(f),
            Trend::PreviousPeriod => f.write_str("previous_period"),
        }
    }
}

impl Serialize for Trend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Trend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "previous_period" {
            return Ok(Trend::PreviousPeriod);
        }
        Period::parse(&s)
            .map(Trend::Shift)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or previous_period")))
    }
}

/// `{from, to}` as written (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    #[serde(alias = "start", alias = "start_date")]
    pub from: String,
    /// Default `today` (the end of today).
    #[serde(default = "today_str", alias = "end", alias = "end_date")]
    pub to: String,
    /// A widget's range that the page's date picker does not override (a "yesterday" DAU tile).
    /// Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixed: bool,
}

fn today_str() -> String {
    "today".into()
}

impl DateRange {
    /// The default range of a dashboard: the last 30 days and today.
    pub fn last_30_days() -> DateRange {
        DateRange {
            from: "30_days_ago".into(),
            to: "today".into(),
            fixed: false,
        }
    }

    /// Resolves to `[from, to)` in ms at `now_ms` in `time_zone` (IANA, default UTC).
    pub fn resolve(&self, now_ms: i64, time_zone: Option<&str>) -> Result<(i64, i64), String> {
        let zone = Zone::parse(time_zone).map_err(|e| e.to_string())?;
        let f = Frame::resolve(Some(&self.from), Some(&self.to), zone, now_ms).map_err(|e| e.to_string())?;
        Ok((f.from_ms, f.to_ms))
    }

    /// Checks that both ends are valid dates (not their order: that depends on now).
    pub fn check(&self) -> Result<(), String> {
        parse_bound(&self.from, Zone::Utc, 0, false).map_err(|e| format!("from: {e}"))?;
        parse_bound(&self.to, Zone::Utc, 0, true).map_err(|e| format!("to: {e}"))?;
        Ok(())
    }
}

/// RFC 3339 with milliseconds, UTC (how ranges are echoed in results).
pub use crate::query::time::ms_to_rfc3339;

fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}
