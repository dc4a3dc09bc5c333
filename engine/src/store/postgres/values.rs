//! Running a statement and normalizing its result: every value is fetched in its binary wire
//! form and decoded here (see "Query results" in store/mod.rs for the mapping).

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};

use super::pg_err;
use crate::store::{QueryResult, StoreError, common};

pub(super) async fn select_in<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    cache: bool,
) -> Result<QueryResult, StoreError> {
    let stmt = if cache {
        client.prepare_cached(sql).await
    } else {
        client.prepare(sql).await
    }
    .map_err(pg_err)?;
    let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_string()).collect();
    let rows = client.query(&stmt, params).await.map_err(pg_err)?;
    let rows = rows.iter().map(row_values).collect::<Result<Vec<_>, _>>()?;
    Ok(QueryResult { columns, rows })
}

/// Any value as its raw binary wire form (decoded by [`decode`]).
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

fn row_values(row: &Row) -> Result<Vec<Value>, StoreError> {
    (0..row.len())
        .map(|i| {
            let col = &row.columns()[i];
            let Raw(raw) = row.try_get(i).map_err(pg_err)?;
            match raw {
                None => Ok(Value::Null),
                Some(raw) => decode(col.type_(), raw).ok_or_else(|| {
                    StoreError::Query(format!(
                        "postgres: cannot decode column {:?} of type {}",
                        col.name(),
                        col.type_()
                    ))
                }),
            }
        })
        .collect()
}

/// Microseconds (timestamps) and days (dates) between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i64 = 10_957;

fn be<const N: usize>(raw: &[u8], at: usize) -> Option<[u8; N]> {
    raw.get(at..at + N)?.try_into().ok()
}

/// Decodes one binary-format value (see "Query results" in store/mod.rs for the mapping).
fn decode(ty: &Type, raw: &[u8]) -> Option<Value> {
    if let Kind::Array(elem) = ty.kind() {
        return decode_array(elem, raw);
    }
    Some(match *ty {
        Type::BOOL => Value::from(*raw.first()? as i64 & 1),
        Type::INT2 => Value::from(i16::from_be_bytes(be(raw, 0)?)),
        Type::INT4 => Value::from(i32::from_be_bytes(be(raw, 0)?)),
        Type::INT8 => Value::from(i64::from_be_bytes(be(raw, 0)?)),
        Type::OID => Value::from(u32::from_be_bytes(be(raw, 0)?)),
        Type::FLOAT4 => common::float_value(f32::from_be_bytes(be(raw, 0)?) as f64),
        Type::FLOAT8 => common::float_value(f64::from_be_bytes(be(raw, 0)?)),
        Type::NUMERIC => decode_numeric(raw)?,
        Type::JSONB => Value::String(String::from_utf8_lossy(raw.get(1..)?).into_owned()),
        Type::DATE => Value::String(common::date_text(
            i32::from_be_bytes(be(raw, 0)?) as i64 + PG_EPOCH_DAYS,
        )),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => Value::String(common::timestamp_text(
            i64::from_be_bytes(be(raw, 0)?).saturating_add(PG_EPOCH_MICROS),
        )),
        Type::UUID => {
            let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            Value::String(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h.get(20..32)?
            ))
        }
        Type::INTERVAL => {
            let (micros, days, months) = (
                i64::from_be_bytes(be(raw, 0)?),
                i32::from_be_bytes(be(raw, 8)?),
                i32::from_be_bytes(be(raw, 12)?),
            );
            Value::String(format!("{months} months {days} days {micros} us"))
        }
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::UNKNOWN
        | Type::JSON
        | Type::CHAR
        | Type::XML => Value::String(String::from_utf8_lossy(raw).into_owned()),
        _ => return None,
    })
}

/// NUMERIC: ndigits, weight (base-10000 exponent of the first digit), sign, display scale, then
/// base-10000 digits.
fn decode_numeric(raw: &[u8]) -> Option<Value> {
    let ndigits = i16::from_be_bytes(be(raw, 0)?) as i64;
    let weight = i16::from_be_bytes(be(raw, 2)?) as i64;
    let sign = u16::from_be_bytes(be(raw, 4)?);
    let dscale = u16::from_be_bytes(be(raw, 6)?) as usize;
    if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 {
        return Some(Value::Null); // NaN, +inf, -inf
    }
    let digit = |i: i64| -> Option<i64> {
        if i < 0 || i >= ndigits {
            return Some(0);
        }
        Some(i16::from_be_bytes(be(raw, 8 + 2 * i as usize)?) as i64)
    };
    let mut int_part = String::new();
    for i in 0..=weight.max(-1) {
        let d = digit(i)?;
        if int_part.is_empty() {
            int_part = d.to_string()
        } else {
            int_part.push_str(&format!("{d:04}"))
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", digit(i)?));
        i += 1;
    }
    frac.truncate(dscale);
    let minus = if sign == 0x4000 { "-" } else { "" };
    let text = if dscale == 0 {
        format!("{minus}{int_part}")
    } else {
        format!("{minus}{int_part}.{frac}")
    };
    Some(common::decimal_text_value(&text, dscale as u32))
}

fn decode_array(elem: &Type, raw: &[u8]) -> Option<Value> {
    let ndim = i32::from_be_bytes(be(raw, 0)?) as usize;
    if ndim == 0 {
        return Some(Value::Array(vec![]));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| be(raw, 12 + 8 * d).map(|b| i32::from_be_bytes(b) as usize))
        .collect::<Option<_>>()?;
    let mut at = 12 + 8 * ndim;
    let mut flat = Vec::new();
    for _ in 0..dims.iter().product::<usize>() {
        let len = i32::from_be_bytes(be(raw, at)?);
        at += 4;
        if len < 0 {
            flat.push(Value::Null);
        } else {
            flat.push(decode(elem, raw.get(at..at + len as usize)?)?);
            at += len as usize;
        }
    }
    // Nest multi-dimensional arrays, innermost dimension first.
    for &n in dims[1..].iter().rev() {
        flat = flat.chunks(n.max(1)).map(|c| Value::Array(c.to_vec())).collect();
    }
    Some(Value::Array(flat))
}
