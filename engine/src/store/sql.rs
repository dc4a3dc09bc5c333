//! SQL shared by the two transactional backends, DuckDB and PostgreSQL: both speak `$n`
//! parameters, `INSERT … ON CONFLICT` and `RETURNING`, so the schema and every statement but the
//! bulk insert are written once here. `{text}` in the DDL is the backend's text type (PostgreSQL
//! adds `COLLATE "C"` so that comparisons and ORDER BY are bytewise, as on DuckDB and ClickHouse).

use super::Dialect;
use super::common::{self, AUDIT_COLUMNS, EVENT_COLUMNS};

/// Schema version 1: the canonical tables of store/mod.rs. Statements separated by `;`.
/// `events_key`: whether `events` gets its PRIMARY KEY (DuckDB enforces it in the store instead).
pub fn schema_v1(text: &str, events_key: bool) -> String {
    r#"
CREATE TABLE IF NOT EXISTS events (
    project_id {text} NOT NULL,
    message_id {text} NOT NULL,
    type {text} NOT NULL,
    event {text} NOT NULL,
    ts BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    sent_at BIGINT,
    original_timestamp {text},
    anonymous_id {text},
    user_id {text},
    session_id {text},
    group_id {text},
    browser {text},
    os {text},
    device_type {text},
    is_bot BOOLEAN NOT NULL DEFAULT false,
    ip {text},
    properties {text} NOT NULL,
    traits {text} NOT NULL,
    context {text} NOT NULL{events_key}
);
CREATE TABLE IF NOT EXISTS identities (
    project_id {text} NOT NULL,
    anonymous_id {text} NOT NULL,
    user_id {text} NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, anonymous_id)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    project_id {text},
    received_at BIGINT NOT NULL,
    reason {text} NOT NULL,
    message_id {text},
    payload {text} NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    kind {text} NOT NULL,
    project_id {text} NOT NULL,
    id {text} NOT NULL,
    body {text} NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, project_id, id)
);
CREATE TABLE IF NOT EXISTS audit_log (
    id {text} PRIMARY KEY,
    project_id {text},
    "at" BIGINT NOT NULL,
    actor {text} NOT NULL,
    action {text} NOT NULL,
    target {text} NOT NULL,
    details {text} NOT NULL
)"#
    .replace("{text}", text)
    .replace(
        "{events_key}",
        if events_key {
            ",\n    PRIMARY KEY (project_id, message_id)"
        } else {
            ""
        },
    )
}

/// Schema version 2 on DuckDB, step 1: the integer identity key columns (see
/// [`common::id_key`]); the loader computes them in Rust for new rows.
pub const SCHEMA_V2_DUCKDB_COLUMNS: &str = "ALTER TABLE events ADD COLUMN IF NOT EXISTS rid_key BIGINT;
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS anon_key BIGINT;
    ALTER TABLE identities ADD COLUMN IF NOT EXISTS user_key BIGINT";

/// Schema version 2 on DuckDB, step 2: the keys of the events already stored with
/// `from <= rowid < to`, in SQL (exactly the Rust values).
pub fn backfill_events_duckdb(from: i64, to: i64) -> String {
    let d = Dialect::DuckDb;
    format!(
        "UPDATE events SET rid_key = {} WHERE rowid >= {from} AND rowid < {to} AND rid_key IS NULL",
        common::rid_key_sql(d, "user_id", "anonymous_id", &|s| common::id_key_sql(d, s)),
    )
}

/// Schema version 2 on DuckDB, step 3: the keys of the identity links already stored.
pub fn backfill_identities_duckdb() -> String {
    let d = Dialect::DuckDb;
    format!(
        "UPDATE identities SET anon_key = {}, user_key = {} WHERE anon_key IS NULL OR user_key IS NULL",
        common::id_key_sql(d, "anonymous_id"),
        common::id_key_sql(d, "user_id"),
    )
}

/// Schema version 2 on PostgreSQL: the integer identity keys (see [`common::id_key`]) as stored
/// generated columns, so that PostgreSQL computes them for every row, whoever writes it (adding
/// them rewrites the tables once: the backfill). `footfall_id_key` wraps the expression because
/// `convert_to` is only STABLE (generated columns need IMMUTABLE; the database encoding of a
/// database never changes).
pub fn schema_v2_postgres() -> String {
    let d = Dialect::Postgres;
    format!(
        "CREATE OR REPLACE FUNCTION footfall_id_key(s text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE \
         AS $$ SELECT {} $$;
         ALTER TABLE events ADD COLUMN IF NOT EXISTS rid_key BIGINT GENERATED ALWAYS AS ({}) STORED;
         ALTER TABLE identities ADD COLUMN IF NOT EXISTS anon_key BIGINT GENERATED ALWAYS AS \
         (footfall_id_key(anonymous_id)) STORED, ADD COLUMN IF NOT EXISTS user_key BIGINT GENERATED ALWAYS AS \
         (footfall_id_key(user_id)) STORED;
         CREATE INDEX IF NOT EXISTS identities_project_anon_key ON identities (project_id, anon_key)",
        common::id_key_sql(d, "s"),
        common::rid_key_sql(d, "user_id", "anonymous_id", &|s| format!("footfall_id_key({s})")),
    )
}

