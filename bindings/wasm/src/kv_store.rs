//! [`KvStore`]: the core's [`Store`] over a string key-value store (`localStorage` in browsers),
//! safe when several tabs share it, and silent until consent allows storage.
//!
//! # Layout (keys under `footfall.<writeKey>.`)
//! - `state`: the core's [`PersistedState`] as JSON (identity, session, consent choices).
//! - `settings`: the last known server privacy settings (the core's record; project settings,
//!   shared by the tabs, written like the state only once storage is allowed).
//! - `q.<tab>.<seq>`: a chunk of queued messages, a JSON array of
//!   `{"messageId", "category", "enqueuedAt", "message": <the message itself>}` (the message is
//!   embedded as JSON, not escaped into a string: escaping it again cost more than the rest of
//!   the store), at most
//!   [`CHUNK_MESSAGES`]. Writes are *behind*: the core's `append`/`remove` change the chunks in
//!   memory and [`StoreHandle::commit`] writes the changed chunks — the host commits in a
//!   microtask after the call that changed them (so a burst of `track()` calls costs one
//!   `setItem`, not one per event: `localStorage` writes are the most expensive part of a track
//!   in Chromium) and synchronously on page hide. Delivering a batch removes whole chunks.
//!
//! This layout is version 1 (footfall 0.1.0), pinned by the `localStorage` snapshot in
//! `tests/fixtures/persisted/v1/browser` (js/test/persisted-v1.test.mjs,
//! bindings/wasm/tests/persisted_v1.rs): a change that cannot read it needs a migration and a new
//! fixture version. Unknown fields of the state and of chunk items, and unknown keys, are ignored
//! (a newer version may add them).
//!
//! # Tabs
//! Every tab writes its events under its own partition `<tab>` and only ever sends (and removes)
//! events of partitions it owns, so two tabs never send the same event. A tab owns its partition
//! while it lives (the page holds a Web Lock named after it); the partition of a tab that died
//! with events still queued (closed offline, crashed) is *adopted* by exactly one other tab — at
//! its startup if the lock is free, or while it runs when the lock is released (the JS host
//! waits on the locks of the partitions it sees): the adopter takes the lock over, so the events
//! are neither lost nor sent twice. The JS host reads the partition a second after it got the
//! lock (`adoptSoon` in js/src/host.ts): the dead tab's last writes reach other renderer
//! processes' copies of `localStorage` asynchronously. The store loads the partitions it was told it owns at
//! startup, and [`StoreHandle::adopt`] loads one more later (handed to the core's
//! `restore_messages`).
//!
//! # Consent before storage
//! The store starts *closed* unless storage is allowed (consent mode `opt_out`, or a consent
//! choice found in the stored state): while closed, writes are kept in memory and nothing is
//! written. [`StoreHandle::open`] (called by the host when the user grants consent) writes what
//! was held back. Removing keys is always allowed.
//!
//! # The shared state
//! All tabs share the `state` key. When another tab changes it (the `storage` event), the host
//! hands [`StoreHandle::stored_state`] to the core's `sync_state`, so the running core takes
//! over that tab's identity and consent at once. Each save is also a three-way merge: a field
//! (anonymous id, user id, session, consent choices) that this tab's core did not change since
//! its last save takes the value stored by another tab, so a save racing with another tab's
//! change never overwrites it with a stale copy.
//!
//! # Cookie
//! With a [`Cookie`] (option `cookieDomain`), the state is mirrored into a first-party cookie so
//! identity follows the user across subdomains; at load the cookie's state wins over
//! `localStorage`'s (it is the one shared between the sites).

use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::kv::{Cookie, Kv, MemoryKv, chunk_tab, partitions, prefix};
use footfall::Store;
use footfall::json::{Value, push_u64, write_str};
use footfall::store::{PersistedState, Restored, StoreError, StoredMessage, StoredMessageRef};

/// The most messages one chunk key holds. Small enough that removing a few messages from a
/// chunk (an eviction, a partly accepted batch) rewrites little; large enough that a burst of
/// events costs a few `setItem`s.
pub const CHUNK_MESSAGES: usize = 25;

/// The stored form of `m`: `{"messageId":…,"category":…,"enqueuedAt":…,"message":<json>}`.
fn item_json(message_id: &str, category: &str, enqueued_at: u64, json: &str) -> String {
    let mut out = String::with_capacity(json.len() + message_id.len() + category.len() + 64);
    out.push_str("{\"messageId\":");
    write_str(&mut out, message_id);
    out.push_str(",\"category\":");
    write_str(&mut out, category);
    out.push_str(",\"enqueuedAt\":");
    push_u64(&mut out, enqueued_at);
    out.push_str(",\"message\":");
    out.push_str(json);
    out.push('}');
    out
}

