//! Feature adoption (`get_feature_adoption`).
//!
//! ```json
//! {"kind": "feature_adoption", "feature": "export", "from": "30_days_ago", "to": "today"}
//! ```
//!
//! A use of the feature is an `event` (default `feature_used`) whose `property` (default
//! `properties.feature_name`) equals `feature`. `users`: distinct persons with a use in the
//! range; `active_persons`: distinct persons with any event in the range (computed, after the
//! scope's filters and segment); `adoption_rate` = users / active_persons; `usage_count`: uses.
//! `daily`: the same per local day, every day of the range present.

use serde::{Deserialize, Serialize};

use super::fields::{Field, text_eq_sql};
use super::normalize::{rate, rows};
use super::rollup::{Agg, Merge, Rollup};
use super::scope::Prepared;
use super::spec::{Interval, scoped_spec};
use super::time::bucket_label;
use super::{QueryContext, QueryError};
use crate::store::Store;

fn default_event() -> String {
    "feature_used".into()
}
fn default_property() -> String {
    "properties.feature_name".into()
}

scoped_spec! {
    /// Feature adoption (see the module doc).
    pub struct FeatureAdoptionQuery {
        pub feature: String,
        /// Default `feature_used`.
        #[serde(default = "default_event")]
        pub event: String,
        /// Default `properties.feature_name`.
        #[serde(default = "default_property")]
        pub property: String,
    }
}

impl FeatureAdoptionQuery {
    pub fn new(feature: &str) -> Self {
        Self::from_fields(feature.into(), default_event(), default_property())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptionDay {
    pub date: String,
    pub users: i64,
    pub active_persons: i64,
    pub usage_count: i64,
    pub adoption_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureAdoption {
    pub feature: String,
    pub users: i64,
    pub active_persons: i64,
    pub adoption_rate: f64,
    pub usage_count: i64,
    pub daily: Vec<AdoptionDay>,
}

pub async fn get_feature_adoption(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &FeatureAdoptionQuery,
) -> Result<FeatureAdoption, QueryError> {
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let prop = Field::parse(&q.property)?;
    // The property is only read on events of the feature's event (JSON parsing is the cost).
    let used = format!(
        "(CASE WHEN event = {} THEN {} ELSE 0 END)",
        sql.lit(&q.event)?,
        sql.flag(&text_eq_sql(sql, &prop, &q.feature)?)
    );
    let day = p.frame.bucket_sql(sql, "ts", Interval::Day);
    // One pass over the events: (person, day) with uses; then the totals (d = -1) and the days.
    let pd = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        keys: vec![(day, "d".into())],
        // Uses only: "used the feature that day" is `n > 0` (one aggregate over the events).
        aggs: vec![Agg::new("n", format!("sum({used})"), Merge::Sum)],
        reads_person: prop == Field::Text("person"),
        ..Rollup::default()
    })?;
    let body = format!(
        "SELECT {} AS d, {} AS users, {} AS active, {} AS uses FROM {{pd}} AS t0 UNION ALL \
         SELECT {}, {}, {}, {} FROM {{pd}} AS t1 GROUP BY d",
        sql.int("-1"),
        sql.int(&sql.count_distinct("CASE WHEN n > 0 THEN person END")),
        sql.int(&sql.count_distinct("person")),
        sql.int("sum(n)"),
        sql.int("d"),
        sql.int("sum(CASE WHEN n > 0 THEN 1 ELSE 0 END)"),
        sql.int("count(*)"),
        sql.int("sum(n)"),
    );
    let res = p.run(&sql.with_ctes(&[("pd", pd)], &body)).await?;
    let (mut users, mut active, mut uses) = (0, 0, 0);
    for r in rows(&res) {
        if r.i64(0)? == -1 {
            (users, active, uses) = (r.i64(1)?, r.i64(2)?, r.i64(3)?);
        }
    }
    let ids = p.frame.buckets(Interval::Day);
    let first = ids.first().copied().unwrap_or(0);
    let mut daily: Vec<AdoptionDay> = ids
        .iter()
        .map(|&d| AdoptionDay {
            date: bucket_label(d, Interval::Day),
            users: 0,
            active_persons: 0,
            usage_count: 0,
            adoption_rate: 0.0,
        })
        .collect();
    for r in rows(&res).filter(|r| r.i64(0).is_ok_and(|d| d >= 0)) {
        if let Some(d) = usize::try_from(r.i64(0)? - first)
            .ok()
            .and_then(|i| daily.get_mut(i))
        {
            d.users = r.i64(1)?;
            d.active_persons = r.i64(2)?;
            d.usage_count = r.i64(3)?;
            d.adoption_rate = rate(d.users, d.active_persons);
        }
    }
    Ok(FeatureAdoption {
        feature: q.feature.clone(),
        users,
        active_persons: active,
        adoption_rate: rate(users, active),
        usage_count: uses,
        daily,
    })
}
