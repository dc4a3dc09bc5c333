//! Segments: persons matching behavioural criteria; saved segments (documents of kind
//! `segment`) usable as `segment` in every query's scope.
//!
//! ```json
//! {"kind": "segment", "from": "30_days_ago", "to": "today", "limit": 50, "offset": 0,
//!  "criteria": {"and": [
//!    {"did": {"event": "purchase", "min_count": 2,
//!             "filters": {"field": "properties.amount", "op": "gte", "value": 20}}},
//!    {"not": {"did": {"event": "churn_survey"}}},
//!    {"trait": {"field": "plan", "op": "eq", "value": "pro"}},
//!    {"segment": "power-users"}]}}
//! ```
//!
//! * The universe is the persons with at least one event (after the scope's filters) in the
//!   segment's range or in any criterion's own range; `not` is relative to it.
//! * `did`: the person has between `min_count` (default 1) and `max_count` (default unbounded)
//!   matching events in the criterion's `from`/`to` (default: the segment's range).
//! * `trait`: a condition on the person's latest known value of the trait (the most recent event,
//!   of all history up to the range end, whose `traits` carry the key); `field` is the trait key.
//! * `segment`: membership in another saved segment (nesting up to 5 levels).
//!
//! Result: `count` and one page of person ids ordered ascending (`limit` default 100, at most
//! 10,000; `offset` default 0).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::fields::{Field, condition_on, event_match_sql, validate_key};
use super::normalize::rows;
use super::scope::Prepared;
use super::spec::{Condition, EventMatch, Filter, SegmentRef, scoped_spec};
use super::time::parse_bound;
use super::{QueryContext, QueryError};
use crate::store::Store;

/// Document kind of saved segments.
pub const SEGMENT_KIND: &str = "segment";
const MAX_DEPTH: usize = 5;

/// "Did event E between min and max times in a range".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidEvent {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A boolean tree of behavioural criteria.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    And(Vec<Criterion>),
    Or(Vec<Criterion>),
    Not(Box<Criterion>),
    Did(DidEvent),
    Trait(Condition),
    InSegment(String),
}

impl Criterion {
    pub fn did(event: &str, min_count: u64) -> Criterion {
        Criterion::Did(DidEvent {
            event: event.into(),
            filters: None,
            min_count: Some(min_count),
            max_count: None,
            from: None,
            to: None,
        })
    }

