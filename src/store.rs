//! Persistence: the [`Store`] trait the host implements, and what the core persists.
//!
//! The core persists three things:
//! - [`PersistedState`]: the anonymous id, the identified user id, the current session and the
//!   user's explicit consent choices. Small; saved whole whenever it changes (session activity at
//!   most every [`STATE_SAVE_INTERVAL_MS`]).
//! - the delivery queue, as [`StoredMessage`] records: appended when a message is enqueued and
//!   removed once it is delivered or dropped. Each record holds the final serialized message with
//!   its `messageId`, so a message restored after a restart is re-sent byte-for-byte (exactly once
//!   from the collector's point of view, which de-duplicates on `messageId`). When the privacy
//!   team's settings change, queued messages that must change are rewritten in place
//!   ([`Store::replace`]).
//! - the last known server privacy settings ([`Store::save_settings`], a small JSON record), so
//!   an offline start obeys them (see [`crate::settings_fetch`]).
//!
//! Events waiting for a consent decision are never persisted, and nothing of a denied category is
//! ever written. Every operation is synchronous (the browser's `localStorage` is). A failing store
//! never fails `track()`: the core counts the error in [`crate::Stats::store_errors`], logs a
//! warning, and keeps going in memory.
//!
//! Implementations: [`NullStore`] (memory only), `native::FileStore` (append log in a data dir),
//! `testing::MemoryStore`, and the browser bindings' `localStorage` store.

use crate::json::read::{Read, Slot, Table, fields, problem};
use crate::json::{Map, Value, push_u64, write_str};
use crate::map::NameMap;
use crate::platform::MaybeSend;

/// How often, at most, session activity alone causes a state save (ms). Identity, session id and
/// consent changes are saved immediately.
pub const STATE_SAVE_INTERVAL_MS: u64 = 10_000;

/// A queued message as persisted: the serialized message (without `sentAt`) plus what the queue
/// needs to manage it without parsing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct StoredMessage {
    pub message_id: String,
    /// Consent category (`context.category`, default `analytics`).
    pub category: String,
    /// When it was enqueued (ms since the epoch); `delivery.max_age` counts from here.
    pub enqueued_at: u64,
    /// The message as JSON, without `sentAt` (added per send attempt).
    pub json: String,
}

/// A [`StoredMessage`] borrowed from the queue, as handed to [`Store::append`]. Serializes
/// to the same JSON as `StoredMessage`, so a store can write this and read back that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "camelCase"))]
pub struct StoredMessageRef<'a> {
    pub message_id: &'a str,
    pub category: &'a str,
    pub enqueued_at: u64,
    pub json: &'a str,
}

impl StoredMessage {
    /// This message borrowed, as [`Store::append`] and [`Store::replace`] take it.
    pub fn borrowed(&self) -> StoredMessageRef<'_> {
        StoredMessageRef {
            message_id: &self.message_id,
            category: &self.category,
            enqueued_at: self.enqueued_at,
            json: &self.json,
        }
    }
}

impl StoredMessageRef<'_> {
    pub fn to_owned(&self) -> StoredMessage {
        StoredMessage {
            message_id: self.message_id.to_string(),
            category: self.category.to_string(),
            enqueued_at: self.enqueued_at,
            json: self.json.to_string(),
        }
    }
}

/// The session the core is in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct SessionState {
    pub id: String,
    /// Session start, ms since the epoch.
    pub started_at: u64,
    /// Last event in this session, ms since the epoch.
    pub last_activity: u64,
}

/// Identity, session and consent choices: everything but the queue. Stores write it as JSON
/// with [`PersistedState::to_json`] and read it with [`PersistedState::from_json`]:
/// `{"anonymousId":…,"userId":…,"session":{"id","startedAt","lastActivity"},"consent":{…}}`.
/// This is version 1 (pinned by `tests/fixtures/persisted/v1`); it carries no version field (its
/// absence means 1) and readers ignore fields they do not know, so a newer version may add some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase", default)
)]
pub struct PersistedState {
    pub anonymous_id: Option<String>,
    pub user_id: Option<String>,
    pub session: Option<SessionState>,
    /// Explicit consent choices (category → granted). Signals (GPC/DNT) are not persisted: the
    /// host reports them on every start.
    pub consent: NameMap<bool>,
}

