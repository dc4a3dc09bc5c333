//! Erasure and retention: `ALTER TABLE … DELETE` / `UPDATE` mutations (nullable columns wrapped
//! in `ifNull`), then polling `system.mutations` until they are done (18.16 has no
//! `mutations_sync`); and the person predicates that the exports share.

use std::time::{Duration, Instant};

use super::http::{list, lit};
use super::write::LOOKUP_CHUNK;
use super::{ClickHouseStore, IDENTITIES_RELATION};
use crate::store::common::{self, EVENT_COLUMNS};
use crate::store::{EraseReport, EventRow, StoreError};

impl ClickHouseStore {
    /// Waits until no mutation of this database is pending.
    async fn wait_for_mutations(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.mutation_timeout;
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND is_done = 0",
            lit(&self.database)
        );
        let mut pause = Duration::from_millis(20);
        while self.count(&sql).await? > 0 {
            if Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "clickhouse: delete mutations in {} still running after {:?}; they continue in the background",
                    self.database, self.mutation_timeout
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Ok(())
    }

    /// The person's ids (user id first) and the predicate selecting their events.
    pub(super) async fn person(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<(Vec<String>, String), StoreError> {
        let sql = format!(
            "SELECT anonymous_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND user_id = {} ORDER BY anonymous_id",
            lit(project_id),
            lit(user_id)
        );
        let ids = common::person_ids(user_id, self.select(&sql).await?);
        let mut filter = format!(
            "project_id = {} AND (ifNull(user_id, '') = {}",
            lit(project_id),
            lit(user_id)
        );
        if ids.len() > 1 {
            filter.push_str(&format!(" OR ifNull(anonymous_id, '') IN ({})", list(&ids[1..])));
        }
        filter.push(')');
        Ok((ids, filter))
    }

    /// The events matching `filter`, oldest first (exports).
    pub(super) async fn events_where(&self, filter: &str) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events FINAL WHERE {filter} ORDER BY ts, message_id");
        self.select_within(&sql, self.timeouts.query)
            .await?
            .rows
            .iter()
            .map(|r| common::event_from_values(r))
            .collect()
    }

    pub(super) async fn erase_person_by_mutation(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<EraseReport, StoreError> {
        let (ids, filter) = self.person(project_id, user_id).await?;
        let events_deleted = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
            .await?;
        let links = format!(
            "project_id = {} AND (user_id = {} OR anonymous_id IN ({}))",
            lit(project_id),
            lit(user_id),
            list(&ids)
        );
        self.execute(&format!("ALTER TABLE identities DELETE WHERE {links}"))
            .await?;
        let mentions: Vec<String> = common::json_needles(&ids)
            .iter()
            .map(|n| format!("position(payload, {}) > 0", lit(n)))
            .collect();
        self.execute(&format!(
            "ALTER TABLE dead_letters DELETE WHERE ifNull(project_id, '') = {} AND ({})",
            lit(project_id),
            mentions.join(" OR ")
        ))
        .await?;
        self.wait_for_mutations().await?;
        tracing::info!(
            project_id,
            events_deleted,
            links = ids.len() - 1,
            "clickhouse: person erased"
        );
        Ok(EraseReport {
            events_deleted,
            identity_links_deleted: (ids.len() - 1) as u64,
            ids,
        })
    }

    pub(super) async fn delete_events_by_mutation(
        &self,
        project_id: &str,
        cutoff_ms: i64,
    ) -> Result<u64, StoreError> {
        let filter = format!("project_id = {} AND ts < {cutoff_ms}", lit(project_id));
        let n = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        if n > 0 {
            self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
                .await?;
            self.wait_for_mutations().await?;
        }
        Ok(n)
    }

    /// [`Store::erase_anonymous`](crate::store::Store::erase_anonymous) of an id linked to no
    /// user (see [`common::erase_anonymous_or_person`]).
    pub(super) async fn erase_unlinked_anonymous_by_mutation(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<EraseReport, StoreError> {
        let filter = anonymous_filter(project_id, anonymous_id);
        let events_deleted = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        self.execute(&format!("ALTER TABLE events DELETE WHERE {filter}"))
            .await?;
        let needle = &common::json_needles(&[anonymous_id.to_string()])[0];
        self.execute(&format!(
            "ALTER TABLE dead_letters DELETE WHERE ifNull(project_id, '') = {} AND position(payload, {}) > 0",
            lit(project_id),
            lit(needle)
        ))
        .await?;
        self.wait_for_mutations().await?;
        tracing::info!(project_id, events_deleted, "clickhouse: anonymous person erased");
        Ok(common::anonymous_erase_report(anonymous_id, events_deleted))
    }

    pub(super) async fn clear_sessions_by_mutation(
        &self,
        project_id: &str,
        cutoff_ms: i64,
    ) -> Result<u64, StoreError> {
        let filter = format!(
            "project_id = {} AND ts < {cutoff_ms} AND (isNotNull(session_id) OR position(context, '\"sessionId\"') > 0)",
            lit(project_id)
        );
        let n = self
            .count(&format!("SELECT count() FROM events FINAL WHERE {filter}"))
            .await?;
        if n > 0 {
            let [first, last] = common::SESSION_ID_MEMBER;
            self.execute(&format!(
                "ALTER TABLE events UPDATE session_id = NULL, \
                 context = replaceRegexpOne(replaceRegexpOne(context, {}, ''), {}, '') WHERE {filter}",
                lit(first),
                lit(last)
            ))
            .await?;
            self.wait_for_mutations().await?;
        }
        Ok(n)
    }

    pub(super) async fn delete_identities_by_mutation(
        &self,
        project_id: &str,
        cutoff_ms: i64,
    ) -> Result<u64, StoreError> {
        // Every row of an anonymous id whose winning (earliest) link is older than the cutoff:
        // deleting only the old rows would promote a later, losing link.
        let sql = format!(
            "SELECT anonymous_id FROM {IDENTITIES_RELATION} WHERE project_id = {} AND linked_at < {cutoff_ms}",
            lit(project_id)
        );
        let ids: Vec<String> = common::first_column_texts(self.select(&sql).await?).collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            self.execute(&format!(
                "ALTER TABLE identities DELETE WHERE project_id = {} AND anonymous_id IN ({})",
                lit(project_id),
                list(chunk)
            ))
            .await?;
        }
        if !ids.is_empty() {
            self.wait_for_mutations().await?;
        }
        Ok(ids.len() as u64)
    }
}

/// The events of an anonymous id linked to no user (nullable column wrapped for mutations).
pub(super) fn anonymous_filter(project_id: &str, anonymous_id: &str) -> String {
    format!(
        "project_id = {} AND ifNull(anonymous_id, '') = {}",
        lit(project_id),
        lit(anonymous_id)
    )
}