/// The messages of a chunk (`None` if it is not a readable chunk).
fn read_chunk(text: &str) -> Option<Vec<StoredMessage>> {
    let Value::Array(items) = footfall::json::parse(text).ok()? else {
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        out.push(StoredMessage {
            message_id: item.get("messageId")?.as_str()?.to_string(),
            category: item.get("category")?.as_str()?.to_string(),
            enqueued_at: item.get("enqueuedAt")?.as_u64()?,
            json: item.get("message").filter(|m| m.as_object().is_some())?.to_json(),
        });
    }
    Some(out)
}

/// The newest `enqueuedAt` of a chunk (for tabs without Web Locks, see `partition_ages`).
fn newest_in_chunk(text: &str) -> Option<u64> {
    read_chunk(text)?.iter().map(|m| m.enqueued_at).max()
}

/// One queued message in memory: its id and its stored form.
struct Item {
    id: String,
    json: String,
}

/// One `q.<tab>.<seq>` key.
struct Chunk {
    key: String,
    items: Vec<Item>,
    /// Changed since the last commit.
    dirty: bool,
}

struct Inner {
    kv: Box<dyn Kv>,
    cookie: Option<Box<dyn Cookie>>,
    prefix: String,
    tab: String,
    owned: Vec<String>,
    seq: u64,
    /// The chunks this tab owns, oldest first.
    chunks: Vec<Chunk>,
    /// The last chunk still takes appends (reset by each commit, so a committed chunk is only
    /// rewritten when messages leave it).
    appending: bool,
    open: bool,
    held_state: Option<PersistedState>,
    held_settings: Option<String>,
    /// The core's state as of its last save (or the load): the base of the three-way merge.
    base_state: Option<PersistedState>,
}

impl Inner {
    fn state_key(&self) -> String {
        self.key("state")
    }

    fn key(&self, name: &str) -> String {
        let mut k = self.prefix.clone();
        k.push_str(name);
        k
    }

    fn write(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.kv.set(key, value).map_err(StoreError)
    }

    /// The shared state's text as stored (the cookie's when there is one).
    fn stored_text(&self) -> Option<String> {
        self.cookie
            .as_ref()
            .and_then(|c| c.get())
            .or_else(|| self.kv.get(&self.state_key()))
    }

    /// The shared state as stored (see [`Inner::stored_text`]).
    fn stored_state(&self) -> Option<PersistedState> {
        PersistedState::from_json(&self.stored_text()?).ok()
    }

    /// Loads the chunks of partitions `tabs` (oldest first) into `self.chunks`; returns their
    /// messages and a warning per unreadable chunk (which is removed).
    fn load_partitions(&mut self, tabs: &[String], restored: &mut Restored) {
        let mut found: Vec<(u64, bool, u64, String, Vec<StoredMessage>)> = Vec::new();
        // Keys walked by reference (here and in `partition_ages`): no owning iterator over
        // strings in the bundle.
        for key in &self.kv.keys(&self.prefix) {
            let Some(tab) = chunk_tab(key, &self.prefix) else {
                continue;
            };
            if !tabs.iter().any(|t| t == tab) {
                continue;
            }
            let own = tab == self.tab;
            match self.kv.get(key).as_deref().and_then(read_chunk) {
                Some(messages) => {
                    let first = messages.first().map_or(0, |m| m.enqueued_at);
                    found.push((first, own, parse_seq(key), key.clone(), messages));
                }
                None => {
                    restored
                        .warnings
                        .push("skipped an unreadable chunk of queued events".into());
                    self.kv.remove(key);
                }
            }
        }
        // Oldest first (a handful of chunks: insertion sort keeps the bundle free of a sort).
        for i in 1..found.len() {
            let mut j = i;
            while j > 0
                && (found[j - 1].0, found[j - 1].1, found[j - 1].2) > (found[j].0, found[j].1, found[j].2)
            {
                found.swap(j - 1, j);
                j -= 1;
            }
        }
        for (_, own, seq, key, messages) in found {
            if own {
                self.seq = self.seq.max(seq + 1);
            }
            let mut items = Vec::with_capacity(messages.len());
            for m in messages {
                let json = item_json(&m.message_id, &m.category, m.enqueued_at, &m.json);
                items.push(Item {
                    id: m.message_id.clone(),
                    json,
                });
                restored.messages.push(m);
            }
            // Adopted chunks go before this tab's newest (still appending) chunk.
            let at = self.chunks.len() - usize::from(self.appending && !self.chunks.is_empty());
            self.chunks.insert(
                at,
                Chunk {
                    key,
                    items,
                    dirty: false,
                },
            );
        }
    }

