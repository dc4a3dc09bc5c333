//! Field names and widget filters.
//!
//! # Fields
//!
//! | name in YAML | means |
//! |---|---|
//! | `person`, `user_id`, `person_id`, `distinct_id` | the resolved person: `coalesce(user_id, identified user of the anonymous id (earliest link), anonymous_id)` — so `{type: count_distinct, field: user_id}` counts people, including anonymous ones |
//! | `anonymous_id` | the SDK's anonymous id as sent |
//! | `session_id` | the session |
//! | `event`, `event_type`, `event_name` | the normalized event name (`page_view`, `purchase`...) |
//! | `type` | Segment message type (track, page, screen, identify...) |
//! | `browser`, `os`, `device` (`device_type`) | parsed from the user agent at ingestion |
//! | `properties.x`, `context.x`, `traits.x` | a JSON field of the event (nested: `properties.a.b`) |
//! | any other bare name `x` | `properties.x` (the seed writes `page_name: signup`) |
//! | `hour`, `day` (`date`, `timestamp`), `week`, `month` | dimensions only: the event time truncated to that bucket (UTC or the project time zone) |
//!
//! # Filters
//!
//! A map (the seed's form) whose keys are ANDed:
//!
//! ```yaml
//! filters:
//!   start_date: 30_days_ago     # the widget's own range (absolute 2026-10-01 or relative)
//!   end_date: today
//!   event_type: purchase        # or a list: [purchase, refund]
//!   currency: EUR               # a scalar is `eq`; a bare name is a property
//!   properties.amount: {gte: 10, lt: 1000}
//!   browser: [Chrome, Firefox]  # a list is `in`
//!   properties.coupon: {is_set: true}
//!   any:                        # OR of filter maps
//!     - {os: iOS}
//!     - {os: Android}
//!   include_bots: false         # default false: bots are excluded
//! ```
//!
//! Operators (the query layer's [`Op`]): `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `contains`,
//! `not_contains`, `in`, `not_in`, `is_set` (`is_set: false` means absent). A string value
//! compares text, a number compares numerically. The list form `where: [{field, op, value}]` is
//! accepted too and is what a stored dashboard serializes to. [`Filters::to_query`] gives the
//! query layer's [`crate::query::Filter`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A time bucket of a dimension (the query layer's [`Interval`]).
pub use crate::query::Interval as TimeBucket;

/// A field of an event, parsed from its YAML name (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Person,
    AnonymousId,
    SessionId,
    Event,
    Type,
    Browser,
    Os,
    Device,
    Property(String),
    Context(String),
    Trait(String),
    Time(TimeBucket),
}

impl Field {
    /// Parses a field name; `Err` carries a message for the user.
    pub fn parse(name: &str) -> Result<Field, String> {
        let n = name.trim();
        let path = |prefix: &str| {
            let rest = &n[prefix.len()..];
            if rest.is_empty() || rest.split('.').any(|p| p.is_empty()) {
                Err(format!("field `{n}` needs a name after `{prefix}`"))
            } else {
                Ok(rest.to_string())
            }
        };
        let parsed = match n {
            "" => return Err("empty field name".into()),
            "person" | "user_id" | "person_id" | "distinct_id" | "userId" => Field::Person,
            "anonymous_id" | "anonymousId" => Field::AnonymousId,
            "session_id" | "session" => Field::SessionId,
            "event" | "event_type" | "event_name" => Field::Event,
            "type" => Field::Type,
            "browser" => Field::Browser,
            "os" => Field::Os,
            "device" | "device_type" => Field::Device,
            "hour" => Field::Time(TimeBucket::Hour),
            "day" | "date" | "timestamp" => Field::Time(TimeBucket::Day),
            "week" => Field::Time(TimeBucket::Week),
            "month" => Field::Time(TimeBucket::Month),
            _ if n.starts_with("properties.") => Field::Property(path("properties.")?),
            _ if n.starts_with("context.") => Field::Context(path("context.")?),
            _ if n.starts_with("traits.") => Field::Trait(path("traits.")?),
            _ if n.contains('.') => {
                return Err(format!(
                    "unknown field `{n}`: use properties.x, context.x or traits.x for JSON fields"
                ));
            }
            _ => Field::Property(n.to_string()),
        };
        if let Field::Property(_) | Field::Context(_) | Field::Trait(_) = parsed {
            // JSON keys follow the query layer's rules (letters, digits, `_ $ - : @ / #`, space).
            crate::query::fields::Field::parse(&parsed.canonical()).map_err(|e| e.to_string())?;
        }
        Ok(parsed)
    }

