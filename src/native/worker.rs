//! The background worker: owns the [`Core`], applies commands in order, sends due batches
//! through the [`Transport`] (several in flight per `delivery.max_in_flight`), reports outcomes
//! and sleeps on the [`HostClock`] until the core's next wakeup. It resolves `flush` waiters
//! once nothing is in flight and nothing more is due, and finishes on `shutdown` (or when every
//! handle is gone) once the queue is empty or the deadline passed. It also fetches the privacy
//! settings when the core says a fetch is due (one at a time, through
//! [`Transport::fetch_settings`]) and reports the answer to the core. With a data dir shared by
//! several clients, it adopts the queues that stopped clients left in other slots of it (see
//! `slots.rs`), every `ADOPT_INTERVAL_MS` (it wakes up for that when idle).
//!
//! When it stops it drops the core — and with it the store and its data-dir lock — before it
//! answers `shutdown`/`kill`, so the data dir is free once the caller hears back. A panic in the
//! application's code it runs (a `before_send` hook, the debug log, a custom transport's
//! `send`) is contained to that one event or attempt.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::task::{Id, JoinHandle, JoinSet};

use super::client::{Command, ConsentAction, Counters, Reply, ShutdownReport};
use super::slots::{ADOPT_INTERVAL_MS, Adopter};
use super::{HostClock, Transport};
use crate::Core;
use crate::delivery::Delivery;
use crate::settings_fetch::SettingsResponse;

/// Commands handled per wakeup before sending due batches (keeps bursts efficient).
const COMMANDS_PER_TURN: usize = 1024;

struct Closing {
    deadline_ms: u64,
    reply: Option<Reply<ShutdownReport>>,
}

/// The answers owed when the worker stops. They are sent after the worker (its core and the
/// store's data-dir lock) is dropped, so a client built as soon as `shutdown`/`kill` returned
/// can open the same data dir.
struct Done {
    shutdown: Option<(Reply<ShutdownReport>, ShutdownReport)>,
    flush_waiters: Vec<Reply<usize>>,
    unsent: usize,
    killed: Option<Reply<()>>,
}

impl Done {
    fn send(self) {
        if let Some((reply, report)) = self.shutdown {
            reply.send(report);
        }
        for w in self.flush_waiters {
            w.send(self.unsent);
        }
        if let Some(reply) = self.killed {
            reply.send(());
        }
    }
}

pub(crate) struct Worker {
    core: Core,
    rx: mpsc::UnboundedReceiver<Command>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn HostClock>,
    counters: Arc<Counters>,
    persistent: bool,
    close_timeout_ms: u64,
    sends: JoinSet<Delivery>,
    batch_of_task: HashMap<Id, u64>,
    settings_fetch: Option<JoinHandle<SettingsResponse>>,
    flush_waiters: Vec<Reply<usize>>,
    closing: Option<Closing>,
    killed: Option<Reply<()>>,
    /// Adopts abandoned slots of the data dir while running, and when it next may.
    adoption: Option<(Adopter, u64)>,
}

impl Worker {
    pub(crate) fn new(
        core: Core,
        rx: mpsc::UnboundedReceiver<Command>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn HostClock>,
        counters: Arc<Counters>,
        persistent: bool,
        close_timeout_ms: u64,
    ) -> Worker {
        Worker {
            core,
            rx,
            transport,
            clock,
            counters,
            persistent,
            close_timeout_ms,
            sends: JoinSet::new(),
            batch_of_task: HashMap::new(),
            settings_fetch: None,
            flush_waiters: Vec::new(),
            closing: None,
            killed: None,
            adoption: None,
        }
    }

    /// Adopt abandoned slots of the data dir (see `slots.rs`) every [`ADOPT_INTERVAL_MS`] from
    /// `now` (the store adopted the ones there were when it was loaded).
    pub(crate) fn with_adopter(mut self, adopter: Option<Adopter>, now: u64) -> Worker {
        self.adoption = adopter.map(|a| (a, now.saturating_add(ADOPT_INTERVAL_MS)));
        self
    }