    /// Writes the core's `state`, merged with what other tabs wrote meanwhile: a field this
    /// tab's core did not change since its last save (or load) takes the stored value, so a tab
    /// never overwrites another tab's consent choice or login with its own stale copy.
    fn write_state(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        let key = self.state_key();
        let stored = self.stored_state();
        let merged = merge_state(state, self.base_state.as_ref(), stored.as_ref());
        self.base_state = Some(state.clone());
        let text = merged.to_json();
        if let Some(c) = &self.cookie {
            c.set(&text);
        }
        self.write(&key, &text)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.appending = false;
        if !self.open {
            return Ok(());
        }
        let mut result = Ok(());
        for chunk in self.chunks.iter_mut().filter(|c| c.dirty) {
            chunk.dirty = false;
            if chunk.items.is_empty() {
                self.kv.remove(&chunk.key);
                continue;
            }
            let mut value = String::from("[");
            for item in &chunk.items {
                if value.len() > 1 {
                    value.push(',');
                }
                value.push_str(&item.json);
            }
            value.push(']');
            result = result.and(self.kv.set(&chunk.key, &value).map_err(StoreError));
        }
        footfall::map::retain(&mut self.chunks, |c| !c.items.is_empty());
        result
    }
}

/// Three-way merge of persisted states (see `Inner::write_state`).
fn merge_state(
    ours: &PersistedState,
    base: Option<&PersistedState>,
    theirs: Option<&PersistedState>,
) -> PersistedState {
    let (Some(base), Some(theirs)) = (base, theirs) else {
        return ours.clone();
    };
    fn pick<T: Clone + PartialEq>(ours: &T, base: &T, theirs: &T) -> T {
        if ours == base {
            theirs.clone()
        } else {
            ours.clone()
        }
    }
    PersistedState {
        anonymous_id: pick(&ours.anonymous_id, &base.anonymous_id, &theirs.anonymous_id),
        user_id: pick(&ours.user_id, &base.user_id, &theirs.user_id),
        session: pick(&ours.session, &base.session, &theirs.session),
        consent: pick(&ours.consent, &base.consent, &theirs.consent),
    }
}

/// The store handed to the core. See the module docs.
pub struct KvStore(Arc<Mutex<Inner>>);

/// What the host keeps to commit and open the store.
#[derive(Clone)]
pub struct StoreHandle(Arc<Mutex<Inner>>);

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KvStore {
    /// A store for `prefix` writing partition `tab` and loading `tab` plus the `adopted`
    /// partitions. `open`: storage already allowed (consent mode `opt_out`).
    pub fn new(
        kv: Box<dyn Kv>,
        cookie: Option<Box<dyn Cookie>>,
        prefix: String,
        tab: String,
        adopted: Vec<String>,
        open: bool,
    ) -> (KvStore, StoreHandle) {
        let mut owned = adopted;
        owned.push(tab.clone());
        let inner = Inner {
            kv,
            cookie,
            prefix,
            tab,
            owned,
            seq: 0,
            chunks: Vec::new(),
            appending: false,
            open,
            held_state: None,
            held_settings: None,
            base_state: None,
        };
        // `Arc<Mutex>`, not `Rc<RefCell>`: natively (the tests) the core's `Store` must be
        // `Send`; on wasm nothing is (`MaybeSend`), which is single-threaded anyway.
        #[allow(clippy::arc_with_non_send_sync)]
        let shared = Arc::new(Mutex::new(inner));
        (KvStore(shared.clone()), StoreHandle(shared))
    }
}

impl StoreHandle {
    /// Whether writes reach storage.
    pub fn is_open(&self) -> bool {
        lock(&self.0).open
    }

    /// Whether queued-message changes wait for [`StoreHandle::commit`].
    pub fn needs_commit(&self) -> bool {
        let s = lock(&self.0);
        s.open && s.chunks.iter().any(|c| c.dirty)
    }

    /// The shared state as another tab may have just written it (for the core's `sync_state`).
    pub fn stored_state(&self) -> Option<PersistedState> {
        lock(&self.0).stored_state()
    }

    /// The key of the shared state (`storage` events for it mean another tab changed it).
    pub fn state_key(&self) -> String {
        lock(&self.0).state_key()
    }

    /// Another tab changed storage: when the shared state now records a consent choice, storage
    /// is allowed here too (the user consented in that tab); writes what was held back.
    pub fn open_if_consented_elsewhere(&self) -> Result<(), StoreError> {
        {
            let s = lock(&self.0);
            if s.open || s.stored_state().is_none_or(|st| st.consent.is_empty()) {
                return Ok(());
            }
        }
        self.open()
    }