pub const SCHEMA_VERSION_DDL: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";
pub const SCHEMA_VERSION_CURRENT: &str = "SELECT coalesce(max(version), 0) FROM schema_version";
pub const SCHEMA_VERSION_RECORD: &str =
    "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING";

/// `ON CONFLICT` clause of the identity upsert: the earliest link wins (ties: smaller user id).
/// `also` adds assignments (DuckDB: `, user_key = excluded.user_key`; PostgreSQL generates it).
pub fn link_upsert_conflict(also: &str) -> String {
    format!(
        " ON CONFLICT (project_id, anonymous_id) DO UPDATE SET \
         user_id = excluded.user_id, linked_at = excluded.linked_at{also} \
         WHERE excluded.linked_at < identities.linked_at \
         OR (excluded.linked_at = identities.linked_at AND excluded.user_id < identities.user_id)"
    )
}

/// `$1` project, `$2` user id: the person's events (see "Erasure" in store/mod.rs).
const PERSON_FILTER: &str = "project_id = $1 AND (user_id = $2 OR anonymous_id IN \
    (SELECT anonymous_id FROM identities WHERE project_id = $1 AND user_id = $2))";

pub const LINKED_ANONYMOUS_IDS: &str =
    "SELECT anonymous_id FROM identities WHERE project_id = $1 AND user_id = $2 ORDER BY anonymous_id";

pub fn export_person() -> String {
    format!("SELECT {EVENT_COLUMNS} FROM events WHERE {PERSON_FILTER} ORDER BY ts, message_id")
}

pub fn delete_person_events() -> String {
    format!("DELETE FROM events WHERE {PERSON_FILTER}")
}

/// `$1` project, `$2` a JSON needle from `common::json_needles`.
pub const DELETE_DEAD_LETTERS_MENTIONING: &str =
    "DELETE FROM dead_letters WHERE project_id = $1 AND strpos(payload, $2) > 0";

pub const DELETE_PERSON_LINKS: &str = "DELETE FROM identities WHERE project_id = $1 AND user_id = $2";

pub const DELETE_EVENTS_BEFORE: &str = "DELETE FROM events WHERE project_id = $1 AND ts < $2";

/// `$1` project, `$2` anonymous id: the user id of its (winning) identity link.
pub const LINKED_USER: &str = "SELECT user_id FROM identities WHERE project_id = $1 AND anonymous_id = $2";

/// `$1` project, `$2` anonymous id: the events of an anonymous id that is linked to no user.
const ANONYMOUS_FILTER: &str = "project_id = $1 AND anonymous_id = $2";

pub fn export_anonymous() -> String {
    format!("SELECT {EVENT_COLUMNS} FROM events WHERE {ANONYMOUS_FILTER} ORDER BY ts, message_id")
}

pub fn delete_anonymous_events() -> String {
    format!("DELETE FROM events WHERE {ANONYMOUS_FILTER}")
}

/// Sessions retention: `$1` project, `$2` cutoff (ms). Clears the `session_id` column and
/// removes the `"sessionId":"…"` member from the context JSON text (see
/// [`common::SESSION_ID_MEMBER`]).
pub fn clear_sessions_before() -> String {
    let [first, last] = common::SESSION_ID_MEMBER;
    format!(
        "UPDATE events SET session_id = NULL, \
         context = regexp_replace(regexp_replace(context, '{first}', ''), '{last}', '') \
         WHERE project_id = $1 AND ts < $2 AND (session_id IS NOT NULL OR strpos(context, '\"sessionId\"') > 0)"
    )
}

/// Users retention: `$1` project, `$2` cutoff (ms).
pub const DELETE_LINKS_BEFORE: &str = "DELETE FROM identities WHERE project_id = $1 AND linked_at < $2";

pub const DOC_UPSERT: &str = "INSERT INTO documents (kind, project_id, id, body, updated_at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, project_id, id) DO UPDATE SET \
    body = excluded.body, updated_at = excluded.updated_at";
pub const DOC_GET: &str = "SELECT body FROM documents WHERE kind = $1 AND project_id = $2 AND id = $3";
pub const DOC_LIST: &str = "SELECT id, body FROM documents WHERE kind = $1 AND project_id = $2 ORDER BY id";
pub const DOC_DELETE: &str = "DELETE FROM documents WHERE kind = $1 AND project_id = $2 AND id = $3";

pub fn audit_insert() -> String {
    format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"
    )
}

/// `$1` project (when `by_project`), then the limit.
pub fn audit_list(by_project: bool) -> String {
    let (filter, limit) = if by_project {
        ("WHERE project_id = $1 ", "$2")
    } else {
        ("", "$1")
    };
    format!("SELECT {AUDIT_COLUMNS} FROM audit_log {filter}ORDER BY \"at\" DESC, id DESC LIMIT {limit}")
}
