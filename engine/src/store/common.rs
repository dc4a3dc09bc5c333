//! Backend-independent pieces of the storage layer: batch preparation (in-batch dedupe, link
//! reduction), row decoding from [`QueryResult`] values, value formatting and clocks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sha2::Digest;

use super::{AuditEntry, EraseReport, EventRow, IdentityLink, QueryResult, Store, StoreError};

/// Column list of `events` in canonical order (the order of [`EventRow`]'s fields).
pub const EVENT_COLUMNS: &str = "project_id, message_id, type, event, ts, received_at, sent_at, \
    original_timestamp, anonymous_id, user_id, session_id, group_id, browser, os, device_type, is_bot, ip, \
    properties, traits, context";

/// # Integer identity keys
///
/// Person-level queries group millions of events by their raw identity (the user id, else the
/// anonymous id). Grouping by a 64-bit integer instead of the string is 3–4× cheaper (the whole
/// query 1.4–2.4× at 10M events) and spares the scan the id strings, so every backend stores integer keys beside the strings:
/// `events.rid_key` ([`rid_key`]) and `identities.anon_key` / `identities.user_key`
/// ([`id_key`] of `anonymous_id` / `user_id`).
///
/// `id_key(s)` is the first 8 bytes of SHA-256(UTF-8 of `s`) as a big-endian signed integer
/// with bit 1 set and bit 0 cleared: even and never 0. SHA-256 (the `sha2` crate, RustCrypto) is
/// a fixed standard, so the value is the same on every version and platform, and every backend
/// computes it natively too (DuckDB `sha256`, PostgreSQL `sha256`, ClickHouse `SHA256`): the
/// migrations backfill old rows in SQL with exactly the Rust value ([`id_key_sql`]), and
/// PostgreSQL / ClickHouse compute the columns themselves (generated / `MATERIALIZED`), so no
/// writer, old or new, can store a different or missing key.
///
/// `rid_key` is `id_key(user_id) | 1` when the event has a non-empty user id, else
/// `id_key(anonymous_id)` when it has a non-empty anonymous id, else 0 (no person). Bit 0 tells
/// a user id from an anonymous id (a user event never matches an identity link's `anon_key`),
/// and `rid_key & -2` is the key of the raw id's string: the key of a resolved person is always
/// `id_key(person)`, whichever way it was reached. Two different ids share a key with
/// probability 2⁻⁶² per pair (≈ n²/2⁶³ over n ids: 10⁻⁷ at a million, 10⁻³ at 100 million);
/// queries that must be exact for one named person compare the strings too.
pub fn id_key(s: &str) -> i64 {
    let digest = sha2::Sha256::digest(s.as_bytes());
    let h = i64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"));
    (h & -4) | 2
}

/// The raw-identity key of an event (see [`id_key`]).
pub fn rid_key(user_id: Option<&str>, anonymous_id: Option<&str>) -> i64 {
    match (user_id, anonymous_id) {
        (Some(u), _) if !u.is_empty() => id_key(u) | 1,
        (_, Some(a)) if !a.is_empty() => id_key(a),
        _ => 0,
    }
}

/// [`id_key`] of the text expression `s` (never NULL) in SQL of `dialect`.
pub fn id_key_sql(dialect: super::Dialect, s: &str) -> String {
    use super::Dialect;
    let h = match dialect {
        Dialect::DuckDb => {
            let u = format!("CAST(('0x' || substr(sha256({s}), 1, 16)) AS UBIGINT)");
            format!(
                "CAST(CASE WHEN {u} >= 9223372036854775808 THEN CAST({u} AS HUGEINT) - 18446744073709551616 \
                 ELSE {u} END AS BIGINT)"
            )
        }
        Dialect::Postgres => {
            format!("('x' || substr(encode(sha256(convert_to({s}, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint")
        }
        Dialect::ClickHouse => format!("reinterpretAsInt64(reverse(substring(SHA256({s}), 1, 8)))"),
    };
    match dialect {
        Dialect::ClickHouse => format!("bitOr(bitAnd({h}, toInt64(-4)), toInt64(2))"),
        _ => format!("(({h} & -4) | 2)"),
    }
}

