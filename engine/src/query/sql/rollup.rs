//! The identity columns and the identity join of [`Sql`] for pre-grouped plans (see
//! [`crate::query::rollup`]): events are grouped by their raw identity first, and the person is
//! resolved once per group.

use crate::query::QueryError;
use crate::store::identities_relation;

use super::Sql;

impl Sql {
    /// The raw identity of an event row of `events AS e`, for grouping before the identity join
    /// (see [`crate::query::rollup`]), as (expression, alias) pairs.
    ///
    /// `keyed`: the integer key `rid` = `e.rid_key` (see [`crate::store::rid_key`]: bit 0 set for
    /// a user id). Otherwise the strings `(rid, ru)` = (its user id, 1) when it has one, else
    /// (its anonymous id, 0). The person is then `rid` when `ru = 1`, else the user linked to
    /// `rid`, else `rid` (see [`Sql::rollup_person`]). ClickHouse joins on
    /// `ifNull(anonymous_id, '')`, as [`Sql::events_with_person`] does.
    pub fn rollup_ids(&self, keyed: bool) -> Vec<(String, &'static str)> {
        if keyed {
            vec![("e.rid_key".into(), "rid")]
        } else if self.is_ch() {
            vec![
                (
                    "ifNull(coalesce(nullIf(e.user_id, ''), e.anonymous_id), '')".into(),
                    "rid",
                ),
                ("if(isNull(nullIf(e.user_id, '')), 0, 1)".into(), "ru"),
            ]
        } else {
            vec![
                ("coalesce(nullif(e.user_id, ''), e.anonymous_id)".into(), "rid"),
                (
                    "(CASE WHEN nullif(e.user_id, '') IS NULL THEN 0 ELSE 1 END)".into(),
                    "ru",
                ),
            ]
        }
    }

    /// `rel` (a subquery with the columns of [`Sql::rollup_ids`] and `cols`) with them replaced
    /// by the resolved `person`, by one identity join.
    ///
    /// `keyed`: `person` is the person's integer key (`id_key` of the person id): the linked
    /// user's `user_key` when the anonymous key `rid` has a link, else `rid` without its user bit
    /// (a user id's key `id_key(u) | 1` never equals an `anon_key`, which is even, so user rows
    /// never find a link); NULL for `rid = 0` (no id). Otherwise `person` is the person id:
    /// only rows without a user id look up their link (the key is an expression because DuckDB
    /// plans a left join with a condition on the left side alone, `r.ru = 0 AND …`, as a nested
    /// loop).
    pub fn rollup_person(
        &self,
        project: &str,
        rel: &str,
        cols: &[&str],
        keyed: bool,
    ) -> Result<String, QueryError> {
        let p = self.lit(project)?;
        let ids = identities_relation(self.dialect);
        match (self.is_ch(), keyed) {
            (true, true) => {
                let cols: String = cols.iter().map(|c| format!(", {c}")).collect();
                Ok(format!(
                    "SELECT nullIf(if(linked_key != 0, linked_key, bitAnd(rid, toInt64(-2))), 0) AS person{cols} \
                     FROM ({rel}) ANY LEFT JOIN \
                     (SELECT anon_key AS rid, user_key AS linked_key FROM {ids} AS i WHERE i.project_id = {p}) \
                     USING rid"
                ))
            }
            (true, false) => {
                let cols: String = cols.iter().map(|c| format!(", {c}")).collect();
                Ok(format!(
                    "SELECT if(ru = 1, rid, coalesce(nullIf(linked_user_id, ''), nullIf(rid, ''))) AS person{cols} \
                     FROM ({rel}) ANY LEFT JOIN \
                     (SELECT anonymous_id AS rid, user_id AS linked_user_id FROM {ids} AS i WHERE i.project_id = {p}) \
                     USING rid"
                ))
            }
            (false, true) => {
                let cols: String = cols.iter().map(|c| format!(", r.{c}")).collect();
                Ok(format!(
                    "SELECT nullif(coalesce(i.user_key, r.rid & -2), 0) AS person{cols} FROM ({rel}) AS r LEFT JOIN \
                     (SELECT anon_key, user_key FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                     ON i.anon_key = r.rid"
                ))
            }
            (false, false) => {
                let cols: String = cols.iter().map(|c| format!(", r.{c}")).collect();
                Ok(format!(
                    "SELECT CASE WHEN r.ru = 1 THEN r.rid ELSE coalesce(nullif(i.user_id, ''), nullif(r.rid, '')) END \
                     AS person{cols} FROM ({rel}) AS r LEFT JOIN \
                     (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                     ON i.anonymous_id = (CASE WHEN r.ru = 0 THEN r.rid END)"
                ))
            }
        }
    }
}
