//! A spec's [`Scope`] resolved for one store: range, zone, filters and segment as SQL.

use crate::store::{QueryResult, Store};

use super::fields::{filter_only_person, filter_sql, filter_uses_person};
use super::segments::segment_persons_sql;
use super::spec::Scope;
use super::sql::Sql;
use super::time::{Frame, Zone};
use super::{QueryContext, QueryError};

/// Everything a query kind needs to render its SQL.
pub struct Prepared<'a> {
    pub store: &'a dyn Store,
    pub ctx: &'a QueryContext,
    pub sql: Sql,
    pub frame: Frame,
    pub include_bots: bool,
    /// The scope's conditions over the event columns alone (applied before the identity join).
    pub row_conds: Vec<String>,
    /// The scope's conditions that read `person` (the segment, filters on `person`), over the
    /// events-with-person relation; `person_only` tells whether they read nothing else.
    pub person_conds: Vec<String>,
    pub person_only: bool,
}

impl<'a> Prepared<'a> {
    pub async fn new(
        store: &'a dyn Store,
        ctx: &'a QueryContext,
        scope: &Scope,
    ) -> Result<Prepared<'a>, QueryError> {
        Self::with_depth(store, ctx, scope, 0).await
    }

    pub(crate) async fn with_depth(
        store: &'a dyn Store,
        ctx: &'a QueryContext,
        scope: &Scope,
        depth: usize,
    ) -> Result<Prepared<'a>, QueryError> {
        let sql = Sql::new(store.dialect());
        let zone = Zone::parse(scope.time_zone.as_deref().or(ctx.time_zone.as_deref()))?;
        let frame = Frame::resolve(scope.from.as_deref(), scope.to.as_deref(), zone, ctx.now_ms)?;
        let (mut row_conds, mut person_conds, mut person_only) = (Vec::new(), Vec::new(), true);
        if let Some(f) = &scope.filters {
            for part in conjuncts(f) {
                let cond = filter_sql(&sql, part)?;
                if !filter_uses_person(part) {
                    row_conds.push(cond);
                } else {
                    person_only &= filter_only_person(part);
                    person_conds.push(cond);
                }
            }
        }
        if let Some(seg) = &scope.segment {
            let persons = Box::pin(segment_persons_sql(store, ctx, seg, depth + 1)).await?;
            person_conds.push(format!("person IN ({persons})"));
        }
        Ok(Prepared {
            store,
            ctx,
            sql,
            frame,
            include_bots: scope.include_bots,
            row_conds,
            person_conds,
            person_only,
        })
    }

    /// Whether per-person rollups may resolve persons as integer keys (see [`super::rollup`]):
    /// nothing in the scope compares `person` with a string (and the context does not ask for
    /// strings: [`QueryContext::text_persons`]).
    pub fn keyed(&self) -> bool {
        self.person_conds.is_empty() && !self.ctx.text_persons
    }

    /// Whether the scope reads `person` (then every relation needs the identity join).
    pub fn scope_uses_person(&self) -> bool {
        !self.person_conds.is_empty()
    }

    /// The scoped events with `from_ms <= ts < to_ms`, as `(subquery) AS ev` filtered by the
    /// scope's conditions and `extra` ones.
    pub fn events(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        extra: &[String],
    ) -> Result<String, QueryError> {
        self.events_pre(from_ms, to_ms, &[], extra)
    }

    /// Like [`Prepared::events`], with `pre` conditions over the event columns applied before
    /// the identity join (see [`Sql::events_with_person`]); they must not use `person`.
    pub fn events_pre(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        pre: &[String],
        extra: &[String],
    ) -> Result<String, QueryError> {
        let pre: Vec<String> = self.row_conds.iter().chain(pre).cloned().collect();
        let rel =
            self.sql
                .events_with_person(&self.ctx.project_id, from_ms, to_ms, self.include_bots, &pre)?;
        let conds: Vec<&String> = self.person_conds.iter().chain(extra).collect();
        if conds.is_empty() {
            Ok(format!("{rel} AS ev"))
        } else {
            let w: Vec<&str> = conds.iter().map(|s| s.as_str()).collect();
            Ok(format!(
                "(SELECT * FROM {rel} AS ev0 WHERE {}) AS ev",
                w.join(" AND ")
            ))
        }
    }

    /// The scoped events with `from_ms <= ts < to_ms` and the conditions `pre` (over the event
    /// columns), as `(subquery) AS ev` without a `person` column (no identity join): only for
    /// queries that never read `person`, under a scope that does not either
    /// ([`Prepared::scope_uses_person`]).
    pub fn events_without_person(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        pre: &[String],
    ) -> Result<String, QueryError> {
        debug_assert!(!self.scope_uses_person());
        let pre: Vec<String> = self.row_conds.iter().chain(pre).cloned().collect();
        let rel =
            self.sql
                .events_without_person(&self.ctx.project_id, from_ms, to_ms, self.include_bots, &pre)?;
        Ok(format!("{rel} AS ev"))
    }

    /// The scoped events inside the frame.
    pub fn frame_events(&self, extra: &[String]) -> Result<String, QueryError> {
        self.events(Some(self.frame.from_ms), Some(self.frame.to_ms), extra)
    }

    /// The scoped events inside the frame, with `pre` conditions (see [`Prepared::events_pre`]).
    pub fn frame_events_pre(&self, pre: &[String], extra: &[String]) -> Result<String, QueryError> {
        self.events_pre(Some(self.frame.from_ms), Some(self.frame.to_ms), pre, extra)
    }

    pub async fn run(&self, sql: &str) -> Result<QueryResult, QueryError> {
        tracing::debug!(target: "footfall::query", sql, "query");
        Ok(self.store.query(sql).await?)
    }
}

/// The items of a top-level AND (nested ANDs flattened), else the filter itself.
fn conjuncts(f: &super::spec::Filter) -> Vec<&super::spec::Filter> {
    match f {
        super::spec::Filter::And(items) => items.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}
