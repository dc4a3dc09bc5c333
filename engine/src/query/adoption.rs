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
use super::mask::{Mask, bit_counts};
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
    let used = format!(
        "(event = {} AND {})",
        sql.lit(&q.event)?,
        text_eq_sql(sql, &prop, &q.feature)?
    );
    let day = p.frame.bucket_sql(sql, "ts", Interval::Day);
    let ids = p.frame.buckets(Interval::Day)?;
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
    let n_days = daily.len();
    let slot = |d: i64| usize::try_from(d - first).ok().filter(|&i| i < n_days);
    // Active persons: one row per person (and chunk) with the active days as a mask (no JSON
    // is read); the total is the number of persons, a day's count a sum of bit tests.
    let mask = Mask::new(first, ids.last().copied().unwrap_or(first));
    let pm = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        keys: mask.keys(sql, &day),
        aggs: vec![mask.agg(sql, "m", &day, None)],
        ..Rollup::default()
    })?;
    let bits = mask.chunk_bits();
    // Per chunk: its persons (the total when there is one chunk) and the day counts; with
    // several chunks the total is a distinct count (w = -1).
    let mut body = format!(
        "SELECT {} AS w, {} AS c, {} FROM {{pm}} AS t0 GROUP BY w",
        sql.int(&mask.chunk_col(sql)),
        sql.int("count(*)"),
        bit_counts(sql, "m", bits.clone()).join(", "),
    );
    if !mask.single() {
        let zeros: Vec<String> = bits
            .clone()
            .map(|j| format!("{} AS c{j}", sql.int("0")))
            .collect();
        body.push_str(&format!(
            " UNION ALL SELECT {}, {}, {} FROM {{pm}} AS t1",
            sql.int("-1"),
            sql.int(&sql.count_distinct("person")),
            zeros.join(", ")
        ));
    }
    let mut active = 0;
    for r in rows(&p.run(&sql.with_ctes(&[("pm", pm)], &body)).await?) {
        let w = r.i64(0)?;
        if w < 0 || mask.single() {
            active = r.i64(1)?;
        }
        if w < 0 {
            continue;
        }
        for (c, j) in bits.clone().enumerate() {
            if let Some(i) = slot(mask.bucket(w, j)) {
                daily[i].active_persons = r.opt_i64(c + 2)?.unwrap_or(0);
            }
        }
    }
    // Uses: a rollup of the feature's events alone, (person, day) with the number of uses.
    let pu = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        conds: vec![used],
        keys: vec![(day, "d".into())],
        aggs: vec![Agg::new("n", "count(*)", Merge::Sum)],
        reads_person: prop == Field::Text("person"),
        ..Rollup::default()
    })?;
    let body = format!(
        "SELECT {} AS d, {} AS users, {} AS uses FROM {{pu}} AS t0 UNION ALL \
         SELECT {}, {}, {} FROM {{pu}} AS t1 GROUP BY d",
        sql.int("-1"),
        sql.int(&sql.count_distinct("person")),
        sql.int("sum(n)"),
        sql.int("d"),
        sql.int("count(*)"),
        sql.int("sum(n)"),
    );
    let (mut users, mut uses) = (0, 0);
    for r in rows(&p.run(&sql.with_ctes(&[("pu", pu)], &body)).await?) {
        let d = r.i64(0)?;
        if d == -1 {
            (users, uses) = (r.i64(1)?, r.opt_i64(2)?.unwrap_or(0));
        } else if let Some(i) = slot(d) {
            daily[i].users = r.i64(1)?;
            daily[i].usage_count = r.i64(2)?;
        }
    }
    for d in &mut daily {
        d.adoption_rate = rate(d.users, d.active_persons);
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
