//! Fields of an event and filters over them, compiled to SQL for a dialect.
//!
//! Field names come from specs and are hostile until validated: columns are looked up in a fixed
//! list, JSON keys must match [`validate_key`] and are then passed as escaped string literals.
//! Every compiled condition is two-valued (never NULL), so `not` and `neq` behave as users expect:
//! `neq` and `not_in` match events where the field is absent.

use serde_json::Value;

use super::QueryError;
use super::spec::{Condition, Filter, Op};
use super::sql::Sql;

/// A field of an event row (see [`Condition::field`] for the names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A text column of the events relation (or `person`).
    Text(&'static str),
    /// A numeric column (`ts`).
    Number(&'static str),
    /// A key path inside a JSON column (`properties`, `context`, `traits`).
    Json(&'static str, Vec<String>),
    /// Precomputed columns (text, number) of an outer query, e.g. a person's latest trait.
    Computed(String, String),
}

const TEXT_COLUMNS: &[(&str, &str)] = &[
    ("event", "event"),
    ("type", "type"),
    ("person", "person"),
    ("person_id", "person"),
    ("user_id", "user_id"),
    ("anonymous_id", "anonymous_id"),
    ("session_id", "session_id"),
    ("group_id", "group_id"),
    ("browser", "browser"),
    ("os", "os"),
    ("device", "device_type"),
    ("device_type", "device_type"),
    ("ip", "ip"),
    ("message_id", "message_id"),
];

/// Checks a JSON key: 1–128 characters of letters, digits, `_`, `$`, `-`, `:`, `@`, `/`, `#` or
/// space. Anything else (quotes, backslashes, dots inside a key, control characters) is refused.
pub fn validate_key(key: &str) -> Result<(), QueryError> {
    let ok = !key.is_empty()
        && key.chars().count() <= 128
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '-' | ':' | '@' | '/' | '#' | ' '));
    if ok {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!(
            "invalid JSON key {key:?}: use letters, digits, _ $ - : @ / # or spaces (1-128 characters)"
        )))
    }
}

impl Field {
    pub fn parse(name: &str) -> Result<Field, QueryError> {
        if let Some((_, col)) = TEXT_COLUMNS.iter().find(|(n, _)| *n == name) {
            return Ok(Field::Text(col));
        }
        if name == "ts" || name == "timestamp" {
            return Ok(Field::Number("ts"));
        }
        for obj in ["properties", "context", "traits"] {
            if let Some(rest) = name.strip_prefix(obj).and_then(|r| r.strip_prefix('.')) {
                let path: Vec<String> = rest.split('.').map(str::to_string).collect();
                if path.len() > 8 {
                    return Err(QueryError::Invalid(format!(
                        "field {name:?}: nested deeper than 8 keys"
                    )));
                }
                for k in &path {
                    validate_key(k).map_err(|e| QueryError::Invalid(format!("field {name:?}: {e}")))?;
                }
                return Ok(Field::Json(obj, path));
            }
        }
        Err(QueryError::Invalid(format!(
            "unknown field {name:?}: use event, type, person, user_id, anonymous_id, session_id, group_id, \
             browser, os, device, ip, ts, or properties.x / context.x / traits.x"
        )))
    }

    /// The field's text (NULL when absent), for grouping and text comparisons.
    pub fn text_sql(&self, sql: &Sql) -> Result<String, QueryError> {
        match self {
            Field::Text(c) => Ok(c.to_string()),
            Field::Number(c) => Ok(sql.text(c)),
            Field::Json(obj, path) => sql.json_text(obj, path),
            Field::Computed(text, _) => Ok(text.clone()),
        }
    }

    /// The field as a number (NULL when absent or not a number).
    pub fn num_sql(&self, sql: &Sql) -> Result<String, QueryError> {
        match self {
            Field::Text(c) => Err(QueryError::Invalid(format!("field `{c}` is text, not a number"))),
            Field::Number(c) => Ok(sql.int(c)),
            Field::Json(obj, path) => sql.json_num(obj, path),
            Field::Computed(_, num) => Ok(num.clone()),
        }
    }

    fn is_set_sql(&self, sql: &Sql) -> Result<String, QueryError> {
        match self {
            Field::Text(c) => Ok(format!("({c} IS NOT NULL)")),
            Field::Number(_) => Ok("(1 = 1)".into()),
            Field::Json(obj, path) => sql.json_is_set(obj, path),
            Field::Computed(text, _) => Ok(format!("({text} IS NOT NULL)")),
        }
    }
}