/// [`rid_key`] of the columns `user_id` and `anonymous_id` (text, nullable) in SQL of `dialect`,
/// `key` giving the SQL of [`id_key`] of a text expression (e.g. [`id_key_sql`]).
pub fn rid_key_sql(
    dialect: super::Dialect,
    user_id: &str,
    anonymous_id: &str,
    key: &dyn Fn(&str) -> String,
) -> String {
    use super::Dialect;
    let (u, a) = match dialect {
        Dialect::ClickHouse => (
            format!("ifNull({user_id}, '')"),
            format!("ifNull({anonymous_id}, '')"),
        ),
        _ => (
            format!("coalesce({user_id}, '')"),
            format!("coalesce({anonymous_id}, '')"),
        ),
    };
    let (uk, ak) = (key(&u), key(&a));
    match dialect {
        Dialect::ClickHouse => {
            format!("if({u} != '', bitOr({uk}, toInt64(1)), if({a} != '', {ak}, toInt64(0)))")
        }
        _ => format!("(CASE WHEN {u} <> '' THEN {uk} | 1 WHEN {a} <> '' THEN {ak} ELSE 0 END)"),
    }
}

/// Column list of `audit_log` in [`AuditEntry`] order.
pub const AUDIT_COLUMNS: &str = "id, project_id, \"at\", actor, action, target, details";

/// Splits a batch's events into the first occurrence of each (project_id, message_id) (indexes,
/// in batch order) and the indexes of later copies within the batch (in-batch duplicates).
pub fn split_in_batch_duplicates(events: &[EventRow]) -> (Vec<usize>, Vec<usize>) {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(events.len());
    let mut firsts = Vec::with_capacity(events.len());
    let mut dups = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if seen.insert((e.project_id.as_str(), e.message_id.as_str())) {
            firsts.push(i);
        } else {
            dups.push(i);
        }
    }
    (firsts, dups)
}

/// Whether link `a` beats link `b` for the same (project_id, anonymous_id): earlier `linked_at`,
/// ties broken by the bytewise smaller `user_id`.
pub fn link_wins(a: &IdentityLink, b: &IdentityLink) -> bool {
    (a.linked_at, a.user_id.as_bytes()) < (b.linked_at, b.user_id.as_bytes())
}

/// Keeps the winning link per (project_id, anonymous_id), sorted by that key (a stable lock
/// order for concurrent upserts). Links with an empty anonymous or user id are dropped.
pub fn reduce_links(links: &[IdentityLink]) -> Vec<IdentityLink> {
    let mut best: HashMap<(&str, &str), &IdentityLink> = HashMap::new();
    for l in links
        .iter()
        .filter(|l| !l.anonymous_id.is_empty() && !l.user_id.is_empty())
    {
        best.entry((l.project_id.as_str(), l.anonymous_id.as_str()))
            .and_modify(|cur| {
                if link_wins(l, cur) {
                    *cur = l;
                }
            })
            .or_insert(l);
    }
    let mut out: Vec<IdentityLink> = best.into_values().cloned().collect();
    out.sort_by(|a, b| (&a.project_id, &a.anonymous_id).cmp(&(&b.project_id, &b.anonymous_id)));
    out
}

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
/// linked to it (`linked`: one per row, first column; e.g. [`super::sql::LINKED_ANONYMOUS_IDS`]).
pub fn person_ids(user_id: &str, linked: QueryResult) -> Vec<String> {
    let mut ids = vec![user_id.to_string()];
    ids.extend(first_column_texts(linked));
    ids
}

/// The first column of every row that holds text there, in row order.
pub fn first_column_texts(r: QueryResult) -> impl Iterator<Item = String> {
    r.rows
        .into_iter()
        .filter_map(|row| row.into_iter().next()?.as_str().map(str::to_string))
}

/// The first column of the first row, as text.
pub fn first_text(r: QueryResult) -> Option<String> {
    r.rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next()?.as_str().map(str::to_string))
}

/// The report of erasing an anonymous id linked to no user.
pub fn anonymous_erase_report(anonymous_id: &str, events_deleted: u64) -> super::EraseReport {
    super::EraseReport {
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

fn col<'a>(row: &'a [Value], i: usize, what: &str) -> Result<&'a Value, StoreError> {
    row.get(i)
        .ok_or_else(|| StoreError::Query(format!("{what}: missing column {i}")))
}

