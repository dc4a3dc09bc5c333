//! Spec pieces shared by every query kind: date ranges, filters, event matchers, metrics and the
//! scope (range, filters, saved segment, bots) every query accepts.
//!
//! Every type is serde (JSON and YAML). Shorthands accepted on input: an event matcher may be a
//! bare event name (`page_view`), a filter may be a list (= AND of its items), a metric may be a
//! bare kind (`count`). Unknown fields are errors naming the field.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Default start of a range: the start of the day 30 days ago (project time zone).
pub const DEFAULT_FROM: &str = "30_days_ago";
/// Default end of a range: the end of today (`to` names the last day included).
pub const DEFAULT_TO: &str = "today";

/// The part of a spec shared by all query kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Start of the range, inclusive: `2026-10-01` (start of that day), an RFC 3339 instant,
    /// `today`, `yesterday`, `now`, `N_days_ago`, `N_weeks_ago`, `N_months_ago`, `N_hours_ago`.
    /// Default `30_days_ago`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// End of the range. A date (`2026-10-31`, `today`, `yesterday`, `N_days_ago`) names the last
    /// day included; an RFC 3339 instant or `now` is an exclusive bound. Default `today`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// IANA time zone for date bounds and time buckets (default: the context's, else UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Event filters (AND/OR/NOT of comparisons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    /// Only persons in this segment: a saved segment id, or an inline segment definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentRef>,
    /// Include events flagged `is_bot` (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_bots: bool,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// A segment used as a filter: the id of a saved segment, or an inline definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SegmentRef {
    Saved(String),
    Inline(Box<super::segments::SegmentSpec>),
}

/// Comparison operators of a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Substring (case-sensitive) of the field's text.
    Contains,
    NotContains,
    /// One of a list of values.
    In,
    NotIn,
    /// `value: true` (default) = present and not JSON null; `false` = absent or null.
    IsSet,
}

/// One comparison: `{field: properties.plan, op: eq, value: pro}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// `event`, `type`, `person`, `user_id`, `anonymous_id`, `session_id`, `group_id`, `browser`,
    /// `os`, `device` (`device_type`), `ip`, `ts`, or `properties.x`, `context.x`, `traits.x`
    /// (nested keys with dots: `context.page.path`).
    pub field: String,
    pub op: Op,
    /// A string compares the field's text, a number compares numerically (non-numbers never
    /// match), a boolean compares the text `true`/`false`; `in` takes a list.
    #[serde(default)]
    pub value: Value,
}

/// A boolean tree of conditions. JSON/YAML forms: `{field, op, value}`, `{and: [..]}`,
/// `{or: [..]}`, `{not: ..}`, or a list (= AND).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond(Condition),
}

impl Filter {
    /// `field == value` shorthand.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter::Cond(Condition {
            field: field.into(),
            op: Op::Eq,
            value: value.into(),
        })
    }

    pub fn cond(field: &str, op: Op, value: impl Into<Value>) -> Filter {
        Filter::Cond(Condition {
            field: field.into(),
            op,
            value: value.into(),
        })
    }

    fn from_value(v: Value) -> Result<Filter, String> {
        match v {
            Value::Array(items) => Ok(Filter::And(
                items
                    .into_iter()
                    .map(Filter::from_value)
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(m) if m.len() == 1 && (m.contains_key("and") || m.contains_key("or")) => {
                let (key, inner) = m.into_iter().next().expect("one entry");
                let Value::Array(items) = inner else {
                    return Err(format!("filter `{key}` takes a list"));
                };
                let items = items
                    .into_iter()
                    .map(Filter::from_value)
                    .collect::<Result<_, _>>()?;
                Ok(if key == "and" {
                    Filter::And(items)
                } else {
                    Filter::Or(items)
                })
            }
            Value::Object(ref m) if m.len() == 1 && m.contains_key("not") => {
                let Value::Object(mut m) = v else { unreachable!() };
                Ok(Filter::Not(Box::new(Filter::from_value(
                    m.remove("not").expect("key"),
                )?)))
            }
            Value::Object(_) => serde_json::from_value::<Condition>(v)
                .map(Filter::Cond)
                .map_err(|e| format!("invalid filter condition: {e}")),
            other => Err(format!(
                "invalid filter {other}: expected {{field, op, value}}, {{and|or|not: ..}} or a list"
            )),
        }
    }

    fn to_value(&self) -> Value {
        let list = |fs: &[Filter]| Value::Array(fs.iter().map(Filter::to_value).collect());
        let mut m = Map::new();
        match self {
            Filter::And(fs) => m.insert("and".into(), list(fs)),
            Filter::Or(fs) => m.insert("or".into(), list(fs)),
            Filter::Not(f) => m.insert("not".into(), f.to_value()),
            Filter::Cond(c) => return serde_json::to_value(c).expect("condition serializes"),
        };
        Value::Object(m)
    }
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Filter::from_value(Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Matches events: a name (`*` = any event) plus optional filters. Shorthand: the bare name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatchFull {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    /// Display name (default: the event name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An event matcher; see [`EventMatchFull`].
pub type EventMatch = EventMatchFull;

impl EventMatchFull {
    pub fn named(event: &str) -> Self {
        EventMatchFull {
            event: event.into(),
            filters: None,
            name: None,
        }
    }

    pub fn with_filter(event: &str, filter: Filter) -> Self {
        EventMatchFull {
            event: event.into(),
            filters: Some(filter),
            name: None,
        }
    }

    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.event.clone())
    }

    pub fn is_any(&self) -> bool {
        self.event == "*" || self.event == "$any"
    }
}

/// Deserializes an [`EventMatch`] from its full form or a bare event name.
pub(crate) fn de_event_match<'de, D: Deserializer<'de>>(d: D) -> Result<EventMatch, D::Error> {
    event_match_from(Value::deserialize(d)?).map_err(D::Error::custom)
}

/// [`de_event_match`] for an optional field (`null` is absent).
pub(crate) fn de_opt_event_match<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EventMatch>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => event_match_from(v).map(Some).map_err(D::Error::custom),
    }
}