/// `items` as SQL joined by `op` (` AND ` / ` OR `), parenthesized.
fn joined(sql: &Sql, items: &[Filter], op: &str) -> Result<String, QueryError> {
    let parts = items
        .iter()
        .map(|i| filter_sql(sql, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("({})", parts.join(op)))
}

/// Compiles a filter to a two-valued SQL condition over the events-with-person relation.
pub fn filter_sql(sql: &Sql, f: &Filter) -> Result<String, QueryError> {
    Ok(match f {
        Filter::And(items) if items.is_empty() => "(1 = 1)".into(),
        Filter::Or(items) if items.is_empty() => "(1 = 0)".into(),
        Filter::And(items) => joined(sql, items, " AND ")?,
        Filter::Or(items) => joined(sql, items, " OR ")?,
        Filter::Not(inner) => format!("(NOT {})", filter_sql(sql, inner)?),
        Filter::Cond(c) => condition_sql(sql, c)?,
    })
}

/// A scalar of a condition as (text literal, numeric literal if the value is a number).
fn scalar(sql: &Sql, v: &Value, field: &str) -> Result<(String, Option<String>), QueryError> {
    match v {
        Value::String(s) => Ok((sql.lit(s)?, None)),
        Value::Bool(b) => Ok((sql.lit(if *b { "true" } else { "false" })?, None)),
        Value::Number(n) => {
            let x = n
                .as_f64()
                .ok_or_else(|| QueryError::Invalid(format!("{field}: bad number {n}")))?;
            Ok((sql.lit(&n.to_string())?, Some(sql.num(x)?)))
        }
        other => Err(QueryError::Invalid(format!(
            "{field}: expected a string, number or boolean, got {other}"
        ))),
    }
}

fn condition_sql(sql: &Sql, c: &Condition) -> Result<String, QueryError> {
    condition_on(sql, c, &Field::parse(&c.field)?)
}

/// Compiles condition `c` (its `op` and `value`) against `field`.
pub fn condition_on(sql: &Sql, c: &Condition, field: &Field) -> Result<String, QueryError> {
    let name = &c.field;
    let positive = |cond: String| -> Result<String, QueryError> { Ok(sql.not_null_bool(&cond)) };
    match c.op {
        Op::IsSet => {
            let want = match &c.value {
                Value::Null => true,
                Value::Bool(b) => *b,
                other => {
                    return Err(QueryError::Invalid(format!(
                        "{name}: is_set takes true or false, got {other}"
                    )));
                }
            };
            let s = field.is_set_sql(sql)?;
            Ok(if want { s } else { format!("(NOT {s})") })
        }
        Op::Eq | Op::Neq => {
            let (text, num) = scalar(sql, &c.value, name)?;
            let eq = match num {
                Some(n) if !matches!(field, Field::Text(_)) => {
                    positive(format!("{} = {n}", field.num_sql(sql)?))?
                }
                _ => gated(
                    sql,
                    field,
                    std::slice::from_ref(&c.value),
                    positive(format!("{} = {text}", field.text_sql(sql)?))?,
                )?,
            };
            Ok(if c.op == Op::Eq { eq } else { format!("(NOT {eq})") })
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let sym = match c.op {
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                _ => "<=",
            };
            let (text, num) = scalar(sql, &c.value, name)?;
            match num {
                Some(n) => positive(format!("{} {sym} {n}", field.num_sql(sql)?)),
                // Strings compare bytewise (all three backends use binary collation here).
                None => positive(format!("{} {sym} {text}", field.text_sql(sql)?)),
            }
        }
        Op::Contains | Op::NotContains => {
            let Value::String(s) = &c.value else {
                return Err(QueryError::Invalid(format!("{name}: contains takes a string")));
            };
            let cond = positive(sql.contains(&field.text_sql(sql)?, &sql.lit(s)?))?;
            Ok(if c.op == Op::Contains {
                cond
            } else {
                format!("(NOT {cond})")
            })
        }
        Op::In | Op::NotIn => {
            let Value::Array(items) = &c.value else {
                return Err(QueryError::Invalid(format!("{name}: in takes a list")));
            };
            if items.is_empty() {
                return Ok(if c.op == Op::In {
                    "(1 = 0)".into()
                } else {
                    "(1 = 1)".into()
                });
            }
            let mut parts = Vec::new();
            for v in items {
                let (text, num) = scalar(sql, v, name)?;
                parts.push(match num {
                    Some(n) if !matches!(field, Field::Text(_)) => format!("{} = {n}", field.num_sql(sql)?),
                    _ => format!("{} = {text}", field.text_sql(sql)?),
                });
            }
            let any = gated(sql, field, items, positive(format!("({})", parts.join(" OR ")))?)?;
            Ok(if c.op == Op::In {
                any
            } else {
                format!("(NOT {any})")
            })
        }
    }
}

/// `cond` (a text comparison of `field` with one of `values`) behind the cheap JSON pre-check
/// of [`Sql::json_string_precheck`] when `field` is a JSON path and every value is a string that
/// allows one (`pre AND cond`: the backends skip parsing the JSON of rows failing `pre`).
fn gated(sql: &Sql, field: &Field, values: &[Value], cond: String) -> Result<String, QueryError> {
    let Field::Json(col, _) = field else {
        return Ok(cond);
    };
    let mut pre = Vec::new();
    for v in values {
        let Value::String(s) = v else {
            return Ok(cond);
        };
        match sql.json_string_precheck(col, s)? {
            Some(p) => pre.push(p),
            None => return Ok(cond),
        }
    }
    Ok(format!("({} AND {cond})", pre.join(" OR ")))
}

/// `field`'s text equals `value` (two-valued; JSON paths behind the pre-check of [`gated`]).
pub fn text_eq_sql(sql: &Sql, field: &Field, value: &str) -> Result<String, QueryError> {
    let cond = sql.not_null_bool(&format!("{} = {}", field.text_sql(sql)?, sql.lit(value)?));
    gated(sql, field, &[Value::from(value)], cond)
}

/// Whether a filter compares the resolved `person` (it then cannot run before the identity join).
pub fn filter_uses_person(f: &Filter) -> bool {
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().any(filter_uses_person),
        Filter::Not(inner) => filter_uses_person(inner),
        Filter::Cond(c) => matches!(c.field.as_str(), "person" | "person_id"),
    }
}

