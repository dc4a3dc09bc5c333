//! The events relations of [`Sql`]: the scope's conditions over `events AS e`, and the events
//! with or without the resolved `person` column.

use crate::query::QueryError;
use crate::store::{events_from, identities_relation};

use super::Sql;

impl Sql {
    /// The conditions selecting the project's non-bot (unless `include_bots`) events with
    /// `from_ms <= ts < to_ms` (either bound optional) from `events AS e`, plus `pre`.
    pub fn event_conds(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<Vec<String>, QueryError> {
        let mut conds = vec![format!("e.project_id = {}", self.lit(project)?)];
        if let Some(f) = from_ms {
            conds.push(format!("e.ts >= {f}"));
        }
        if let Some(t) = to_ms {
            conds.push(format!("e.ts < {t}"));
        }
        if !include_bots {
            conds.push(if self.is_ch() {
                "e.is_bot = 0".into()
            } else {
                "NOT e.is_bot".into()
            });
        }
        conds.extend(pre.iter().cloned());
        Ok(conds)
    }

    /// Like [`Sql::events_with_person`] without the `person` column, hence without the identity
    /// join: for queries that never look at persons.
    pub fn events_without_person(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<String, QueryError> {
        let conds = self.event_conds(project, from_ms, to_ms, include_bots, pre)?;
        Ok(format!(
            "(SELECT * FROM {} WHERE {})",
            events_from(self.dialect, "e"),
            conds.join(" AND ")
        ))
    }

    /// The project's non-bot (unless `include_bots`) events with `from_ms <= ts < to_ms` (either
    /// bound optional) and the conditions `pre` (over the event columns only: they are applied
    /// before the identity join, which is what makes selective queries cheap), plus the resolved
    /// `person` column, as a parenthesized subquery with the events' columns. Callers add their
    /// filters on top (`WHERE` over this relation).
    pub fn events_with_person(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<String, QueryError> {
        let p = self.lit(project)?;
        let conds = self.event_conds(project, from_ms, to_ms, include_bots, pre)?;
        let ch = self.is_ch();
        let cols = "project_id, message_id, type, event, ts, received_at, anonymous_id, user_id, \
                    session_id, group_id, browser, os, device_type, is_bot, ip, properties, traits, context";
        if ch {
            let ecols: String = cols
                .split(", ")
                .map(|c| format!("e.{c} AS {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "(SELECT {cols}, coalesce(nullIf(user_id, ''), nullIf(linked_user_id, ''), nullIf(anonymous_id, '')) AS person \
                 FROM (SELECT {ecols}, ifNull(e.anonymous_id, '') AS anon_key FROM {ev} WHERE {w}) \
                 ANY LEFT JOIN (SELECT anonymous_id AS anon_key, user_id AS linked_user_id FROM {ids} AS i WHERE i.project_id = {p}) \
                 USING anon_key)",
                ev = events_from(self.dialect, "e"),
                w = conds.join(" AND "),
                ids = identities_relation(self.dialect),
            ))
        } else {
            let ecols: String = cols
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "(SELECT {ecols}, coalesce(nullif(e.user_id, ''), nullif(i.user_id, ''), nullif(e.anonymous_id, '')) AS person \
                 FROM (SELECT * FROM {ev} WHERE {w}) AS e LEFT JOIN \
                 (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                 ON i.anonymous_id = e.anonymous_id)",
                ev = events_from(self.dialect, "e"),
                w = conds.join(" AND "),
                ids = identities_relation(self.dialect),
            ))
        }
    }
}