    /// When due (and not closing): adopts abandoned slots and queues their messages like a
    /// restart's. `run` wakes the worker up for it (see `adoption`'s next time).
    fn adopt_if_due(&mut self, now: u64) {
        let Some((adopter, next)) = self.adoption.as_mut().filter(|_| self.closing.is_none()) else {
            return;
        };
        if now < *next {
            return;
        }
        *next = now.saturating_add(ADOPT_INTERVAL_MS);
        let (messages, warnings) = adopter.adopt();
        for w in warnings {
            tracing::warn!(target: "footfall", "{w}");
        }
        if !messages.is_empty() {
            self.core.restore_messages(messages, now);
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let now = self.clock.now_ms();
            self.adopt_if_due(now);
            let started = self.send_due(now);
            if let Some(reply) = self.killed.take() {
                self.sends.abort_all();
                self.stop_settings_fetch();
                let done = Done {
                    shutdown: None,
                    flush_waiters: Vec::new(),
                    unsent: 0,
                    killed: Some(reply),
                };
                drop(self);
                return done.send();
            }
            if let Some(done) = self.settle(now, started) {
                drop(self);
                return done.send();
            }
            let mut wake = self.core.next_wakeup(now);
            // Closing: by the deadline; else by the next adoption check, even when idle (a
            // process that tracks nothing for hours still delivers what a stopped one left).
            let deadline = match (&self.closing, &self.adoption) {
                (Some(c), _) => Some(c.deadline_ms),
                (None, Some((_, next))) => Some(*next),
                (None, None) => None,
            };
            if let Some(d) = deadline {
                wake = Some(wake.map_or(d, |w| w.min(d)));
            }
            let sleep = wake.map(|t| self.clock.sleep_until(t));
            let receiving = self.closing.is_none() || !self.rx.is_closed();
            tokio::select! {
                command = self.rx.recv(), if receiving => match command {
                    Some(c) => {
                        self.handle_contained(c);
                        for _ in 0..COMMANDS_PER_TURN {
                            match self.rx.try_recv() {
                                Ok(c) => self.handle_contained(c),
                                Err(_) => break,
                            }
                        }
                    }
                    None => self.begin_closing(now + self.close_timeout_ms, None),
                },
                Some(done) = self.sends.join_next_with_id(), if !self.sends.is_empty() => {
                    let (task, delivery) = match done {
                        Ok((task, delivery)) => (task, delivery),
                        Err(e) => (e.id(), Delivery::NetworkError { detail: format!("send task failed: {e}") }),
                    };
                    if let Some(batch) = self.batch_of_task.remove(&task) {
                        self.core.report(batch, delivery, self.clock.now_ms());
                    }
                }
                answer = settings_answer(&mut self.settings_fetch), if self.settings_fetch.is_some() => {
                    self.settings_fetch = None;
                    self.core.report_settings(answer, self.clock.now_ms());
                }
                () = async { match sleep { Some(s) => s.await, None => std::future::pending().await } } => {}
            }
        }
    }

    fn stop_settings_fetch(&mut self) {
        if let Some(task) = self.settings_fetch.take() {
            task.abort();
        }
    }

    /// Starts the settings fetch the core asks for, if any (before batches: on a first start
    /// the core holds batches until the first answer).
    fn fetch_settings_if_due(&mut self, now: u64) {
        if self.settings_fetch.is_some() {
            return;
        }
        if let Some(request) = self.core.poll_settings(now) {
            match self.transport.fetch_settings(request) {
                Some(fetch) => self.settings_fetch = Some(tokio::spawn(fetch)),
                None => self.core.set_settings_fetch(false),
            }
        }
    }

    /// [`Worker::handle`], with a panic in the application's code it runs (a `before_send`
    /// hook, the debug log) contained: that command is lost — a tracked event is counted as
    /// dropped (`before_send`) — with a warning, and the worker goes on with the next one
    /// instead of dying with every later event.
    fn handle_contained(&mut self, command: Command) {
        let track = matches!(command, Command::Track(..));
        let handled = std::panic::catch_unwind(AssertUnwindSafe(|| self.handle(command)));
        if let Err(panic) = handled {
            if track {
                self.counters.dropped_panic.fetch_add(1, Ordering::Relaxed);
            }
            tracing::warn!(
                target: "footfall",
                "a before_send hook or the debug log panicked ({}); the event was dropped (before_send)",
                panic_message(&*panic)
            );
        }
    }