    fn from_value(v: Value) -> Result<Criterion, String> {
        let Value::Object(m) = v else {
            return Err(format!("invalid criterion {v}: expected an object"));
        };
        if m.len() != 1 {
            return Err("a criterion has exactly one key: and, or, not, did, trait or segment".into());
        }
        let (k, v) = m.into_iter().next().expect("one entry");
        let list = |v: Value| -> Result<Vec<Criterion>, String> {
            match v {
                Value::Array(items) => items.into_iter().map(Criterion::from_value).collect(),
                _ => Err(format!("criterion `{k}` takes a list")),
            }
        };
        match k.as_str() {
            "and" => Ok(Criterion::And(list(v)?)),
            "or" => Ok(Criterion::Or(list(v)?)),
            "not" => Ok(Criterion::Not(Box::new(Criterion::from_value(v)?))),
            "did" => serde_json::from_value(v)
                .map(Criterion::Did)
                .map_err(|e| format!("did: {e}")),
            "trait" => serde_json::from_value(v)
                .map(Criterion::Trait)
                .map_err(|e| format!("trait: {e}")),
            "segment" => match v {
                Value::String(s) => Ok(Criterion::InSegment(s)),
                _ => Err("segment takes a saved segment id".into()),
            },
            other => Err(format!(
                "unknown criterion `{other}` (and, or, not, did, trait, segment)"
            )),
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        let list = |cs: &[Criterion]| Value::Array(cs.iter().map(Criterion::to_value).collect());
        match self {
            Criterion::And(cs) => m.insert("and".into(), list(cs)),
            Criterion::Or(cs) => m.insert("or".into(), list(cs)),
            Criterion::Not(c) => m.insert("not".into(), c.to_value()),
            Criterion::Did(d) => m.insert("did".into(), serde_json::to_value(d).expect("serializes")),
            Criterion::Trait(c) => m.insert("trait".into(), serde_json::to_value(c).expect("serializes")),
            Criterion::InSegment(s) => m.insert("segment".into(), Value::from(s.clone())),
        };
        Value::Object(m)
    }
}

impl Serialize for Criterion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Criterion::from_value(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

scoped_spec! {
    /// A segment definition (inline in a scope, or saved).
    pub struct SegmentSpec {
        pub criteria: Criterion,
    }
}

scoped_spec! {
    /// `segment_users`: a segment definition plus a page.
    pub struct SegmentQuery {
        pub criteria: Criterion,
        /// Default 100, at most 10,000.
        #[serde(default)]
        pub limit: Option<u64>,
        #[serde(default)]
        pub offset: u64,
    }
}

impl SegmentSpec {
    pub fn new(criteria: Criterion) -> Self {
        Self::from_fields(criteria)
    }
}

impl SegmentQuery {
    pub fn new(criteria: Criterion) -> Self {
        Self::from_fields(criteria, None, 0)
    }

    pub fn spec(&self) -> SegmentSpec {
        SegmentSpec {
            criteria: self.criteria.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            time_zone: self.time_zone.clone(),
            filters: self.filters.clone(),
            segment: self.segment.clone(),
            include_bots: self.include_bots,
        }
    }
}

/// A saved segment document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSegment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub definition: SegmentSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentResult {
    pub count: i64,
    pub persons: Vec<String>,
    pub limit: u64,
    pub offset: u64,
}

/// Renders `SELECT person FROM …` for a segment reference.
pub(crate) async fn segment_persons_sql(
    store: &dyn Store,
    ctx: &QueryContext,
    seg: &SegmentRef,
    depth: usize,
) -> Result<String, QueryError> {
    if depth > MAX_DEPTH {
        return Err(QueryError::Invalid(format!(
            "segments nest deeper than {MAX_DEPTH} levels (a cycle?)"
        )));
    }
    let spec = match seg {
        SegmentRef::Inline(s) => (**s).clone(),
        SegmentRef::Saved(id) => {
            get_segment(store, &ctx.project_id, id)
                .await?
                .ok_or_else(|| QueryError::NotFound(format!("segment `{id}`")))?
                .definition
        }
    };
    let p = Prepared::with_depth(store, ctx, &spec.scope(), depth).await?;
    let mut c = Compiler {
        p: &p,
        counts: Vec::new(),
        traits: Vec::new(),
        ranges: Vec::new(),
    };
    let cond = Box::pin(c.compile(&spec.criteria, depth)).await?;
    let sql = &p.sql;
    let (mut lo, mut hi) = (p.frame.from_ms, p.frame.to_ms);
    for (f, t) in &c.ranges {
        lo = lo.min(*f);
        hi = hi.max(*t);
    }
    let mut aggs = vec![format!(
        "sum({}) AS active",
        sql.flag(&format!("ts >= {lo} AND ts < {hi}"))
    )];
    for (i, (m, f, t)) in c.counts.iter().enumerate() {
        aggs.push(format!(
            "sum({}) AS c{i}",
            sql.flag(&format!("{m} AND ts >= {f} AND ts < {t}"))
        ));
    }
    for (i, key) in c.traits.iter().enumerate() {
        let path = vec![key.clone()];
        let text = sql.json_text("traits", &path)?;
        let num = sql.json_num("traits", &path)?;
        aggs.push(format!("{} AS tt{i}", sql.last_by(&text, "ts", "message_id")));
        aggs.push(format!("{} AS tn{i}", sql.last_by(&num, "ts", "message_id")));
    }
    let scan_from = if c.traits.is_empty() { Some(lo) } else { None };
    Ok(format!(
        "SELECT person FROM (SELECT person, {} FROM {} WHERE person IS NOT NULL GROUP BY person) AS pa \
         WHERE active > 0 AND {cond}",
        aggs.join(", "),
        p.events(scan_from, Some(hi), &[])?
    ))
}

struct Compiler<'p, 'a> {
    p: &'p Prepared<'a>,
    /// (match SQL, from, to) per `did`.
    counts: Vec<(String, i64, i64)>,
    /// Trait keys.
    traits: Vec<String>,
    ranges: Vec<(i64, i64)>,
}

impl Compiler<'_, '_> {
    async fn compile(&mut self, c: &Criterion, depth: usize) -> Result<String, QueryError> {
        let sql = self.p.sql;
        Ok(match c {
            Criterion::And(cs) | Criterion::Or(cs) if cs.is_empty() => {
                if matches!(c, Criterion::And(_)) {
                    "(1 = 1)".into()
                } else {
                    "(1 = 0)".into()
                }
            }
            Criterion::And(cs) | Criterion::Or(cs) => {
                let mut parts = Vec::new();
                for c in cs {
                    parts.push(Box::pin(self.compile(c, depth)).await?);
                }
                let op = if matches!(c, Criterion::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                format!("({})", parts.join(op))
            }
            Criterion::Not(inner) => format!("(NOT {})", Box::pin(self.compile(inner, depth)).await?),
            Criterion::Did(d) => {
                let m = event_match_sql(
                    &sql,
                    &EventMatch {
                        event: d.event.clone(),
                        filters: d.filters.clone(),
                        name: None,
                    },
                )?;
                let zone = self.p.frame.zone;
                let now = self.p.ctx.now_ms;
                let f = d
                    .from
                    .as_deref()
                    .map(|s| parse_bound(s, zone, now, false))
                    .transpose()?
                    .unwrap_or(self.p.frame.from_ms);
                let t =
                    d.to.as_deref()
                        .map(|s| parse_bound(s, zone, now, true))
                        .transpose()?
                        .unwrap_or(self.p.frame.to_ms);
                self.ranges.push((f, t));
                let i = self.counts.len();
                self.counts.push((m, f, t));
                let min = d.min_count.unwrap_or(1);
                let mut cond = format!("(c{i} >= {min}");
                if let Some(max) = d.max_count {
                    cond.push_str(&format!(" AND c{i} <= {max}"));
                }
                cond.push(')');
                cond
            }
            Criterion::Trait(cond) => {
                let key = cond
                    .field
                    .strip_prefix("traits.")
                    .unwrap_or(&cond.field)
                    .to_string();
                validate_key(&key)?;
                let i = self.traits.len();
                self.traits.push(key);
                condition_on(&sql, cond, &Field::Computed(format!("tt{i}"), format!("tn{i}")))?
            }
            Criterion::InSegment(id) => {
                let inner = Box::pin(segment_persons_sql(
                    self.p.store,
                    self.p.ctx,
                    &SegmentRef::Saved(id.clone()),
                    depth + 1,
                ))
                .await?;
                format!("person IN ({inner})")
            }
        })
    }
}

pub async fn segment_users(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &SegmentQuery,
) -> Result<SegmentResult, QueryError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(QueryError::Invalid("limit must be between 1 and 10000".into()));
    }
    let persons = segment_persons_sql(store, ctx, &SegmentRef::Inline(Box::new(q.spec())), 0).await?;
    let count = store
        .query(&format!("SELECT count(*) AS n FROM ({persons}) AS s"))
        .await?;
    let count = rows(&count).next().map(|r| r.i64(0)).transpose()?.unwrap_or(0);
    let page = store
        .query(&format!(
            "SELECT person FROM ({persons}) AS s ORDER BY person LIMIT {limit} OFFSET {}",
            q.offset
        ))
        .await?;
    Ok(SegmentResult {
        count,
        persons: rows(&page).map(|r| r.str(0)).collect(),
        limit,
        offset: q.offset,
    })
}