/// Whether every comparison of a filter is on the resolved `person` (it then depends on the
/// person alone and can be applied after a per-person aggregation).
pub fn filter_only_person(f: &Filter) -> bool {
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().all(filter_only_person),
        Filter::Not(inner) => filter_only_person(inner),
        Filter::Cond(c) => matches!(c.field.as_str(), "person" | "person_id"),
    }
}

/// The matchers' OR as a condition to apply before the identity join, when none of them uses
/// `person` (else no condition: the matchers are then applied after the join only).
pub fn pre_filter(sql: &Sql, matchers: &[&super::spec::EventMatch]) -> Result<Vec<String>, QueryError> {
    if matchers
        .iter()
        .any(|m| m.is_any() || m.filters.as_ref().is_some_and(filter_uses_person))
    {
        return Ok(Vec::new());
    }
    let parts = matchers
        .iter()
        .map(|m| event_match_sql(sql, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![format!("({})", parts.join(" OR "))])
}

/// `event = 'name'` (or true for `*`), AND the matcher's filters.
pub fn event_match_sql(sql: &Sql, m: &super::spec::EventMatch) -> Result<String, QueryError> {
    let mut parts = Vec::new();
    if !m.is_any() {
        parts.push(format!("event = {}", sql.lit(&m.event)?));
    }
    if let Some(f) = &m.filters {
        parts.push(filter_sql(sql, f)?);
    }
    Ok(if parts.is_empty() {
        "(1 = 1)".into()
    } else {
        format!("({})", parts.join(" AND "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Dialect;

    #[test]
    fn hostile_keys_are_refused() {
        for bad in ["a'b", "a\"b", "a\\b", "", "a\nb", "properties"] {
            let name = if bad == "properties" {
                bad.to_string()
            } else {
                format!("properties.{bad}")
            };
            assert!(Field::parse(&name).is_err(), "{name:?} accepted");
        }
        assert_eq!(
            Field::parse("properties.plan type").unwrap(),
            Field::Json("properties", vec!["plan type".into()])
        );
        assert_eq!(
            Field::parse("context.page.path").unwrap(),
            Field::Json("context", vec!["page".into(), "path".into()])
        );
    }

    #[test]
    fn conditions_escape_values() {
        let sql = Sql::new(Dialect::ClickHouse);
        let f = Filter::eq("properties.plan", "x' OR 1=1 --\\");
        let s = filter_sql(&sql, &f).unwrap();
        assert!(s.contains(r"'x\' OR 1=1 --\\'"), "{s}");
    }
}