    /// Takes over partition `tab` (its tab is gone and this one now holds its lock): its chunks
    /// join this store and its messages are returned for the core's `restore_messages`.
    /// Nothing when `tab` is already owned.
    pub fn adopt(&self, tab: &str) -> Restored {
        let mut s = lock(&self.0);
        let mut restored = Restored::default();
        if s.owned.iter().any(|t| t == tab) {
            return restored;
        }
        s.owned.push(tab.to_string());
        s.load_partitions(&[tab.to_string()], &mut restored);
        restored
    }

    /// Writes the changed chunks (nothing while closed).
    pub fn commit(&self) -> Result<(), StoreError> {
        lock(&self.0).commit()
    }

    /// Allows storage and writes what was held back. Errors are returned for the host to count.
    pub fn open(&self) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        if s.open {
            return Ok(());
        }
        s.open = true;
        let mut result = Ok(());
        if let Some(state) = s.held_state.take() {
            result = s.write_state(&state);
        }
        if let Some(record) = s.held_settings.take() {
            let key = s.key("settings");
            result = result.and(s.write(&key, &record));
        }
        result.and(s.commit())
    }
}

fn parse_seq(key: &str) -> u64 {
    let seq = crate::kv::split_last_dot(key).map_or(key, |(_, seq)| seq);
    footfall::text::decimal(seq).unwrap_or(0)
}

/// For tabs without the Web Locks API: each partition under `prefix` with the newest
/// `enqueuedAt` of its events (a partition whose newest event is old belongs to a tab that is
/// almost certainly gone).
pub fn partition_ages(kv: &dyn Kv, prefix: &str) -> Vec<(String, u64)> {
    let mut ages: Vec<(String, u64)> = Vec::new();
    for key in &kv.keys(prefix) {
        let Some(tab) = chunk_tab(key, prefix) else {
            continue;
        };
        let newest = kv.get(key).as_deref().and_then(newest_in_chunk).unwrap_or(0);
        match ages.iter_mut().find(|(t, _)| t == tab) {
            Some((_, at)) => *at = (*at).max(newest),
            None => ages.push((tab.to_string(), newest)),
        }
    }
    ages
}

impl Store for KvStore {
    fn load(&mut self) -> Result<Restored, StoreError> {
        let mut s = lock(&self.0);
        let mut restored = Restored::default();
        let text = s.stored_text();
        // Nothing stored yet: the core starts from the empty state (the merge base).
        s.base_state = Some(PersistedState::default());
        if let Some(text) = text {
            match PersistedState::from_json(&text) {
                Ok(state) => {
                    if !state.consent.is_empty() {
                        s.open = true;
                    }
                    s.base_state = Some(state.clone());
                    restored.state = Some(state);
                }
                Err(_) => restored
                    .warnings
                    .push("stored state is unreadable; starting a new identity".into()),
            }
        }
        restored.settings = s.kv.get(&s.key("settings"));
        let owned = s.owned.clone();
        s.load_partitions(&owned, &mut restored);
        Ok(restored)
    }

    fn save_settings(&mut self, record: &str) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        if !s.open {
            s.held_settings = Some(record.to_string());
            return Ok(());
        }
        let key = s.key("settings");
        s.write(&key, record)
    }

    fn replace(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        for m in messages {
            for chunk in s.chunks.iter_mut() {
                if let Some(item) = chunk.items.iter_mut().find(|item| item.id == m.message_id) {
                    item.json = item_json(m.message_id, m.category, m.enqueued_at, m.json);
                    chunk.dirty = true;
                    break;
                }
            }
        }
        Ok(())
    }

    fn save_state(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        if !s.open {
            s.held_state = Some(state.clone());
            return Ok(());
        }
        s.write_state(state)
    }

    fn append(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        for m in messages {
            let json = item_json(m.message_id, m.category, m.enqueued_at, m.json);
            let full = s.chunks.last().is_none_or(|c| c.items.len() >= CHUNK_MESSAGES);
            if !s.appending || full {
                let mut key = footfall::json::cat(&[s.prefix.as_str(), "q.", &s.tab, "."]);
                push_u64(&mut key, s.seq);
                s.seq += 1;
                s.chunks.push(Chunk {
                    key,
                    items: Vec::new(),
                    dirty: true,
                });
                s.appending = true;
            }
            if let Some(chunk) = s.chunks.last_mut() {
                chunk.items.push(Item {
                    id: m.message_id.to_string(),
                    json,
                });
                chunk.dirty = true;
            }
        }
        Ok(())
    }

    fn remove(&mut self, message_ids: &[&str]) -> Result<(), StoreError> {
        let mut s = lock(&self.0);
        for id in message_ids {
            for chunk in s.chunks.iter_mut() {
                if let Some(i) = chunk.items.iter().position(|item| item.id == *id) {
                    chunk.items.remove(i);
                    chunk.dirty = true;
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "kv_store_tests.rs"]
mod tests;