impl PersistedState {
    /// The state as JSON (absent fields left out).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(160);
        out.push('{');
        let mut sep = "";
        let mut field = |out: &mut String, key: &str| {
            out.push_str(sep);
            sep = ",";
            write_str(out, key);
            out.push(':');
        };
        if let Some(a) = &self.anonymous_id {
            field(&mut out, "anonymousId");
            write_str(&mut out, a);
        }
        if let Some(u) = &self.user_id {
            field(&mut out, "userId");
            write_str(&mut out, u);
        }
        if let Some(s) = &self.session {
            field(&mut out, "session");
            out.push_str("{\"id\":");
            write_str(&mut out, &s.id);
            out.push_str(",\"startedAt\":");
            push_u64(&mut out, s.started_at);
            out.push_str(",\"lastActivity\":");
            push_u64(&mut out, s.last_activity);
            out.push('}');
        }
        field(&mut out, "consent");
        crate::json::write_bool_map(&mut out, &self.consent);
        out.push('}');
        out
    }

    /// Reads what [`PersistedState::to_json`] wrote (unknown fields are ignored, so a newer
    /// version's state still loads). The error names the bad field.
    pub fn from_json(text: &str) -> Result<PersistedState, String> {
        let value = crate::json::parse(text).map_err(|e| e.message())?;
        read_state(value).map_err(|e| e.message())
    }
}

fn read_state(value: Value) -> Read<PersistedState> {
    let mut state = PersistedState::default();
    // The session's members are read by the same pass; a session without an id (absent, `null`
    // or `{}`) is none.
    let mut st = SessionState {
        id: String::new(),
        started_at: 0,
        last_activity: 0,
    };
    let choices = &mut state.consent;
    let mut choice = |category: &str, granted: Value| -> Read<()> {
        let granted = granted
            .as_bool()
            .ok_or_else(|| problem("", "expected a boolean"))?;
        choices.insert(category.to_string(), granted);
        Ok(())
    };
    fields(
        value,
        "state",
        &["anonymousId", "userId", "session", "consent"],
        &mut [
            Slot::OptStr(&mut state.anonymous_id),
            Slot::OptStr(&mut state.user_id),
            Slot::Fields(&mut Table(
                &["id", "startedAt", "lastActivity"],
                &mut [
                    Slot::Str(&mut st.id),
                    Slot::U64(&mut st.started_at),
                    Slot::U64(&mut st.last_activity),
                ],
            )),
            Slot::Each(&mut choice),
        ],
        Some(&mut Map::new()), // newer versions' fields are ignored
    )?;
    if !st.id.is_empty() {
        state.session = Some(st);
    }
    Ok(state)
}

