//! Lifecycle (new, returning, resurrecting, dormant) and stickiness (days active per period).
//!
//! ```json
//! {"kind": "lifecycle", "event": "*", "interval": "week", "from": "8_weeks_ago", "to": "today"}
//! {"kind": "stickiness", "event": "feature_used", "interval": "week", "from": "8_weeks_ago"}
//! ```
//!
//! Lifecycle, per period P of the range (a person is *active* in a period when they did a
//! matching event in it):
//! * `new`: active in P, and P holds their first matching event ever (all history is read);
//! * `returning`: active in P and in P − 1;
//! * `resurrecting`: active in P, not in P − 1, and active at some point before P − 1;
//! * `dormant`: active in P − 1 but not in P (a positive count; charts usually draw it below 0).
//!
//! Stickiness, per period P (`week` or `month`): for each person active in P, the number of
//! distinct local days of P (inside the range) with a matching event; `days[d - 1]` counts the
//! persons active exactly d days. `total` sums the periods; `average_days` is the mean over all
//! (person, period) pairs.

use serde::{Deserialize, Serialize};

use super::fields::{event_match_sql, filter_uses_person};
use super::normalize::{round, rows};
use super::rollup::{Agg, Merge, Rollup};
use super::scope::Prepared;
use super::spec::{EventMatch, Interval, de_event_match, scoped_spec};
use super::time::bucket_label;
use super::{QueryContext, QueryError};
use crate::store::Store;

fn any_event() -> EventMatch {
    EventMatch::named("*")
}
fn default_day() -> Interval {
    Interval::Day
}
fn default_week() -> Interval {
    Interval::Week
}

scoped_spec! {
    /// Lifecycle (see the module doc).
    pub struct LifecycleQuery {
        /// Default `*`.
        #[serde(default = "any_event", deserialize_with = "de_event_match")]
        pub event: EventMatch,
        /// `day` (default), `week`, `month`.
        #[serde(default = "default_day")]
        pub interval: Interval,
    }
}

scoped_spec! {
    /// Stickiness (see the module doc).
    pub struct StickinessQuery {
        /// Default `*`.
        #[serde(default = "any_event", deserialize_with = "de_event_match")]
        pub event: EventMatch,
        /// `week` (default) or `month`.
        #[serde(default = "default_week")]
        pub interval: Interval,
    }
}

impl LifecycleQuery {
    pub fn new(event: EventMatch, interval: Interval) -> Self {
        Self::from_fields(event, interval)
    }
}