fn text(row: &[Value], i: usize, what: &str) -> Result<String, StoreError> {
    match col(row, i, what)? {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

fn opt_text(row: &[Value], i: usize, what: &str) -> Result<Option<String>, StoreError> {
    match col(row, i, what)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Ok(Some(other.to_string())),
    }
}

fn opt_int(row: &[Value], i: usize, what: &str) -> Result<Option<i64>, StoreError> {
    match col(row, i, what)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| StoreError::Query(format!("{what}: column {i} is not an integer: {n}"))),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Query(format!("{what}: column {i} is not an integer: {s:?}"))),
        other => Err(StoreError::Query(format!(
            "{what}: column {i} is not an integer: {other}"
        ))),
    }
}

fn int(row: &[Value], i: usize, what: &str) -> Result<i64, StoreError> {
    opt_int(row, i, what)?.ok_or_else(|| StoreError::Query(format!("{what}: column {i} is null")))
}

/// Decodes a row selected with [`EVENT_COLUMNS`].
pub fn event_from_values(row: &[Value]) -> Result<EventRow, StoreError> {
    const W: &str = "events row";
    Ok(EventRow {
        project_id: text(row, 0, W)?,
        message_id: text(row, 1, W)?,
        kind: text(row, 2, W)?,
        event: text(row, 3, W)?,
        ts: int(row, 4, W)?,
        received_at: int(row, 5, W)?,
        sent_at: opt_int(row, 6, W)?,
        original_timestamp: opt_text(row, 7, W)?,
        anonymous_id: opt_text(row, 8, W)?,
        user_id: opt_text(row, 9, W)?,
        session_id: opt_text(row, 10, W)?,
        group_id: opt_text(row, 11, W)?,
        browser: opt_text(row, 12, W)?,
        os: opt_text(row, 13, W)?,
        device_type: opt_text(row, 14, W)?,
        is_bot: int(row, 15, W)? != 0,
        ip: opt_text(row, 16, W)?,
        properties: text(row, 17, W)?,
        traits: text(row, 18, W)?,
        context: text(row, 19, W)?,
    })
}

/// Decodes a row selected with [`AUDIT_COLUMNS`].
pub fn audit_from_values(row: &[Value]) -> Result<AuditEntry, StoreError> {
    const W: &str = "audit_log row";
    Ok(AuditEntry {
        id: text(row, 0, W)?,
        project_id: opt_text(row, 1, W)?,
        at: int(row, 2, W)?,
        actor: text(row, 3, W)?,
        action: text(row, 4, W)?,
        target: text(row, 5, W)?,
        details: parse_json(&text(row, 6, W)?, W)?,
    })
}

/// Parses a stored JSON text column.
pub fn parse_json(s: &str, what: &str) -> Result<Value, StoreError> {
    if s.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(s).map_err(|e| StoreError::Query(format!("{what}: stored JSON is invalid: {e}")))
}

/// A float as a JSON value (NaN and infinities, which JSON cannot hold, become null).
pub fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A 128-bit integer as a JSON integer when it fits in i64, else as a float.
pub fn wide_int_value(v: i128) -> Value {
    i64::try_from(v)
        .map(Value::from)
        .unwrap_or_else(|_| float_value(v as f64))
}

/// A decimal's text (`-12.50`, `3`) as a JSON integer when its scale is 0, else a float.
pub fn decimal_text_value(s: &str, scale: u32) -> Value {
    if let (0, Ok(i)) = (scale, s.parse::<i64>()) {
        return Value::from(i);
    }
    s.parse::<f64>()
        .map(float_value)
        .unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn date_text(days_since_epoch: i64) -> String {
    chrono::DateTime::from_timestamp(days_since_epoch * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| days_since_epoch.to_string())
}

/// Microseconds since 1970-01-01 UTC as `YYYY-MM-DD HH:MM:SS`, with `.ffffff` when not whole.
pub fn timestamp_text(micros_since_epoch: i64) -> String {
    let secs = micros_since_epoch.div_euclid(1_000_000);
    let micros = micros_since_epoch.rem_euclid(1_000_000);
    match chrono::DateTime::from_timestamp(secs, (micros * 1000) as u32) {
        Some(d) if micros == 0 => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(d) => d.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => micros_since_epoch.to_string(),
    }
}

/// Current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A strictly increasing version number for this process (nanoseconds since the epoch, bumped on
/// ties), used for last-write-wins rows on ClickHouse.
pub fn next_version() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// `location` with any URL password replaced by `***`, for error messages and logs.
pub fn redact_location(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let redacted = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            out.push_str(&format!("{redacted}@{host}"));
        }
        None => out.push_str(authority),
    }
    // Query parameters named password=… are hidden too.
    let tail: Vec<String> = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((pre, _)) if pre.is_empty() || pre.ends_with('?') => format!("{pre}password=***"),
            _ => part.to_string(),
        })
        .collect();
    out.push_str(&tail.join("&"));
    out
}

