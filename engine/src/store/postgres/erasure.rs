//! Erasure: one transaction per person (the events, the dead letters that mention any of their
//! ids, the identity links).

use deadpool_postgres::GenericClient;

use super::values::select_in;
use super::{PostgresStore, pg_err};
use crate::store::{EraseReport, StoreError, common, sql};

impl PostgresStore {
    /// [`Store::erase_person`](crate::store::Store::erase_person), without the timeout around it.
    pub(super) async fn erase_person_in_tx(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<EraseReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let anon = select_in(&tx, sql::LINKED_ANONYMOUS_IDS, &[&project_id, &user_id], true).await?;
        let ids = common::person_ids(user_id, anon);
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
    }

    /// [`Store::erase_anonymous`](crate::store::Store::erase_anonymous) of an id linked to no
    /// user (see [`common::erase_anonymous_or_person`]), without the timeout around it.
    pub(super) async fn erase_unlinked_anonymous_in_tx(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<EraseReport, StoreError> {
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
    }
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