pub(crate) fn de_event_matches<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EventMatch>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().map(event_match_from).collect::<Result<_, _>>(),
        other => Err(format!("expected a list of events, got {other}")),
    }
    .map_err(D::Error::custom)
}

fn event_match_from(v: Value) -> Result<EventMatch, String> {
    match v {
        Value::String(s) => Ok(EventMatch::named(&s)),
        v @ Value::Object(_) => serde_json::from_value(v).map_err(|e| format!("invalid event matcher: {e}")),
        other => Err(format!(
            "invalid event matcher {other}: expected a name or {{event, filters}}"
        )),
    }
}

/// Aggregations of the events query and trends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    Median,
    P90,
    P95,
    P99,
}

impl MetricKind {
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Count => "count",
            MetricKind::CountDistinct => "count_distinct",
            MetricKind::Sum => "sum",
            MetricKind::Avg => "avg",
            MetricKind::Min => "min",
            MetricKind::Max => "max",
            MetricKind::Median => "median",
            MetricKind::P90 => "p90",
            MetricKind::P95 => "p95",
            MetricKind::P99 => "p99",
        }
    }
}

/// A metric: `{type: count}`, `{type: count_distinct, field: person}`, `{type: p95, field:
/// properties.amount, as: p95_amount}`; shorthand `count`. `count_distinct` defaults to `person`;
/// the numeric kinds need a field (a number-valued property or `ts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    #[serde(rename = "type")]
    pub kind: MetricKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Output column name (default: `count`, `count_distinct_person`, `sum_amount`, ...).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl Metric {
    pub fn count() -> Metric {
        Metric {
            kind: MetricKind::Count,
            field: None,
            alias: None,
        }
    }

    pub fn of(kind: MetricKind, field: &str) -> Metric {
        Metric {
            kind,
            field: Some(field.into()),
            alias: None,
        }
    }

    /// The output column name.
    pub fn column_name(&self) -> String {
        if let Some(a) = &self.alias {
            return a.clone();
        }
        match (&self.kind, &self.field) {
            (MetricKind::Count, _) => "count".into(),
            (MetricKind::CountDistinct, None) => "count_distinct_person".into(),
            (k, Some(f)) => format!("{}_{}", k.name(), f.rsplit('.').next().unwrap_or(f)),
            (k, None) => k.name().into(),
        }
    }
}

pub(crate) fn de_metric<'de, D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
    metric_from(Value::deserialize(d)?).map_err(D::Error::custom)
}

pub(crate) fn de_metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Metric>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().map(metric_from).collect::<Result<_, _>>(),
        other => metric_from(other).map(|m| vec![m]),
    }
    .map_err(D::Error::custom)
}

fn metric_from(v: Value) -> Result<Metric, String> {
    match v {
        Value::String(s) => serde_json::from_value::<MetricKind>(Value::String(s.clone()))
            .map(|kind| Metric {
                kind,
                field: None,
                alias: None,
            })
            .map_err(|_| format!("unknown metric `{s}`")),
        v => serde_json::from_value(v).map_err(|e| format!("invalid metric: {e}")),
    }
}

/// Calendar units of time buckets and periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Hour,
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl Interval {
    pub fn name(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// Declares a spec struct with the [`Scope`] fields appended (flat in JSON/YAML, unknown fields
/// refused) and a `scope()` accessor.
macro_rules! scoped_spec {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            /// Range start (see [`crate::query::Scope::from`]); default `30_days_ago`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub from: Option<String>,
            /// Range end (see [`crate::query::Scope::to`]); default `today` (inclusive).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub to: Option<String>,
            /// IANA time zone (default: the context's, else UTC).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub time_zone: Option<String>,
            /// Event filters applied to every event the query reads.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub filters: Option<$crate::query::Filter>,
            /// Only persons in this segment (saved id or inline definition).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub segment: Option<$crate::query::SegmentRef>,
            /// Include bot events (default false).
            #[serde(default, skip_serializing_if = "crate::query::spec::is_false")]
            pub include_bots: bool,
        }

        impl $name {
            /// The spec with its own fields given and the scope fields at their defaults.
            #[allow(clippy::too_many_arguments, dead_code)]
            fn from_fields($($f: $t),*) -> Self {
                $name {
                    $($f,)*
                    from: None,
                    to: None,
                    time_zone: None,
                    filters: None,
                    segment: None,
                    include_bots: false,
                }
            }

            /// The shared scope fields.
            pub fn scope(&self) -> $crate::query::Scope {
                $crate::query::Scope {
                    from: self.from.clone(),
                    to: self.to.clone(),
                    time_zone: self.time_zone.clone(),
                    filters: self.filters.clone(),
                    segment: self.segment.clone(),
                    include_bots: self.include_bots,
                }
            }

            /// Sets the range.
            pub fn range(mut self, from: &str, to: &str) -> Self {
                self.from = Some(from.into());
                self.to = Some(to.into());
                self
            }
        }
    };
}
pub(crate) use scoped_spec;