    fn handle(&mut self, command: Command) {
        let now = self.clock.now_ms();
        match command {
            Command::Track(event, at) => {
                self.counters
                    .in_channel
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                self.core.track(event, at.min(now));
            }
            Command::Consent { action, categories } => {
                let refs: Vec<&str> = categories.iter().map(String::as_str).collect();
                match action {
                    ConsentAction::Grant => self.core.grant(&refs, now),
                    ConsentAction::Deny => self.core.deny(&refs, now),
                    ConsentAction::Revoke => self.core.revoke(&refs, now),
                    ConsentAction::GrantAll => self.core.grant_all(now),
                    ConsentAction::DenyAll => self.core.deny_all(now),
                }
            }
            Command::Signals(signals) => self.core.set_privacy_signals(signals, now),
            Command::Reset => self.core.reset(now),
            Command::Register(props) => self.core.register(props),
            Command::Unregister(key) => self.core.unregister(&key),
            Command::Flush(reply) => {
                self.core.flush();
                self.flush_waiters.push(reply);
            }
            Command::Sync(reply) => reply.send(()),
            Command::Stats(reply) => reply.send(self.core.stats()),
            Command::Privacy(reply) => reply.send(self.core.effective_settings()),
            Command::Shutdown { deadline_ms, reply } => self.begin_closing(deadline_ms, Some(reply)),
            #[cfg(feature = "testing")]
            Command::Kill(reply) => self.killed = Some(reply),
        }
    }

    fn begin_closing(&mut self, deadline_ms: u64, reply: Option<Reply<ShutdownReport>>) {
        self.core.flush();
        // No new settings fetch while closing (and no wakeups for one).
        self.core.set_settings_fetch(false);
        match &mut self.closing {
            Some(c) => {
                c.deadline_ms = c.deadline_ms.min(deadline_ms);
                if reply.is_some() {
                    c.reply = reply;
                }
            }
            None => self.closing = Some(Closing { deadline_ms, reply }),
        }
    }

    /// Hands every due batch to the transport; returns how many were started.
    fn send_due(&mut self, now: u64) -> usize {
        self.fetch_settings_if_due(now);
        if self.closing.is_some() {
            self.core.flush();
        }
        let mut started = 0;
        while let Some(batch) = self.core.poll_batch(now) {
            let transport = &self.transport;
            let send = match std::panic::catch_unwind(AssertUnwindSafe(|| transport.send(batch.body))) {
                Ok(send) => send,
                // A panicking transport is a failed attempt: retried like a network error.
                Err(panic) => {
                    let detail = format!("the transport panicked: {}", panic_message(&*panic));
                    Box::pin(async move { Delivery::NetworkError { detail } })
                }
            };
            let handle = self.sends.spawn(send);
            self.batch_of_task.insert(handle.id(), batch.id);
            started += 1;
        }
        started
    }

    /// Resolves flush waiters and finishes a shutdown when due; `Some` = stop the worker and
    /// then send these answers.
    fn settle(&mut self, now: u64, started: usize) -> Option<Done> {
        let idle = started == 0 && self.sends.is_empty() && !self.core.holds_for_settings(now);
        if idle && !self.flush_waiters.is_empty() {
            let queued = self.core.stats().queued;
            for w in self.flush_waiters.drain(..) {
                w.send(queued);
            }
        }
        let closing = self.closing.as_ref()?;
        let drained = self.sends.is_empty() && self.core.stats().queued == 0;
        if !drained && now < closing.deadline_ms {
            return None;
        }
        self.sends.abort_all();
        self.stop_settings_fetch();
        let unsent = if self.persistent {
            let s = self.core.stats();
            s.queued + s.in_flight
        } else {
            self.core.abandon()
        };
        self.core.persist(now);
        let stats = self.core.stats();
        let report = ShutdownReport {
            sent: stats.sent,
            unsent,
            persisted: self.persistent,
        };
        if let Ok(mut slot) = self.counters.final_stats.lock() {
            *slot = Some(stats);
        }
        Some(Done {
            shutdown: self.closing.take().and_then(|c| c.reply).map(|r| (r, report)),
            flush_waiters: std::mem::take(&mut self.flush_waiters),
            unsent,
            killed: None,
        })
    }
}

/// The text a panic was raised with, if it is one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// The answer of the settings fetch in flight (pending forever when there is none).
async fn settings_answer(task: &mut Option<JoinHandle<SettingsResponse>>) -> SettingsResponse {
    match task {
        Some(task) => task.await.unwrap_or_else(|e| SettingsResponse::Failed {
            detail: format!("settings fetch task failed: {e}"),
        }),
        None => std::future::pending().await,
    }
}