/// Validates (compiles) and stores a segment under `id`.
pub async fn save_segment(
    store: &dyn Store,
    ctx: &QueryContext,
    id: &str,
    seg: &SavedSegment,
) -> Result<(), QueryError> {
    if id.is_empty() || id.len() > 128 {
        return Err(QueryError::Invalid("segment id must be 1-128 characters".into()));
    }
    segment_persons_sql(
        store,
        ctx,
        &SegmentRef::Inline(Box::new(seg.definition.clone())),
        0,
    )
    .await?;
    let body = serde_json::to_value(seg).map_err(|e| QueryError::Invalid(e.to_string()))?;
    Ok(store
        .put_document(SEGMENT_KIND, &ctx.project_id, id, &body)
        .await?)
}

pub async fn get_segment(
    store: &dyn Store,
    project: &str,
    id: &str,
) -> Result<Option<SavedSegment>, QueryError> {
    match store.get_document(SEGMENT_KIND, project, id).await? {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| QueryError::Invalid(format!("saved segment `{id}` is malformed: {e}"))),
    }
}

pub async fn list_segments(
    store: &dyn Store,
    project: &str,
) -> Result<Vec<(String, SavedSegment)>, QueryError> {
    let mut out = Vec::new();
    for (id, v) in store.list_documents(SEGMENT_KIND, project).await? {
        let s = serde_json::from_value(v)
            .map_err(|e| QueryError::Invalid(format!("saved segment `{id}`: {e}")))?;
        out.push((id, s));
    }
    Ok(out)
}

pub async fn delete_segment(store: &dyn Store, project: &str, id: &str) -> Result<bool, QueryError> {
    Ok(store.delete_document(SEGMENT_KIND, project, id).await?)
}
