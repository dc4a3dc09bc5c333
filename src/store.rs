//! Persistence: the [`Store`] trait the host implements, and what the core persists.
//!
//! The core persists two things:
//! - [`PersistedState`]: the anonymous id, the identified user id, the current session and the
//!   user's explicit consent choices. Small; saved whole whenever it changes (session activity at
//!   most every [`STATE_SAVE_INTERVAL_MS`]).
//! - the delivery queue, as [`StoredMessage`] records: appended when a message is enqueued and
//!   removed once it is delivered or dropped. Each record holds the final serialized message with
//!   its `messageId`, so a message restored after a restart is re-sent byte-for-byte (exactly once
//!   from the collector's point of view, which de-duplicates on `messageId`).
//!
//! Events waiting for a consent decision are never persisted, and nothing of a denied category is
//! ever written. Every operation is synchronous (the browser's `localStorage` is). A failing store
//! never fails `track()`: the core counts the error in [`crate::Stats::store_errors`], logs a
//! warning, and keeps going in memory.
//!
//! Implementations: [`NullStore`] (memory only), `native::FileStore` (append log in a data dir),
//! `testing::MemoryStore`, and the browser bindings' `localStorage` store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::platform::MaybeSend;

/// How often, at most, session activity alone causes a state save (ms). Identity, session id and
/// consent changes are saved immediately.
pub const STATE_SAVE_INTERVAL_MS: u64 = 10_000;

/// A queued message as persisted: the serialized message (without `sentAt`) plus what the queue
/// needs to manage it without parsing it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessageRef<'a> {
    pub message_id: &'a str,
    pub category: &'a str,
    pub enqueued_at: u64,
    pub json: &'a str,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    pub id: String,
    /// Session start, ms since the epoch.
    pub started_at: u64,
    /// Last event in this session, ms since the epoch.
    pub last_activity: u64,
}

/// Identity, session and consent choices: everything but the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistedState {
    pub anonymous_id: Option<String>,
    pub user_id: Option<String>,
    pub session: Option<SessionState>,
    /// Explicit consent choices (category → granted). Signals (GPC/DNT) are not persisted: the
    /// host reports them on every start.
    pub consent: BTreeMap<String, bool>,
}

/// What a store hands back at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    pub state: Option<PersistedState>,
    /// Queued messages in enqueue order.
    pub messages: Vec<StoredMessage>,
    /// Problems the store worked around (torn or corrupt records skipped, unreadable state).
    pub warnings: Vec<String>,
}

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

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
}
