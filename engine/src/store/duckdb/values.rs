//! DuckDB values as JSON (see "Query results" in store/mod.rs).

use ::duckdb::types::{TimeUnit, Value as DValue};
use serde_json::Value;

use super::super::common;

fn micros(unit: TimeUnit, v: i64) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v / 1_000,
    }
}

pub fn json_value(v: DValue) -> Value {
    match v {
        DValue::Null => Value::Null,
        DValue::Boolean(b) => Value::from(b as i64),
        DValue::TinyInt(i) => Value::from(i),
        DValue::SmallInt(i) => Value::from(i),
        DValue::Int(i) => Value::from(i),
        DValue::BigInt(i) => Value::from(i),
        DValue::HugeInt(i) => common::wide_int_value(i),
        DValue::UHugeInt(u) => i128::try_from(u)
            .map(common::wide_int_value)
            .unwrap_or(common::float_value(u as f64)),
        DValue::UTinyInt(u) => Value::from(u),
        DValue::USmallInt(u) => Value::from(u),
        DValue::UInt(u) => Value::from(u),
        DValue::UBigInt(u) => common::wide_int_value(u as i128),
        DValue::Float(f) => common::float_value(f as f64),
        DValue::Double(f) => common::float_value(f),
        DValue::Decimal(d) => common::decimal_text_value(&d.to_string(), d.scale() as u32),
        DValue::Timestamp(unit, v) => common::timestamp_text(micros(unit, v)).into(),
        DValue::Date32(days) => common::date_text(days as i64).into(),
        // A time of day: the timestamp text without its date.
        DValue::Time64(unit, v) => common::timestamp_text(micros(unit, v)).split_off(11).into(),
        DValue::Text(s) | DValue::Enum(s) => Value::String(s),
        DValue::Blob(b) | DValue::Geometry(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        DValue::List(items) | DValue::Array(items) => {
            Value::Array(items.into_iter().map(json_value).collect())
        }
        DValue::Struct(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v.clone())))
                .collect(),
        ),
        DValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match json_value(k.clone()) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, json_value(v.clone()))
                })
                .collect(),
        ),
        DValue::Union(inner) => json_value(*inner),
        DValue::Interval { months, days, nanos } => {
            Value::String(format!("{months} months {days} days {nanos} ns"))
        }
        other => Value::String(format!("{other:?}")),
    }
}
