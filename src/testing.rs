//! Deterministic test doubles (feature `testing`): a manual clock, a seeded random generator,
//! an in-memory store that records every write, a literal pattern matcher (custom PII
//! patterns without a regex engine), and (with `native`) a scripted transport.
//! Everything the core does can be tested on virtual time with these.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::clock::Clock;
use crate::pipeline::patterns::{InvalidPattern, PatternMatcher};
use crate::rng::Rng;
use crate::store::{PersistedState, Restored, Store, StoreError, StoredMessage, StoredMessageRef};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct ClockInner {
    now: AtomicU64,
    waiters: Mutex<Vec<(u64, Waker)>>,
}

/// A clock that only moves when told to. Clones share the same time. [`ManualClock::sleep_until`]
/// futures complete when the clock is advanced past their deadline, so hosts that sleep on it
/// (the native client in tests) run on virtual time.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<ClockInner>);

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> ManualClock {
        let c = ManualClock::default();
        c.0.now.store(start_ms, Ordering::SeqCst);
        c
    }

    /// Moves the clock to `ms` (never backwards) and wakes sleepers that are due.
    pub fn set(&self, ms: u64) {
        self.0.now.fetch_max(ms, Ordering::SeqCst);
        let now = self.now_ms();
        let due: Vec<Waker> = {
            let mut waiters = lock(&self.0.waiters);
            let (due, rest): (Vec<_>, Vec<_>) = waiters.drain(..).partition(|(t, _)| *t <= now);
            *waiters = rest;
            due.into_iter().map(|(_, w)| w).collect()
        };
        due.into_iter().for_each(Waker::wake);
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.set(self.now_ms() + ms);
    }

    /// Completes once the clock reads `deadline_ms` or later.
    pub fn sleep_until(&self, deadline_ms: u64) -> ManualSleep {
        ManualSleep {
            clock: self.clone(),
            deadline: deadline_ms,
        }
    }

    /// The earliest deadline someone is sleeping until (lets tests step to the next timer).
    pub fn next_deadline(&self) -> Option<u64> {
        lock(&self.0.waiters).iter().map(|(t, _)| *t).min()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.now.load(Ordering::SeqCst)
    }
}

/// The future of [`ManualClock::sleep_until`].
pub struct ManualSleep {
    clock: ManualClock,
    deadline: u64,
}

impl Future for ManualSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now_ms() >= self.deadline {
            return Poll::Ready(());
        }
        let mut waiters = lock(&self.clock.0.waiters);
        waiters.retain(|(_, w)| !w.will_wake(cx.waker()));
        waiters.push((self.deadline, cx.waker().clone()));
        drop(waiters);
        // Re-check: the clock may have moved between the first check and registering.
        if self.clock.now_ms() >= self.deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// A deterministic generator (SplitMix64) for reproducible ids and jitter.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }
}

impl Rng for SeededRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// A [`PatternMatcher`] for tests, without a regex engine: a pattern is a literal, optionally
/// anchored with a leading `^` and/or a trailing `$`; a pattern holding any other regex
/// metacharacter (`\ . * + ? ( ) [ ] { } |`) is refused as invalid. Records every compile.
#[derive(Debug, Clone, Default)]
pub struct LiteralMatcher {
    patterns: Vec<(bool, String, bool)>,
    /// The lists given to `compile`, in order.
    pub compiled: Arc<Mutex<Vec<Vec<String>>>>,
}

impl PatternMatcher for LiteralMatcher {
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern> {
        lock(&self.compiled).push(patterns.to_vec());
        self.patterns.clear();
        let mut invalid = Vec::new();
        for (index, p) in patterns.iter().enumerate() {
            let (start, rest) = p.strip_prefix('^').map_or((false, p.as_str()), |r| (true, r));
            let (text, end) = rest.strip_suffix('$').map_or((rest, false), |r| (r, true));
            if text.contains([
                '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$',
            ]) {
                let message = "unsupported by LiteralMatcher".to_string();
                invalid.push(InvalidPattern { index, message });
            } else {
                self.patterns.push((start, text.to_string(), end));
            }
        }
        invalid
    }

    fn is_match(&self, s: &str) -> bool {
        self.patterns.iter().any(|(start, text, end)| match (start, end) {
            (true, true) => s == text,
            (true, false) => s.starts_with(text.as_str()),
            (false, true) => s.ends_with(text.as_str()),
            (false, false) => s.contains(text.as_str()),
        })
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct StoreInner {
    state: Option<PersistedState>,
    messages: Vec<StoredMessage>,
    appended: Vec<StoredMessage>,
    warnings: Vec<String>,
    settings: Option<String>,
    failing: bool,
}

/// An in-memory [`Store`]. Clones share the data, so a test can hand one clone to a core, drop
/// the core ("crash"), and build a new core from another clone ("restart"). It remembers every
/// message ever appended ([`MemoryStore::appended`]) for assertions about what was written.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<Mutex<StoreInner>>);

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The messages currently persisted, in order.
    pub fn messages(&self) -> Vec<StoredMessage> {
        lock(&self.0).messages.clone()
    }

    /// Every message ever appended, in order (removed ones included).
    pub fn appended(&self) -> Vec<StoredMessage> {
        lock(&self.0).appended.clone()
    }

    /// The persisted state.
    pub fn state(&self) -> Option<PersistedState> {
        lock(&self.0).state.clone()
    }

    /// The persisted server settings record ([`Store::save_settings`]).
    pub fn settings(&self) -> Option<String> {
        lock(&self.0).settings.clone()
    }

    /// Makes every operation fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        lock(&self.0).failing = failing;
    }

    /// Warnings the next `load` reports (as a real store reports skipped corrupt records).
    pub fn add_load_warning(&self, warning: &str) {
        lock(&self.0).warnings.push(warning.to_string());
    }

    fn check(inner: &StoreInner) -> Result<(), StoreError> {
        if inner.failing {
            Err(StoreError("memory store set to fail".into()))
        } else {
            Ok(())
        }
    }
}

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Restored, StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        Ok(Restored {
            state: inner.state.clone(),
            messages: inner.messages.clone(),
            warnings: std::mem::take(&mut inner.warnings),
            settings: inner.settings.clone(),
        })
    }
    fn save_state(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        inner.state = Some(state.clone());
        Ok(())
    }
    fn append(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        for m in messages {
            inner.messages.push(m.to_owned());
            inner.appended.push(m.to_owned());
        }
        Ok(())
    }
    fn remove(&mut self, message_ids: &[&str]) -> Result<(), StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        inner
            .messages
            .retain(|m| !message_ids.contains(&m.message_id.as_str()));
        Ok(())
    }
    fn replace(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        for m in messages {
            if let Some(old) = inner.messages.iter_mut().find(|o| o.message_id == m.message_id) {
                *old = m.to_owned();
            }
        }
        Ok(())
    }
    fn save_settings(&mut self, record: &str) -> Result<(), StoreError> {
        let mut inner = lock(&self.0);
        Self::check(&inner)?;
        inner.settings = Some(record.to_string());
        Ok(())
    }
}

#[cfg(feature = "native")]
pub use crate::native::testing::MemoryTransport;