/// The body of a `DOC_GET` result, if any.
pub fn document_from(r: QueryResult) -> Result<Option<Value>, StoreError> {
    match r.rows.first().and_then(|row| row.first()) {
        Some(Value::String(body)) => parse_json(body, "documents.body").map(Some),
        _ => Ok(None),
    }
}

/// (id, body) pairs from a `DOC_LIST` result, in bytewise id order.
pub fn documents_from(r: QueryResult) -> Result<Vec<(String, Value)>, StoreError> {
    let mut docs = r
        .rows
        .into_iter()
        .map(|row| {
            let mut it = row.into_iter();
            let id = it
                .next()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let body = it
                .next()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            Ok((id, parse_json(&body, "documents.body")?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    docs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(anon: &str, user: &str, at: i64) -> IdentityLink {
        IdentityLink {
            project_id: "p".into(),
            anonymous_id: anon.into(),
            user_id: user.into(),
            linked_at: at,
        }
    }

    #[test]
    fn reduce_links_keeps_earliest_then_smallest_user() {
        let out = reduce_links(&[
            link("a", "u2", 5),
            link("a", "u1", 7),
            link("b", "z", 3),
            link("b", "y", 3),
        ]);
        assert_eq!(out, vec![link("a", "u2", 5), link("b", "y", 3)]);
    }

    #[test]
    fn identity_keys_are_sha256_prefixes() {
        // Reference values: Python `struct.unpack('>q', hashlib.sha256(s.encode()).digest()[:8])`,
        // then bit 1 set and bit 0 cleared.
        let reference: [(&str, i64); 4] = [
            ("bob", -9100024591961372966),
            ("", -2039914840885289964),
            ("héllo", 4343819824053979717),
            ("a:x", -1189437735768050955),
        ];
        for (s, h) in reference {
            assert_eq!(id_key(s), (h & -4) | 2, "{s:?}");
            assert_eq!(id_key(s) & 3, 2, "even, never 0: {s:?}");
        }
        assert_ne!(id_key("bob"), id_key("bob "));
    }

    #[test]
    fn raw_identity_key_separates_user_and_anonymous_ids() {
        // A user id's key is odd, an anonymous id's even: the same string as a user id and as
        // an anonymous id gives two raw keys that differ only in bit 0 (the person's key).
        assert_eq!(rid_key(Some("x"), Some("a1")), id_key("x") | 1);
        assert_eq!(rid_key(None, Some("x")), id_key("x"));
        assert_ne!(rid_key(Some("x"), None), rid_key(None, Some("x")));
        assert_eq!(rid_key(Some("x"), None) & -2, rid_key(None, Some("x")));
        // An empty user id is no user id; no id at all is no person.
        assert_eq!(rid_key(Some(""), Some("a1")), id_key("a1"));
        assert_eq!(rid_key(Some(""), Some("")), 0);
        assert_eq!(rid_key(None, None), 0);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_location("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(
            redact_location("http://h:8123/db?user=a&password=x"),
            "http://h:8123/db?user=a&password=***"
        );
        assert_eq!(redact_location("/var/lib/footfall"), "/var/lib/footfall");
    }

    #[test]
    fn formats_dates_and_timestamps() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(
            timestamp_text(86_400_000_000 + 1_500_000),
            "1970-01-02 00:00:01.500000"
        );
        assert_eq!(timestamp_text(-1_000_000), "1969-12-31 23:59:59");
    }
}
