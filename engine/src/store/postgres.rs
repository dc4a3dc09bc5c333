//! PostgreSQL store (`postgres://user:pass@host:5432/db[?schema=NAME]`), via tokio-postgres and a
//! deadpool connection pool.
//!
//! # Location
//! Any libpq-style URL that tokio-postgres accepts, plus parameters of ours: `schema=NAME`
//! (lowercase letters, digits, `_`) puts every table in that schema (created by `migrate`) instead
//! of `public`. TLS is not supported yet (`sslmode=require` is refused with a clear error).
//! `timeout=SECS` and `query_timeout=SECS` bound each call, see [`Timeouts`]:
//! connecting, waiting for a pooled connection and the whole of a write, ping, document, audit or
//! lookup call by `timeout`; a query, export or erasure by `query_timeout`; `migrate` and the
//! retention deletes are not bounded. A call cut off by its timeout drops its transaction (rolled
//! back unless its COMMIT was already sent) and its connection goes back to the pool; connections
//! the server closed (restart, crash) are dropped by the pool's recycling check, so the store
//! recovers by itself when the server is back.
//!
//! # Write path
//! One [`Store::write`] is one transaction of at most three statements: the events as column
//! arrays through `INSERT … SELECT * FROM UNNEST($1::text[], …) ON CONFLICT DO NOTHING RETURNING
//! project_id, message_id`, the reduced identity links through the first-link-wins upsert, and
//! the dead letters. The primary key makes dedupe exact even between concurrent writers (a second
//! writer waits on the first's row and then skips it); rows are sorted by key so that concurrent
//! writers lock in the same order, and a deadlock or serialization failure is retried.
//!
//! # Schema (see [`super::sql::schema_v1`])
//! Text columns are `TEXT COLLATE "C"` (bytewise comparisons and ORDER BY, as on DuckDB and
//! ClickHouse), times `BIGINT` ms, `is_bot BOOLEAN`, JSON columns text (cast with `::jsonb` to
//! query them). Keys: events `PRIMARY KEY (project_id, message_id)`, identities
//! `(project_id, anonymous_id)`, documents `(kind, project_id, id)`, audit_log `(id)`. Indexes:
//! events `(project_id, ts)`, `(project_id, event, ts)`, `(project_id, user_id)`,
//! `(project_id, anonymous_id)`; identities `(project_id, user_id)`, `(project_id, anon_key)`;
//! dead_letters `(project_id, received_at)`; audit_log `(project_id, at)`. Version 2 adds the
//! integer identity keys (`events.rid_key`, `identities.anon_key` / `user_key`) as stored
//! generated columns ([`super::sql::schema_v2_postgres`]): PostgreSQL computes them on insert.
//! Outside the versions, `events (project_id, received_at)` for Live events is built
//! concurrently in the background by a serving process (see [`arrival_index`]).

mod arrival_index;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};
use tokio_postgres::{NoTls, Row};

use super::common::{self, EVENT_COLUMNS};
use super::{
    AuditEntry, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, Timeouts, WriteBatch,
    WriteReport, sql, within,
};

/// Pool size (connections per store handle; default 16).
const POOL_SIZE: usize = 16;
/// Attempts of a write that hits a deadlock or serialization failure.
const WRITE_ATTEMPTS: usize = 5;

/// The PostgreSQL store. Cheap to clone (shares the pool).
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    schema: Option<String>,
    location: String,
    timeouts: Timeouts,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        // Connection exceptions, insufficient resources, operator intervention, system errors,
        // and serialization failures / deadlocks that survived the retries: try again later.
        Some(code)
            if ["08", "53", "57", "58", "40"]
                .iter()
                .any(|c| code.code().starts_with(c)) =>
        {
            StoreError::Unavailable(format!("postgres: {e}"))
        }
        Some(_) => StoreError::Query(format!(
            "postgres: {}",
            e.as_db_error().map(|d| d.to_string()).unwrap_or(e.to_string())
        )),
        // No SQLSTATE: the connection failed or closed.
        None => StoreError::Unavailable(format!("postgres: {e}")),
    }
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(format!("postgres pool: {other}")),
    }
}

fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Splits our parameters (`schema=`, `timeout=`, `query_timeout=`) off a PostgreSQL URL.
fn split_params(url: &str) -> Result<(String, Option<String>, Timeouts), StoreError> {
    let mut timeouts = Timeouts::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, timeouts));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if key == "schema" {
            schema = Some(value.to_string());
        } else if !timeouts.take_param(key, value)? {
            rest.push(param);
        }
    }
    if let Some(name) = &schema {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Config(format!(
                "invalid schema {name:?} in {}: use lowercase letters, digits and _",
                common::redact_location(url)
            )));
        }
    }
    let base = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((base, schema, timeouts))
}

impl PostgresStore {
    /// Builds the pool for `url` (no connection is made until first use).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let location = common::redact_location(url);
        let (base, schema, timeouts) = split_params(url)?;
        let mut cfg = tokio_postgres::Config::from_str(&base)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL location {location}: {e}")))?;
        if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Config(format!(
                "{location}: TLS (sslmode=require) is not supported yet"
            )));
        }
        if let Some(schema) = &schema {
            let options = match cfg.get_options() {
                Some(o) => format!("{o} -c search_path={schema}"),
                None => format!("-c search_path={schema}"),
            };
            cfg.options(&options);
        }
        cfg.application_name("footfall");
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(timeouts.operation);
        }
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeouts.operation))
            .create_timeout(Some(timeouts.operation))
            .recycle_timeout(Some(timeouts.operation))
            .build()
            .map_err(|e| StoreError::Config(format!("{location}: {e}")))?;
        Ok(Self {
            pool,
            schema,
            location,
            timeouts,
        })
    }

    /// The location with any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// `op` bounded by the operation timeout (see [`Timeouts`]).
    async fn quick<T>(&self, op: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        within("postgres", self.timeouts.operation, op).await
    }

    /// `op` bounded by the query timeout (see [`Timeouts`]).
    async fn long<T>(&self, op: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        within("postgres", self.timeouts.query, op).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
        client.execute(&stmt, params).await.map_err(pg_err)
    }

    /// Runs one of our own statements in a read-only transaction and normalizes the values.
    async fn select(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<QueryResult, StoreError> {
        self.select_with(sql, params, true).await
    }

    /// `cache`: keep the prepared statement on the connection (our fixed statements; not the query
    /// layer's ever-different SQL, which would grow the per-connection cache without bound).
    async fn select_with(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        cache: bool,
    ) -> Result<QueryResult, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let result = select_in(&tx, sql, params, cache).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(result)
    }

    async fn write_once(
        &self,
        batch: &WriteBatch,
        order: &[usize],
        links: &[super::IdentityLink],
    ) -> Result<Vec<(String, String)>, WriteFailure> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| WriteFailure::Other(pool_err(e)))?;
        let tx = client.transaction().await?;
        let mut inserted = Vec::new();
        if !order.is_empty() {
            let ev = |i: &usize| &batch.events[*i];
            let text = |f: fn(&EventRow) -> &str| order.iter().map(|i| f(ev(i))).collect::<Vec<&str>>();
            let opt = |f: fn(&EventRow) -> Option<&str>| {
                order.iter().map(|i| f(ev(i))).collect::<Vec<Option<&str>>>()
            };
            let (project, message, kind, event) = (
                text(|e| &e.project_id),
                text(|e| &e.message_id),
                text(|e| &e.kind),
                text(|e| &e.event),
            );
            let ts: Vec<i64> = order.iter().map(|i| ev(i).ts).collect();
            let received: Vec<i64> = order.iter().map(|i| ev(i).received_at).collect();
            let sent: Vec<Option<i64>> = order.iter().map(|i| ev(i).sent_at).collect();
            let original = opt(|e| e.original_timestamp.as_deref());
            let (anon, user, session, group) = (
                opt(|e| e.anonymous_id.as_deref()),
                opt(|e| e.user_id.as_deref()),
                opt(|e| e.session_id.as_deref()),
                opt(|e| e.group_id.as_deref()),
            );
            let (browser, os, device) = (
                opt(|e| e.browser.as_deref()),
                opt(|e| e.os.as_deref()),
                opt(|e| e.device_type.as_deref()),
            );
            let bot: Vec<bool> = order.iter().map(|i| ev(i).is_bot).collect();
            let ip = opt(|e| e.ip.as_deref());
            let (props, traits, context) =
                (text(|e| &e.properties), text(|e| &e.traits), text(|e| &e.context));
            let stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO events ({EVENT_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
                     $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[], \
                     $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
                     $16::bool[], $17::text[], $18::text[], $19::text[], $20::text[]) \
                     ON CONFLICT (project_id, message_id) DO NOTHING RETURNING project_id, message_id"
                ))
                .await?;
            let params: [&(dyn ToSql + Sync); 20] = [
                &project, &message, &kind, &event, &ts, &received, &sent, &original, &anon, &user, &session,
                &group, &browser, &os, &device, &bot, &ip, &props, &traits, &context,
            ];
            for row in tx.query(&stmt, &params).await? {
                inserted.push((row.get(0), row.get(1)));
            }
        }
        if !links.is_empty() {
            let col = |f: fn(&super::IdentityLink) -> &str| links.iter().map(f).collect::<Vec<&str>>();
            let (project, anon, user) = (
                col(|l| &l.project_id),
                col(|l| &l.anonymous_id),
                col(|l| &l.user_id),
            );
            let at: Vec<i64> = links.iter().map(|l| l.linked_at).collect();
            let stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO identities (project_id, anonymous_id, user_id, linked_at) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]){}",
                    sql::link_upsert_conflict("")
                ))
                .await?;
            tx.execute(&stmt, &[&project, &anon, &user, &at]).await?;
        }
        if !batch.dead_letters.is_empty() {
            let d = &batch.dead_letters;
            let project: Vec<Option<&str>> = d.iter().map(|x| x.project_id.as_deref()).collect();
            let received: Vec<i64> = d.iter().map(|x| x.received_at).collect();
            let reason: Vec<&str> = d.iter().map(|x| x.reason.as_str()).collect();
            let message: Vec<Option<&str>> = d.iter().map(|x| x.message_id.as_deref()).collect();
            let payload: Vec<&str> = d.iter().map(|x| x.payload.as_str()).collect();
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO dead_letters (project_id, received_at, reason, message_id, payload) \
                     SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[])",
                )
                .await?;
            tx.execute(&stmt, &[&project, &received, &reason, &message, &payload])
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