    /// The canonical spelling (`user_id` → `person`, `plan` → `properties.plan`).
    pub fn canonical(&self) -> String {
        match self {
            Field::Person => "person".into(),
            Field::AnonymousId => "anonymous_id".into(),
            Field::SessionId => "session_id".into(),
            Field::Event => "event".into(),
            Field::Type => "type".into(),
            Field::Browser => "browser".into(),
            Field::Os => "os".into(),
            Field::Device => "device".into(),
            Field::Property(p) => format!("properties.{p}"),
            Field::Context(p) => format!("context.{p}"),
            Field::Trait(p) => format!("traits.{p}"),
            Field::Time(b) => match b {
                TimeBucket::Hour => "hour".into(),
                TimeBucket::Day => "day".into(),
                TimeBucket::Week => "week".into(),
                TimeBucket::Month => "month".into(),
            },
        }
    }
}

pub use crate::query::{Condition, Op};

/// Which events a widget (or funnel step, or alert) counts; see the module doc.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filters {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// Event names, ORed. Empty: every event.
    pub events: Vec<String>,
    /// ANDed conditions (field names canonical).
    pub conditions: Vec<Condition>,
    /// OR groups: the event must match at least one. Empty: no constraint.
    pub any: Vec<Filters>,
    /// Default false: events flagged `is_bot` are excluded.
    pub include_bots: bool,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Parses the map form (or a bare list of conditions); errors name the key.
    pub fn from_value(v: &Value) -> Result<Filters, String> {
        match v {
            Value::Null => Ok(Filters::default()),
            Value::Array(items) => Ok(Filters {
                conditions: parse_condition_list(items)?,
                ..Default::default()
            }),
            Value::Object(map) => parse_map(map),
            other => Err(format!(
                "filters must be a map or a list, found {}",
                kind_of(other)
            )),
        }
    }

    /// The canonical map form (what stored dashboards contain).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.start_date {
            m.insert("start_date".into(), Value::String(s.clone()));
        }
        if let Some(s) = &self.end_date {
            m.insert("end_date".into(), Value::String(s.clone()));
        }
        match self.events.as_slice() {
            [] => {}
            [one] => {
                m.insert("event_type".into(), Value::String(one.clone()));
            }
            many => {
                m.insert("event_type".into(), serde_json::json!(many));
            }
        }
        if !self.conditions.is_empty() {
            m.insert(
                "where".into(),
                serde_json::to_value(&self.conditions).unwrap_or(Value::Null),
            );
        }
        if !self.any.is_empty() {
            m.insert(
                "any".into(),
                Value::Array(self.any.iter().map(Filters::to_value).collect()),
            );
        }
        if self.include_bots {
            m.insert("include_bots".into(), Value::Bool(true));
        }
        Value::Object(m)
    }
}

impl Filters {
    /// The query layer's filter: events (one `eq`, several `in`), AND the conditions, AND one of
    /// the `any` groups. `None` when nothing is filtered. Dates and bots are not part of it.
    pub fn to_query(&self) -> Option<crate::query::Filter> {
        use crate::query::Filter;
        let mut all = Vec::new();
        match self.events.as_slice() {
            [] => {}
            [one] => all.push(Filter::eq("event", one.as_str())),
            many => all.push(Filter::cond("event", Op::In, serde_json::json!(many))),
        }
        all.extend(self.conditions.iter().cloned().map(Filter::Cond));
        if !self.any.is_empty() {
            let groups = self
                .any
                .iter()
                .map(|g| g.to_query().unwrap_or(Filter::And(Vec::new())))
                .collect();
            all.push(Filter::Or(groups));
        }
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Filter::And(all)),
        }
    }
}