impl StickinessQuery {
    pub fn new(event: EventMatch, interval: Interval) -> Self {
        Self::from_fields(event, interval)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleResult {
    pub interval: Interval,
    pub buckets: Vec<String>,
    pub new: Vec<i64>,
    pub returning: Vec<i64>,
    pub resurrecting: Vec<i64>,
    pub dormant: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StickinessPeriod {
    pub period: String,
    pub persons: i64,
    pub days: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StickinessResult {
    pub interval: Interval,
    pub periods: Vec<StickinessPeriod>,
    pub total: Vec<i64>,
    pub average_days: f64,
}

pub async fn get_lifecycle(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &LifecycleQuery,
) -> Result<LifecycleResult, QueryError> {
    if q.interval == Interval::Hour {
        return Err(QueryError::Invalid(
            "lifecycle interval must be day, week or month".into(),
        ));
    }
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let ids = p.frame.buckets(q.interval)?;
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return Ok(LifecycleResult {
            interval: q.interval,
            buckets: vec![],
            new: vec![],
            returning: vec![],
            resurrecting: vec![],
            dormant: vec![],
        });
    };
    let m = event_match_sql(sql, &q.event)?;
    let start_prev = p.frame.bucket_start(first - 1, q.interval);
    let b = p.frame.bucket_sql(sql, "ts", q.interval);
    // Per-person rollups (see query/rollup.rs); both use the same plan, as they are joined by
    // person.
    let reads_person = q.event.filters.as_ref().is_some_and(filter_uses_person);
    let act = p.rollup(&Rollup {
        from_ms: Some(start_prev),
        to_ms: Some(p.frame.to_ms),
        conds: vec![m.clone()],
        keys: vec![(b, "b".into())],
        reads_person,
        ..Rollup::default()
    })?;
    let fb = p.frame.bucket_sql(sql, "fts", q.interval);
    let firsts = format!(
        "SELECT person, CASE WHEN fts >= {start_prev} THEN {fb} ELSE -1 END AS fb FROM ({}) AS f0",
        p.rollup(&Rollup {
            to_ms: Some(p.frame.to_ms),
            conds: vec![m],
            aggs: vec![Agg::new("fts", "min(ts)", Merge::Min)],
            reads_person,
            ..Rollup::default()
        })?
    );
    let flags = format!(
        "SELECT person, b, max(cur) AS cur, max(prev) AS prev FROM \
         (SELECT person, b, 1 AS cur, 0 AS prev FROM ({act}) AS a1 UNION ALL \
          SELECT person, b + 1 AS b, 0 AS cur, 1 AS prev FROM ({act}) AS a2) AS u GROUP BY person, b"
    );
    let joined = if sql.is_ch() {
        format!("SELECT b, cur, prev, fb FROM ({flags}) ANY LEFT JOIN ({firsts}) USING person")
    } else {
        format!(
            "SELECT fl.b, fl.cur, fl.prev, fi.fb FROM ({flags}) AS fl LEFT JOIN ({firsts}) AS fi ON fi.person = fl.person"
        )
    };
    let text = format!(
        "SELECT b, sum(CASE WHEN cur = 1 AND fb = b THEN 1 ELSE 0 END) AS n_new, \
         sum(CASE WHEN cur = 1 AND prev = 1 THEN 1 ELSE 0 END) AS n_ret, \
         sum(CASE WHEN cur = 1 AND prev = 0 AND fb < b THEN 1 ELSE 0 END) AS n_res, \
         sum(CASE WHEN cur = 0 AND prev = 1 THEN 1 ELSE 0 END) AS n_dorm \
         FROM ({joined}) AS j WHERE b >= {first} AND b <= {last} GROUP BY b"
    );
    let res = p.run(&text).await?;
    let k = ids.len();
    let mut out = LifecycleResult {
        interval: q.interval,
        buckets: ids.iter().map(|id| bucket_label(*id, q.interval)).collect(),
        new: vec![0; k],
        returning: vec![0; k],
        resurrecting: vec![0; k],
        dormant: vec![0; k],
    };
    for r in rows(&res) {
        let i = (r.i64(0)? - first) as usize;
        if i < k {
            out.new[i] = r.i64(1)?;
            out.returning[i] = r.i64(2)?;
            out.resurrecting[i] = r.i64(3)?;
            out.dormant[i] = r.i64(4)?;
        }
    }
    Ok(out)
}

pub async fn get_stickiness(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &StickinessQuery,
) -> Result<StickinessResult, QueryError> {
    let max_days = match q.interval {
        Interval::Week => 7,
        Interval::Month => 31,
        _ => {
            return Err(QueryError::Invalid(
                "stickiness interval must be week or month".into(),
            ));
        }
    };
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let ids = p.frame.buckets(q.interval)?;
    let m = event_match_sql(sql, &q.event)?;
    let period = p.frame.bucket_sql(sql, "ts", q.interval);
    let day = p.frame.bucket_sql(sql, "ts", Interval::Day);
    // The distinct (person, period, day) triples by a per-person rollup (see query/rollup.rs).
    let days = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        conds: vec![m],
        keys: vec![(period, "pr".into()), (day, "d".into())],
        reads_person: q.event.filters.as_ref().is_some_and(filter_uses_person),
        ..Rollup::default()
    })?;
    let text = format!(
        "SELECT pr, days, count(*) AS n FROM (SELECT person, pr, {} AS days FROM ({days}) AS pd \
         GROUP BY person, pr) AS s GROUP BY pr, days",
        sql.int("count(*)")
    );
    let res = p.run(&text).await?;
    let first = ids.first().copied().unwrap_or(0);
    let mut periods: Vec<StickinessPeriod> = ids
        .iter()
        .map(|id| StickinessPeriod {
            period: bucket_label(*id, q.interval),
            persons: 0,
            days: vec![0; max_days],
        })
        .collect();
    let mut total = vec![0; max_days];
    let (mut pairs, mut day_sum) = (0i64, 0i64);
    for r in rows(&res) {
        let (pr, d, n) = (r.i64(0)?, r.i64(1)?, r.i64(2)?);
        let Some(per) = usize::try_from(pr - first).ok().and_then(|i| periods.get_mut(i)) else {
            continue;
        };
        if (1..=max_days as i64).contains(&d) {
            per.days[d as usize - 1] += n;
            per.persons += n;
            total[d as usize - 1] += n;
            pairs += n;
            day_sum += d * n;
        }
    }
    let average_days = if pairs == 0 {
        0.0
    } else {
        round(day_sum as f64 / pairs as f64).unwrap_or(0.0)
    };
    Ok(StickinessResult {
        interval: q.interval,
        periods,
        total,
        average_days,
    })
}
