//! User metrics (`get_user_metrics`): one person's activity in a range.
//!
//! ```json
//! {"kind": "user_metrics", "person": "user-42", "from": "30_days_ago", "to": "today"}
//! ```
//!
//! `person` is a resolved person id: a user id covers the anonymous ids linked to it (their
//! earlier anonymous events included); an anonymous id that was never linked is its own person.
//! Counts: `total_events`; `unique_days` (local days with an event); `session_count` (distinct
//! session ids); `page_views` (`page_view`), `clicks` (`click`), `purchases` (`purchase`) and
//! their `revenue` (sum of the numeric `properties.amount`); `feature_usage` maps
//! `properties.feature_name` of `feature_used` events to counts (events without a name are
//! counted under `""`). `first_seen`/`last_seen` are RFC 3339 (null without events).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::normalize::{float_json, rows};
use super::scope::Prepared;
use super::spec::{Interval, scoped_spec};
use super::time::ms_to_rfc3339;
use super::{QueryContext, QueryError};
use crate::store::{Store, id_key};

/// Linked anonymous ids inlined as literals in the events filter (more: a subquery).
const MAX_INLINED_LINKS: usize = 1000;

scoped_spec! {
    /// User metrics of one person (see the module doc).
    pub struct UserMetricsQuery {
        /// The person id (user id or unlinked anonymous id).
        pub person: String,
    }
}

impl UserMetricsQuery {
    pub fn new(person: &str) -> Self {
        Self::from_fields(person.into())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMetrics {
    pub person: String,
    pub total_events: i64,
    pub unique_days: i64,
    pub session_count: i64,
    pub page_views: i64,
    pub clicks: i64,
    pub purchases: i64,
    pub revenue: Value,
    pub feature_usage: BTreeMap<String, i64>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

pub async fn get_user_metrics(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &UserMetricsQuery,
) -> Result<UserMetrics, QueryError> {
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let id = sql.lit(&q.person)?;
    let who = format!("person = {id}");
    // The person's raw ids (a superset, exact after the join): cheap before the identity join.
    // The anonymous ids linked to the person are looked up first and inlined, so that the
    // backend filters the events while scanning them (a subquery here makes DuckDB read every
    // column of every event in the range).
    let links = sql.lit(&ctx.project_id)?;
    let linked = p
        .run(&format!(
            "SELECT anonymous_id FROM {} AS i0 WHERE i0.project_id = {links} AND i0.user_id = {id} LIMIT {}",
            crate::store::identities_relation(store.dialect()),
            MAX_INLINED_LINKS + 1
        ))
        .await?;
    let mut anon_ids = vec![id.clone()];
    // The same as integer keys (see `store::rid_key`), tested first: the scan compares one
    // integer column instead of two strings; the strings stay as the exact test.
    let key = id_key(&q.person);
    let mut raw_keys = vec![(key | 1).to_string(), key.to_string()];
    for r in rows(&linked) {
        let anon = r.str(0);
        anon_ids.push(sql.lit(&anon)?);
        raw_keys.push(id_key(&anon).to_string());
    }
    let raw = if anon_ids.len() <= MAX_INLINED_LINKS {
        let keys = if ctx.text_persons {
            String::new()
        } else {
            format!("rid_key IN ({}) AND ", raw_keys.join(", "))
        };
        format!(
            "{keys}(user_id = {id} OR anonymous_id IN ({}))",
            anon_ids.join(", ")
        )
    } else {
        format!(
            "(user_id = {id} OR anonymous_id = {id} OR anonymous_id IN (SELECT anonymous_id FROM {} AS i0 \
             WHERE i0.project_id = {links} AND i0.user_id = {id}))",
            crate::store::identities_relation(store.dialect()),
        )
    };
    let events = p.frame_events_pre(&[raw], &[who])?;
    let day = p.frame.bucket_sql(sql, "ts", Interval::Day);
    let count_of = |name: &str| format!("sum({})", sql.flag(&format!("event = '{name}'")));
    let amount = sql.json_num("properties", &["amount".to_string()])?;
    let aggs = format!(
        "count(*) AS n, {} AS days, {} AS sessions, {} AS pv, {} AS clicks, {} AS purchases, \
         sum(CASE WHEN event = 'purchase' THEN {amount} END) AS revenue, min(ts) AS first_ts, max(ts) AS last_ts",
        sql.count_distinct(&day),
        sql.count_distinct("session_id"),
        count_of("page_view"),
        count_of("click"),
        count_of("purchase"),
    );
    // One statement, so that the person's events are found once (a CTE on DuckDB/PostgreSQL):
    // the totals (k = 0) and the same aggregates per feature name of `feature_used` events.
    let feature = format!(
        "coalesce({}, '')",
        sql.json_text("properties", &["feature_name".to_string()])?
    );
    let body = format!(
        "SELECT 0 AS k, '' AS f, {aggs} FROM {{ev}} AS t0 UNION ALL \
         SELECT 1, {feature}, {aggs} FROM {{ev}} AS t1 WHERE event = 'feature_used' GROUP BY {feature}"
    );
    let res = p
        .run(&sql.with_ctes(&[("ev", format!("SELECT * FROM {events}"))], &body))
        .await?;
    let mut feature_usage = BTreeMap::new();
    let mut totals = None;
    for r in rows(&res) {
        if r.i64(0)? == 0 {
            totals = Some(r);
        } else {
            feature_usage.insert(r.str(1), r.i64(2)?);
        }
    }
    let row = totals.ok_or_else(|| QueryError::Unexpected("no aggregate row".into()))?;
    let n = row.i64(2)?;
    let purchases = row.i64(7)?;
    Ok(UserMetrics {
        person: q.person.clone(),
        total_events: n,
        unique_days: row.i64(3)?,
        session_count: row.i64(4)?,
        page_views: row.i64(5)?,
        clicks: row.i64(6)?,
        purchases,
        revenue: if purchases == 0 {
            Value::from(0.0)
        } else {
            float_json(Some(row.opt_f64(8)?.unwrap_or(0.0)))
        },
        feature_usage,
        first_seen: if n > 0 {
            row.opt_i64(9)?.map(ms_to_rfc3339)
        } else {
            None
        },
        last_seen: if n > 0 {
            row.opt_i64(10)?.map(ms_to_rfc3339)
        } else {
            None
        },
    })
}