impl Serialize for Filters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Filters::from_value(&v).map_err(serde::de::Error::custom)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn string_or_list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{key}` must list strings"))
            })
            .collect(),
        other => Err(format!(
            "`{key}` must be a string or a list of strings, found {}",
            kind_of(other)
        )),
    }
}

fn parse_map(map: &Map<String, Value>) -> Result<Filters, String> {
    let mut f = Filters::default();
    // BTreeMap: deterministic condition order whatever the input order.
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    for (key, v) in sorted {
        match key.as_str() {
            "start_date" | "end_date" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| format!("`{key}` must be a date string"))?
                    .to_string();
                if key == "start_date" {
                    f.start_date = Some(s);
                } else {
                    f.end_date = Some(s);
                }
            }
            "event_type" | "event" | "event_name" | "events" => f.events.extend(string_or_list(key, v)?),
            "include_bots" => f.include_bots = v.as_bool().ok_or("`include_bots` must be true or false")?,
            "any" | "or" => {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("`{key}` must be a list of filter maps"))?;
                for (i, item) in items.iter().enumerate() {
                    f.any
                        .push(Filters::from_value(item).map_err(|e| format!("{key}[{i}]: {e}"))?);
                }
            }
            "where" | "conditions" => {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("`{key}` must be a list of conditions"))?;
                f.conditions
                    .extend(parse_condition_list(items).map_err(|e| format!("{key}: {e}"))?);
            }
            _ => f.conditions.extend(parse_shorthand(key, v)?),
        }
    }
    Ok(f)
}

fn parse_condition_list(items: &[Value]) -> Result<Vec<Condition>, String> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let c: Condition = serde_json::from_value(item.clone()).map_err(|e| format!("[{i}]: {e}"))?;
        out.push(checked(c).map_err(|e| format!("[{i}]: {e}"))?);
    }
    Ok(out)
}

/// `key: scalar` (eq), `key: [..]` (in), `key: {op: value, ...}`.
fn parse_shorthand(key: &str, v: &Value) -> Result<Vec<Condition>, String> {
    let field = key.to_string();
    let conds = match v {
        Value::Array(_) => vec![Condition {
            field,
            op: Op::In,
            value: v.clone(),
        }],
        Value::Object(ops) => {
            let mut out = Vec::new();
            for (op_name, value) in ops {
                let op: Op = serde_json::from_value(Value::String(op_name.clone())).map_err(|_| {
                    format!(
                        "unknown operator `{op_name}` for `{key}`, expected one of eq, neq, gt, gte, lt, lte, \
                         contains, not_contains, in, not_in, is_set"
                    )
                })?;
                out.push(Condition {
                    field: field.clone(),
                    op,
                    value: value.clone(),
                });
            }
            out
        }
        Value::Null => vec![Condition {
            field,
            op: Op::IsSet,
            value: Value::Bool(false),
        }],
        scalar => vec![Condition {
            field,
            op: Op::Eq,
            value: scalar.clone(),
        }],
    };
    conds.into_iter().map(checked).collect()
}

/// Canonicalizes the field name and checks the value's shape against the operator.
fn checked(mut c: Condition) -> Result<Condition, String> {
    let field = Field::parse(&c.field)?;
    if matches!(field, Field::Time(_)) {
        return Err(format!(
            "`{}` is a time bucket; filter dates with start_date/end_date",
            c.field
        ));
    }
    c.field = field.canonical();
    match c.op {
        Op::In | Op::NotIn if !c.value.is_array() => Err(format!("`{}`: `in` needs a list", c.field)),
        Op::IsSet if c.value.is_null() => {
            c.value = Value::Bool(true);
            Ok(c)
        }
        Op::IsSet if !c.value.is_boolean() => Err(format!("`{}`: `is_set` needs true or false", c.field)),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte if !(c.value.is_number() || c.value.is_string()) => {
            Err(format!("`{}`: comparison needs a number or a string", c.field))
        }
        Op::Eq | Op::Neq | Op::Contains | Op::NotContains if c.value.is_array() || c.value.is_object() => {
            Err(format!("`{}`: needs a single value", c.field))
        }
        _ => Ok(c),
    }
}