/// What a store hands back at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    pub state: Option<PersistedState>,
    /// Queued messages in enqueue order.
    pub messages: Vec<StoredMessage>,
    /// Problems the store worked around (torn or corrupt records skipped, unreadable state).
    pub warnings: Vec<String>,
    /// The last record given to [`Store::save_settings`], if the store keeps one.
    pub settings: Option<String>,
}

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    /// `"store: <detail>"` (what `Display` shows).
    pub fn message(&self) -> String {
        String::from("store: ") + &self.0
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for StoreError {}

/// Synchronous persistence for the core. See the module docs for what is stored when.
pub trait Store: MaybeSend {
    /// Everything persisted, called once when the core starts. Corrupt data is skipped and
    /// reported in [`Restored::warnings`], never returned as an error unless nothing can be read.
    fn load(&mut self) -> Result<Restored, StoreError>;
    /// Replaces the persisted state.
    fn save_state(&mut self, state: &PersistedState) -> Result<(), StoreError>;
    /// Appends newly queued messages (in order).
    fn append(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError>;
    /// Forgets messages (delivered, dropped or purged) by `messageId`.
    fn remove(&mut self, message_ids: &[&str]) -> Result<(), StoreError>;
    /// Replaces persisted messages by new versions with the same `messageId` (the privacy
    /// settings changed and the core rewrote them), keeping their place in the order where the
    /// store can. Default: [`Store::remove`] then [`Store::append`].
    fn replace(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut ids: Vec<&str> = Vec::with_capacity(messages.len());
        for m in messages {
            ids.push(m.message_id);
        }
        self.remove(&ids)?;
        self.append(messages)
    }
    /// Replaces the persisted record of the last known server privacy settings (a JSON text the
    /// core writes and reads back through [`Restored::settings`]; project settings, not personal
    /// data). Default: not persisted (every start waits for a fetch).
    fn save_settings(&mut self, record: &str) -> Result<(), StoreError> {
        let _ = record;
        Ok(())
    }
}

/// Persists nothing: state and queue live in memory only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullStore;

impl Store for NullStore {
    fn load(&mut self) -> Result<Restored, StoreError> {
        Ok(Restored::default())
    }
    fn save_state(&mut self, _: &PersistedState) -> Result<(), StoreError> {
        Ok(())
    }
    fn append(&mut self, _: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        Ok(())
    }
    fn remove(&mut self, _: &[&str]) -> Result<(), StoreError> {
        Ok(())
    }
    fn replace(&mut self, _: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn load(&mut self) -> Result<Restored, StoreError> {
        (**self).load()
    }
    fn save_state(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        (**self).save_state(state)
    }
    fn append(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        (**self).append(messages)
    }
    fn remove(&mut self, message_ids: &[&str]) -> Result<(), StoreError> {
        (**self).remove(message_ids)
    }
    fn replace(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        (**self).replace(messages)
    }
    fn save_settings(&mut self, record: &str) -> Result<(), StoreError> {
        (**self).save_settings(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_state_round_trips_as_json() {
        let full = PersistedState {
            anonymous_id: Some("a\"1".into()),
            user_id: Some("u".into()),
            session: Some(SessionState {
                id: "s_1_ab".into(),
                started_at: 1,
                last_activity: 2,
            }),
            consent: [("analytics".to_string(), true), ("marketing".to_string(), false)].into(),
        };
        for state in [full, PersistedState::default()] {
            assert_eq!(PersistedState::from_json(&state.to_json()).unwrap(), state);
        }
        let old = r#"{"anonymousId":"a","session":null,"consent":{},"future":1}"#;
        assert_eq!(
            PersistedState::from_json(old).unwrap().anonymous_id.as_deref(),
            Some("a")
        );
        assert!(
            PersistedState::from_json(r#"{"consent":{"a":1}}"#)
                .unwrap_err()
                .starts_with("state.consent.a")
        );
        // The session is read in the same pass: unknown members ignored, errors named, and a
        // session without an id is none (a new one starts).
        let s = r#"{"session":{"id":"s","startedAt":1,"lastActivity":2,"future":3}}"#;
        assert_eq!(
            PersistedState::from_json(s)
                .unwrap()
                .session
                .map(|s| (s.id, s.last_activity)),
            Some(("s".to_string(), 2))
        );
        for none in [r#"{"session":{}}"#, r#"{"session":{"id":"","startedAt":1}}"#] {
            assert_eq!(PersistedState::from_json(none).unwrap().session, None, "{none}");
        }
        assert!(
            PersistedState::from_json(r#"{"session":{"id":"s","startedAt":"1"}}"#)
                .unwrap_err()
                .starts_with("state.session.startedAt")
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn persisted_state_json_matches_serde() {
        let state = PersistedState {
            anonymous_id: Some("a".into()),
            user_id: None,
            session: Some(SessionState {
                id: "s".into(),
                started_at: 1,
                last_activity: 2,
            }),
            consent: [("analytics".to_string(), true)].into(),
        };
        let ours: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
        let mut theirs = serde_json::to_value(&state).unwrap();
        theirs.as_object_mut().unwrap().remove("userId"); // serde writes null, we leave it out
        assert_eq!(ours, theirs);
        let back: PersistedState = serde_json::from_str(&state.to_json()).unwrap();
        assert_eq!(back, state);
    }
}
