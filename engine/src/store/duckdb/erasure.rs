//! Erasure, run on the writer with the intake log held (see "Write path" in the module doc): the
//! events (their keys forgotten by the dedupe set), the dead letters that mention the person's
//! ids and the identity links, in one transaction.

use ::duckdb::{Connection, ToSql, params};

use super::blocking::query_blocking;
use super::keys::{self, KeySet};
use super::{Writer, err};
use crate::store::{EraseReport, StoreError, common, sql};

/// Runs a `DELETE … RETURNING project_id, message_id` in `tx` and forgets the deleted keys.
pub(super) fn delete_events(
    tx: &::duckdb::Transaction<'_>,
    keys: &mut Option<KeySet>,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<u64, StoreError> {
    let mut stmt = tx
        .prepare(&format!("{sql} RETURNING project_id, message_id"))
        .map_err(err)?;
    let deleted: Vec<(String, String)> = stmt
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    if let Some(set) = keys.as_mut() {
        for (p, m) in &deleted {
            set.remove(&keys::key(p, m));
        }
    }
    Ok(deleted.len() as u64)
}

pub(super) fn erase_blocking(
    w: &mut Writer,
    keys: &mut Option<KeySet>,
    project_id: &str,
    user_id: &str,
) -> Result<EraseReport, StoreError> {
    let tx = w.conn.transaction().map_err(err)?;
    let anon = query_blocking(&tx, sql::LINKED_ANONYMOUS_IDS, &[&project_id, &user_id])?;
    let ids = common::person_ids(user_id, anon);
    let events_deleted = delete_events(&tx, keys, &sql::delete_person_events(), &[&project_id, &user_id])?;
    let dead_letters = delete_dead_letters_mentioning(&tx, project_id, &ids)?;
    let links = tx
        .execute(sql::DELETE_PERSON_LINKS, params![project_id, user_id])
        .map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::info!(
        project_id,
        events_deleted,
        links,
        dead_letters,
        "duckdb: person erased"
    );
    Ok(EraseReport {
        events_deleted,
        identity_links_deleted: links as u64,
        ids,
    })
}

/// The user id of an anonymous id's identity link, read inside `tx`.
pub(super) fn linked_user_in(
    tx: &Connection,
    project_id: &str,
    anonymous_id: &str,
) -> Result<Option<String>, StoreError> {
    let r = query_blocking(tx, sql::LINKED_USER, &[&project_id, &anonymous_id])?;
    Ok(common::first_text(r))
}

/// [`Store::erase_anonymous`](crate::store::Store::erase_anonymous): the linked user's erasure, or the anonymous id's own events, under
/// the writer lock (no write can link the id in between).
pub(super) fn erase_anonymous_blocking(
    w: &mut Writer,
    keys: &mut Option<KeySet>,
    project_id: &str,
    anonymous_id: &str,
) -> Result<EraseReport, StoreError> {
    if let Some(user_id) = linked_user_in(&w.conn, project_id, anonymous_id)? {
        return erase_blocking(w, keys, project_id, &user_id);
    }
    let tx = w.conn.transaction().map_err(err)?;
    let events_deleted = delete_events(
        &tx,
        keys,
        &sql::delete_anonymous_events(),
        &[&project_id, &anonymous_id],
    )?;
    let dead_letters = delete_dead_letters_mentioning(&tx, project_id, &[anonymous_id.to_string()])?;
    tx.commit().map_err(err)?;
    tracing::info!(
        project_id,
        events_deleted,
        dead_letters,
        "duckdb: anonymous person erased"
    );
    Ok(common::anonymous_erase_report(anonymous_id, events_deleted))
}

/// Deletes the project's dead letters whose payload mentions any of `ids` (erasure), in `tx`;
/// returns how many.
fn delete_dead_letters_mentioning(
    tx: &::duckdb::Transaction<'_>,
    project_id: &str,
    ids: &[String],
) -> Result<usize, StoreError> {
    let mut deleted = 0;
    for needle in common::json_needles(ids) {
        deleted += tx
            .execute(sql::DELETE_DEAD_LETTERS_MENTIONING, params![project_id, needle])
            .map_err(err)?;
    }
    Ok(deleted)
}