/// Why one write attempt failed: a PostgreSQL error (maybe retryable) or anything else.
enum WriteFailure {
    Pg(tokio_postgres::Error),
    Other(StoreError),
}

impl From<tokio_postgres::Error> for WriteFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        WriteFailure::Pg(e)
    }
}

/// The first column of the first row, as text.
fn first_text(r: QueryResult) -> Option<String> {
    r.rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next()?.as_str().map(str::to_string))
}

/// Deletes the project's dead letters whose payload mentions any of `ids` (erasure); returns
/// how many.
async fn delete_dead_letters_mentioning(
    tx: &impl GenericClient,
    project_id: &str,
    ids: &[String],
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for needle in common::json_needles(ids) {
        deleted += tx
            .execute(sql::DELETE_DEAD_LETTERS_MENTIONING, &[&project_id, &needle])
            .await
            .map_err(pg_err)?;
    }
    Ok(deleted)
}

async fn select_in<C: GenericClient>(
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

#[async_trait]
impl Store for PostgresStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // Serialize concurrent migrations of the same schema (several collectors starting at once).
        let schema = self.schema.clone().unwrap_or_else(|| "public".into());
        let lock_key = format!("footfall-migrate:{schema}");
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock_key])
            .await
            .map_err(pg_err)?;
        if let Some(schema) = &self.schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(pg_err)?;
        }
        tx.batch_execute(sql::SCHEMA_VERSION_DDL).await.map_err(pg_err)?;
        let current: i32 = tx
            .query_one(sql::SCHEMA_VERSION_CURRENT, &[])
            .await
            .map_err(pg_err)?
            .get(0);
        let migrations: [(i32, String); 2] = [
            (
                1,
                format!("{};\n{}", sql::schema_v1("TEXT COLLATE \"C\"", true), INDEXES_V1),
            ),
            (2, sql::schema_v2_postgres()),
        ];
        for (version, ddl) in migrations.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(ddl).await.map_err(pg_err)?;
            tx.execute(sql::SCHEMA_VERSION_RECORD, &[version, &common::now_ms()])
                .await
                .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    fn start_maintenance(&self) {
        self.spawn_arrival_index();
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.quick(async {
            self.client()
                .await?
                .simple_query("SELECT 1")
                .await
                .map_err(pg_err)
                .map(|_| ())
        })
        .await
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        self.quick(async {
            let (firsts, mut duplicates) = common::split_in_batch_duplicates(&batch.events);
            let mut order = firsts.clone();
            order.sort_by(|&a, &b| {
                let (a, b) = (&batch.events[a], &batch.events[b]);
                (&a.project_id, &a.message_id).cmp(&(&b.project_id, &b.message_id))
            });
            let links = common::reduce_links(&batch.links);
            if order.is_empty() && links.is_empty() && batch.dead_letters.is_empty() {
                return Ok(WriteReport {
                    inserted: 0,
                    duplicates,
                });
            }
            let mut attempt = 0;
            let inserted = loop {
                attempt += 1;
                match self.write_once(&batch, &order, &links).await {
                    Ok(keys) => break keys,
                    Err(WriteFailure::Pg(e)) if is_retryable(&e) && attempt < WRITE_ATTEMPTS => {
                        tracing::debug!("postgres: write attempt {attempt} failed ({e}); retrying");
                        tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    }
                    Err(WriteFailure::Pg(e)) => return Err(pg_err(e)),
                    Err(WriteFailure::Other(e)) => return Err(e),
                }
            };
            if inserted.len() < firsts.len() {
                let keys: std::collections::HashSet<(String, String)> = inserted.iter().cloned().collect();
                duplicates.extend(firsts.iter().copied().filter(|&i| {
                    let e = &batch.events[i];
                    !keys.contains(&(e.project_id.clone(), e.message_id.clone()))
                }));
                duplicates.sort_unstable();
            }
            Ok(WriteReport {
                inserted: inserted.len(),
                duplicates,
            })
        })
        .await
    }

    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.long(async { self.select_with(sql, &[], false).await }).await
    }

    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        self.long(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let anon = select_in(&tx, sql::LINKED_ANONYMOUS_IDS, &[&project_id, &user_id], true).await?;
            let mut ids = vec![user_id.to_string()];
            ids.extend(
                anon.rows
                    .into_iter()
                    .filter_map(|r| r.into_iter().next()?.as_str().map(str::to_string)),
            );
            let events_deleted = tx
                .execute(&sql::delete_person_events(), &[&project_id, &user_id])
                .await
                .map_err(pg_err)?;
            let dead_letters = delete_dead_letters_mentioning(&tx, project_id, &ids).await?;
            let links = tx
                .execute(sql::DELETE_PERSON_LINKS, &[&project_id, &user_id])
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            tracing::info!(
                project_id,
                events_deleted,
                links,
                dead_letters,
                "postgres: person erased"
            );
            Ok(EraseReport {
                events_deleted,
                identity_links_deleted: links,
                ids,
            })
        })
        .await
    }

    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        self.long(async {
            let r = self
                .select(&sql::export_person(), &[&project_id, &user_id])
                .await?;
            r.rows.iter().map(|row| common::event_from_values(row)).collect()
        })
        .await
    }

    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(sql::DELETE_EVENTS_BEFORE, &[&project_id, &cutoff_ms])
            .await
    }

    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        self.quick(async {
            let r = self
                .select(sql::LINKED_USER, &[&project_id, &anonymous_id])
                .await?;
            Ok(first_text(r))
        })
        .await
    }

    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        self.long(async {
            if let Some(user_id) = self.linked_user(project_id, anonymous_id).await? {
                return self.erase_person(project_id, &user_id).await;
            }
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let events_deleted = tx
                .execute(&sql::delete_anonymous_events(), &[&project_id, &anonymous_id])
                .await
                .map_err(pg_err)?;
            let dead_letters =
                delete_dead_letters_mentioning(&tx, project_id, &[anonymous_id.to_string()]).await?;
            tx.commit().await.map_err(pg_err)?;
            tracing::info!(
                project_id,
                events_deleted,
                dead_letters,
                "postgres: anonymous person erased"
            );
            Ok(common::anonymous_erase_report(anonymous_id, events_deleted))
        })
        .await
    }

    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.long(async {
            let r = match self.linked_user(project_id, anonymous_id).await? {
                Some(u) => self.select(&sql::export_person(), &[&project_id, &u]).await?,
                None => {
                    self.select(&sql::export_anonymous(), &[&project_id, &anonymous_id])
                        .await?
                }
            };
            r.rows.iter().map(|row| common::event_from_values(row)).collect()
        })
        .await
    }

    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(&sql::clear_sessions_before(), &[&project_id, &cutoff_ms])
            .await
    }

    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(sql::DELETE_LINKS_BEFORE, &[&project_id, &cutoff_ms])
            .await
    }

    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.quick(async {
            let body = body.to_string();
            self.execute(
                sql::DOC_UPSERT,
                &[&kind, &project_id, &id, &body, &common::now_ms()],
            )
            .await
            .map(|_| ())
        })
        .await
    }

    async fn get_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.quick(async {
            let r = self.select(sql::DOC_GET, &[&kind, &project_id, &id]).await?;
            common::document_from(r)
        })
        .await
    }

    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.quick(async { common::documents_from(self.select(sql::DOC_LIST, &[&kind, &project_id]).await?) })
            .await
    }

    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError> {
        self.quick(async { Ok(self.execute(sql::DOC_DELETE, &[&kind, &project_id, &id]).await? > 0) })
            .await
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.quick(async {
            let details = e.details.to_string();
            let params: [&(dyn ToSql + Sync); 7] = [
                &e.id,
                &e.project_id,
                &e.at,
                &e.actor,
                &e.action,
                &e.target,
                &details,
            ];
            self.execute(&sql::audit_insert(), &params).await.map(|_| ())
        })
        .await
    }

    async fn list_audit(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.quick(async {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let r = match project_id {
                Some(p) => self.select(&sql::audit_list(true), &[&p, &limit]).await?,
                None => self.select(&sql::audit_list(false), &[&limit]).await?,
            };
            r.rows.iter().map(|row| common::audit_from_values(row)).collect()
        })
        .await
    }
}

