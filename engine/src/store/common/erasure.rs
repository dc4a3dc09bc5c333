//! What the backends' erasure and export share: a person's ids, the report of an unlinked
//! anonymous id, the needles that find dead letters, and the session id member of a context.

use serde_json::Value;

use super::first_column_texts;
use crate::store::{EraseReport, QueryResult, Store, StoreError};

/// Regular expressions (RE2 and PostgreSQL syntax alike) matching a context's
/// `"sessionId":"…"` member in compact JSON text: followed by another member, else the last one
/// (with its leading comma). Replacing the first, then the second, with nothing removes it and
/// leaves valid JSON. Collectors used to keep the session id in the context as well as in the
/// `session_id` column; sessions retention removes both.
pub const SESSION_ID_MEMBER: [&str; 2] = [
    r#""sessionId":"(?:[^"\\]|\\.)*","#,
    r#",?"sessionId":"(?:[^"\\]|\\.)*""#,
];

/// [`Store::erase_anonymous`] where the link is read apart from the erasure (PostgreSQL,
/// ClickHouse; DuckDB reads it under its writer lock): an anonymous id linked to a user is
/// erased as that person ([`Store::erase_person`], all their ids), else `unlinked` erases the
/// id's own events.
pub async fn erase_anonymous_or_person<S, F, Fut>(
    store: &S,
    project_id: &str,
    anonymous_id: &str,
    unlinked: F,
) -> Result<EraseReport, StoreError>
where
    S: Store + ?Sized,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<EraseReport, StoreError>>,
{
    match store.linked_user(project_id, anonymous_id).await? {
        Some(user_id) => store.erase_person(project_id, &user_id).await,
        None => unlinked().await,
    }
}

/// A person's ids, as erasure and export use them: `user_id` first, then the anonymous ids
/// linked to it (`linked`: one per row, first column; e.g. [`crate::store::sql::LINKED_ANONYMOUS_IDS`]).
pub fn person_ids(user_id: &str, linked: QueryResult) -> Vec<String> {
    let mut ids = vec![user_id.to_string()];
    ids.extend(first_column_texts(linked));
    ids
}

/// The report of erasing an anonymous id linked to no user.
pub fn anonymous_erase_report(anonymous_id: &str, events_deleted: u64) -> EraseReport {
    EraseReport {
        events_deleted,
        identity_links_deleted: 0,
        ids: vec![anonymous_id.to_string()],
    }
}

/// Strings that identify a dead letter as belonging to one of `ids`: each id as a JSON string
/// (with its quotes), as it appears in a message payload.
pub fn json_needles(ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| Value::String(id.clone()).to_string())
        .collect()
}