/// Secondary indexes of schema version 1 (the query layer filters on these).
const INDEXES_V1: &str = "
CREATE INDEX IF NOT EXISTS events_project_ts ON events (project_id, ts);
CREATE INDEX IF NOT EXISTS events_project_event_ts ON events (project_id, event, ts);
CREATE INDEX IF NOT EXISTS events_project_user ON events (project_id, user_id);
CREATE INDEX IF NOT EXISTS events_project_anonymous ON events (project_id, anonymous_id);
CREATE INDEX IF NOT EXISTS identities_project_user ON identities (project_id, user_id);
CREATE INDEX IF NOT EXISTS dead_letters_project_received ON dead_letters (project_id, received_at);
CREATE INDEX IF NOT EXISTS audit_log_project_at ON audit_log (project_id, at);
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_our_parameters_off_the_url() {
        let (base, schema, timeouts) =
            split_params("postgres://u@h/db?schema=s1&timeout=3&connect_timeout=9&query_timeout=60").unwrap();
        assert_eq!(base, "postgres://u@h/db?connect_timeout=9");
        assert_eq!(schema.as_deref(), Some("s1"));
        assert_eq!(
            timeouts,
            Timeouts {
                operation: Duration::from_secs(3),
                query: Duration::from_secs(60)
            }
        );
        assert_eq!(split_params("postgres://u@h/db").unwrap().2, Timeouts::default());
        for bad in ["timeout=0", "timeout=", "query_timeout=1.5"] {
            assert!(
                split_params(&format!("postgres://u@h/db?{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    /// A server that accepts connections and never answers (a paused PostgreSQL): calls fail as
    /// unavailable after the timeout instead of waiting forever.
    #[tokio::test]
    async fn a_server_that_never_answers_is_unavailable() {
        let (addr, hold) = crate::store::silent_server().await;
        let url = format!("postgres://u@{addr}/db?timeout=1&query_timeout=1");
        let s = PostgresStore::connect(&url).unwrap();
        assert!(matches!(s.ping().await, Err(StoreError::Unavailable(_))));
        assert!(matches!(
            s.query("SELECT 1").await,
            Err(StoreError::Unavailable(_))
        ));
        hold.abort();
    }
}
