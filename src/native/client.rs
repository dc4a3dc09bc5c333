//! [`Client`]: the native SDK handle. Cheap to clone, `Send + Sync`; every clone talks to one
//! background worker (see `worker.rs`) that owns the [`Core`].
//!
//! `track()` stamps the event with the clock, pushes it onto an unbounded channel guarded by a
//! counter (at most `channel_capacity` events in the channel; beyond that the event is dropped
//! and counted as `queue_full`) and returns: it never blocks, never awaits and never panics.
//! Control calls (consent, identity, super properties) share the channel so they stay ordered
//! with events, and are never refused.
//!
//! The worker runs on its own thread with a single-threaded tokio runtime, so a `Client` works
//! the same inside or outside an application's runtime (and in non-async programs, see
//! [`super::BlockingClient`]); `flush().await` and `shutdown().await` work from any executor.
//!
//! Dropping the last handle of a client with a data dir waits (at most `close_timeout`) until
//! the worker has written everything tracked there, so a process that exits right after loses
//! nothing (see the durability section of the module docs of `footfall::native`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::worker::Worker;
use super::{FileStore, HostClock, HttpTransport, Transport};
use crate::Core;
use crate::clock::SystemClock;
use crate::config::{Config, ConfigError};
use crate::consent::PrivacySignals;
use crate::event::Properties;
use crate::event::{Event, Tracker};
use crate::message::Message;
use crate::rng::{OsRng, Rng};
use crate::settings::PrivacySettings;
use crate::stats::{DropReason, LogEvent, LogLevel, Stats};
use crate::store::{NullStore, Store, StoreError};

/// Building or starting the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("data dir: {0}")]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Http(String),
    #[error("starting the background worker: {0}")]
    Worker(String),
}

/// What [`Client::shutdown`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Messages delivered over the client's lifetime.
    pub sent: u64,
    /// Messages not delivered by the deadline.
    pub unsent: usize,
    /// Whether the unsent messages stay in the data dir for the next start (else they were
    /// counted as dropped with reason `shutdown`).
    pub persisted: bool,
}

/// Where a reply goes: an async waiter or a blocking one.
pub(crate) enum Reply<T> {
    Async(oneshot::Sender<T>),
    Blocking(std::sync::mpsc::Sender<T>),
}

impl<T> Reply<T> {
    pub(crate) fn send(self, value: T) {
        match self {
            Reply::Async(s) => drop(s.send(value)),
            Reply::Blocking(s) => drop(s.send(value)),
        }
    }
}

// Almost every command is a `Track`; boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    /// An event and when `track` was called (the core's enqueue time).
    Track(Event, u64),
    Consent {
        action: ConsentAction,
        categories: Vec<String>,
    },
    Signals(PrivacySignals),
    Reset,
    Register(Properties),
    Unregister(String),
    Flush(Reply<usize>),
    /// Answered once every earlier command was applied (and its store writes done).
    Sync(Reply<()>),
    Stats(Reply<Stats>),
    Privacy(Reply<PrivacySettings>),
    Shutdown {
        deadline_ms: u64,
        reply: Reply<ShutdownReport>,
    },
    #[cfg(feature = "testing")]
    Kill(Reply<()>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsentAction {
    Grant,
    Deny,
    Revoke,
    GrantAll,
    DenyAll,
}

/// Counters shared by the handles and the worker.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) in_channel: AtomicUsize,
    pub(crate) dropped_full: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    /// Events lost to a panicking `before_send` hook (or debug log), counted as `before_send`.
    pub(crate) dropped_panic: AtomicU64,
    pub(crate) final_stats: Mutex<Option<Stats>>,
}

struct Shared {
    tx: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
    capacity: usize,
    closed: AtomicBool,
    clock: Arc<dyn HostClock>,
    /// Persistent clients: how long dropping the last handle waits for the worker to have
    /// written what was tracked (`close_timeout`).
    drop_wait: Option<Duration>,
    worker: std::thread::ThreadId,
}

impl Drop for Shared {
    /// The last handle is gone: wait (at most `close_timeout`) until the worker has applied —
    /// and written to the data dir — everything tracked, so a process that exits right after
    /// dropping its client loses nothing. Not on the worker's own thread (a handle owned by a
    /// hook), where waiting would only time out.
    fn drop(&mut self) {
        let Some(wait) = self.drop_wait else { return };
        if std::thread::current().id() == self.worker {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Command::Sync(Reply::Blocking(tx))).is_ok() {
            let _ = rx.recv_timeout(wait);
        }
    }
}

/// The native Footfall client. See the module docs.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// Configures a [`Client`]; start with [`Client::builder`].
pub struct ClientBuilder {
    config: Config,
    store: Option<Box<dyn Store>>,
    data_dir: Option<PathBuf>,
    sync_writes: bool,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn HostClock>,
    rng: Box<dyn Rng>,
    hooks: Vec<crate::BeforeSend>,
    debug_log: Option<crate::stats::DebugLog>,
    channel_capacity: usize,
    http_timeout: Duration,
    close_timeout: Duration,
    root_certificates: Vec<Vec<u8>>,
}

impl ClientBuilder {
    /// The whole configuration (e.g. from [`Config::from_yaml`]); keeps the endpoint and write
    /// key set on this builder only if the config leaves them at their defaults.
    pub fn config(mut self, config: Config) -> Self {
        let (endpoint, key) = (
            self.config.delivery.endpoint.clone(),
            self.config.delivery.write_key.clone(),
        );
        let defaults = crate::config::DeliveryConfig::default();
        self.config = config;
        if self.config.delivery.endpoint == defaults.endpoint {
            self.config.delivery.endpoint = endpoint;
        }
        if self.config.delivery.write_key.is_empty() {
            self.config.delivery.write_key = key;
        }
        self
    }

    /// The collector's base URL (default `http://localhost:8080`).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.config.delivery.endpoint = endpoint.into();
        self
    }

    /// Persist identity and queue in `dir` with a [`FileStore`] (default: memory only). The
    /// directory is created if missing. Several clients may share one data dir — other
    /// processes of the same service (pre-fork workers, an overlapping restart) or this one:
    /// the first uses `dir` itself, each other one a `dir/slot-N` of its own (at most
    /// [`super::MAX_SLOTS`] at a time; beyond, `build` fails with a clear error). A new slot
    /// starts with the anonymous id, session and consent choices persisted in `dir`. Events a
    /// client left queued when it stopped or died are delivered by the next client that starts
    /// on `dir`, or by one running there (checked about every minute), with their
    /// `messageId`s. See the durability section of the module docs of `footfall::native`.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// `fsync` every data-dir write (default off; see [`FileStore::with_sync`]).
    pub fn sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// A custom store (overrides `data_dir`). It counts as persistent.
    pub fn store(mut self, store: Box<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// A custom transport (default: [`HttpTransport`] to `{endpoint}/v1/batch`).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// A custom clock (default: the system clock; tests use `testing::ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn HostClock>) -> Self {
        self.clock = clock;
        self
    }

    /// A custom random generator (default: the OS's).
    pub fn rng(mut self, rng: Box<dyn Rng>) -> Self {
        self.rng = rng;
        self
    }

    /// Adds a `before_send` hook.
    pub fn before_send(mut self, hook: impl Fn(Message) -> Option<Message> + Send + Sync + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Receives the debug log (default: `tracing` events under target `footfall`).
    pub fn debug_log(mut self, log: impl Fn(&LogEvent<'_>) + Send + Sync + 'static) -> Self {
        self.debug_log = Some(Box::new(log));
        self
    }

    /// At most this many tracked events wait for the worker; beyond, `track` drops
    /// (`queue_full`). Default `10000` events.
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity.max(1);
        self
    }

    /// Trusts the CA certificate(s) in `pem` for HTTPS, besides the built-in roots: Mozilla's
    /// and the system's (`/etc/ssl/certs`, or the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name),
    /// e.g. for a collector behind a company CA or a self-signed certificate. Call it once per
    /// PEM; one that holds no certificate fails [`build`](Self::build). Default: none. Not used
    /// with a custom [`transport`](Self::transport).
    pub fn add_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Timeout of one HTTP request. Default 10 s.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// When every handle is dropped without [`Client::shutdown`], the worker keeps trying to
    /// deliver for this long. With a data dir, dropping the last handle also waits (at most
    /// this long, real time) until everything tracked is written there. Default 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Restores persisted state, starts the worker thread and returns the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let mut adopter = None;
        let (store, persistent): (Box<dyn Store>, bool) = match (self.store, &self.data_dir) {
            (Some(store), _) => (store, true),
            (None, Some(dir)) => {
                let store = FileStore::open(dir)?.with_sync(self.sync_writes);
                adopter = store.adopter();
                (Box::new(store), true)
            }
            (None, None) => (Box::new(NullStore), false),
        };
        let now = self.clock.now_ms();
        let matcher = Box::new(super::RegexMatcher::default());
        let mut core = Core::with_pattern_matcher(self.config, store, self.rng, matcher, now)?;
        core.set_debug_log(self.debug_log.unwrap_or_else(|| Box::new(log_to_tracing)));
        // At start and every `delivery.settings_refresh` (a transport that cannot fetch turns
        // this off on the first try).
        core.set_settings_fetch(true);
        for hook in self.hooks {
            core.add_before_send(hook);
        }
        let transport: Arc<dyn Transport> = match self.transport {
            Some(t) => t,
            None => Arc::new(
                HttpTransport::with_roots(
                    core.batch_url(),
                    core.authorization(),
                    self.http_timeout,
                    &self.root_certificates,
                )
                .map_err(ClientError::Http)?,
            ),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Worker(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let close_timeout_ms = self.close_timeout.as_millis() as u64;
        let worker = Worker::new(
            core,
            rx,
            transport,
            self.clock.clone(),
            counters.clone(),
            persistent,
            close_timeout_ms,
        )
        .with_adopter(adopter, now);
        let thread = std::thread::Builder::new()
            .name("footfall-worker".into())
            .spawn(move || runtime.block_on(worker.run()))
            .map_err(|e| ClientError::Worker(e.to_string()))?;
        let shared = Shared {
            tx,
            counters,
            capacity: self.channel_capacity,
            closed: AtomicBool::new(false),
            clock: self.clock,
            drop_wait: persistent.then_some(self.close_timeout),
            worker: thread.thread().id(),
        };
        Ok(Client {
            shared: Arc::new(shared),
        })
    }
}

fn log_to_tracing(event: &LogEvent<'_>) {
    match event.level() {
        LogLevel::Warn => tracing::warn!(target: "footfall", "{event}"),
        LogLevel::Info => tracing::info!(target: "footfall", "{event}"),
        LogLevel::Debug => tracing::debug!(target: "footfall", "{event}"),
    }
}

impl Client {
    /// A builder with `write_key` (sent as the HTTP Basic username).
    pub fn builder(write_key: impl Into<String>) -> ClientBuilder {
        let mut config = Config::default();
        config.delivery.write_key = write_key.into();
        ClientBuilder {
            config,
            store: None,
            data_dir: None,
            sync_writes: false,
            transport: None,
            clock: Arc::new(SystemClock),
            rng: Box::new(OsRng),
            hooks: Vec::new(),
            debug_log: None,
            channel_capacity: 10_000,
            http_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            root_certificates: Vec::new(),
        }
    }

    /// A client for `config` (endpoint and write key from its `delivery` section), memory only.
    pub fn new(config: Config) -> Result<Client, ClientError> {
        let key = config.delivery.write_key.clone();
        Client::builder(key).config(config).build()
    }

    fn send(&self, command: Command) -> bool {
        self.shared.tx.send(command).is_ok()
    }

    /// Sends `event` through the pipeline. Returns at once; never blocks, never panics.
    pub fn track(&self, mut event: Event) {
        let s = &*self.shared;
        if s.closed.load(Ordering::Relaxed) {
            s.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if s.counters.in_channel.fetch_add(1, Ordering::AcqRel) >= s.capacity {
            s.counters.in_channel.fetch_sub(1, Ordering::AcqRel);
            s.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = s.clock.now_ms();
        event.timestamp.get_or_insert(now);
        if !self.send(Command::Track(event, now)) {
            s.counters.in_channel.fetch_sub(1, Ordering::AcqRel);
            s.counters.dropped_closed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn consent(&self, action: ConsentAction, categories: &[&str]) {
        let categories = categories.iter().map(|c| c.to_string()).collect();
        self.send(Command::Consent { action, categories });
    }

    /// Grants consent categories (see [`Core::grant`]).
    pub fn grant(&self, categories: &[&str]) {
        self.consent(ConsentAction::Grant, categories);
    }

    /// Denies consent categories (see [`Core::deny`]).
    pub fn deny(&self, categories: &[&str]) {
        self.consent(ConsentAction::Deny, categories);
    }

    /// Revokes consent categories (see [`Core::revoke`]).
    pub fn revoke(&self, categories: &[&str]) {
        self.consent(ConsentAction::Revoke, categories);
    }

    /// Grants every known category.
    pub fn grant_all(&self) {
        self.consent(ConsentAction::GrantAll, &[]);
    }

    /// Denies every known category but `necessary`.
    pub fn deny_all(&self) {
        self.consent(ConsentAction::DenyAll, &[]);
    }

    /// Reports GPC / DNT signals (see [`Core::set_privacy_signals`]).
    pub fn set_privacy_signals(&self, signals: PrivacySignals) {
        self.send(Command::Signals(signals));
    }

    /// Logout: new anonymous id, no user id, no session.
    pub fn reset(&self) {
        self.send(Command::Reset);
    }

    /// Registers super properties (added to every track/page/screen): a [`Properties`] map or
    /// a `serde_json` map.
    pub fn register(&self, properties: impl Into<Properties>) {
        self.send(Command::Register(properties.into()));
    }

    /// Removes a super property.
    pub fn unregister(&self, key: &str) {
        self.send(Command::Unregister(key.to_string()));
    }

    pub(crate) fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<oneshot::Receiver<T>> {
        let (tx, rx) = oneshot::channel();
        self.send(make(Reply::Async(tx))).then_some(rx)
    }

    pub(crate) fn request_blocking<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        if !self.send(make(Reply::Blocking(tx))) {
            return None;
        }
        rx.recv().ok()
    }

    /// Sends everything queued now (ignoring batch size and flush interval) and waits until
    /// each batch got an answer. Does not wait through a retry backoff: returns how many
    /// messages are still queued (0 when everything was delivered or dropped).
    pub async fn flush(&self) -> usize {
        match self.request(Command::Flush) {
            Some(rx) => rx.await.unwrap_or(0),
            None => 0,
        }
    }

    /// Waits until everything tracked on this client before the call has reached the worker
    /// and, with a data dir, been written there (`queue.log`; `fsync`ed with
    /// [`ClientBuilder::sync_writes`]). From then on those events survive the process being
    /// killed (`SIGKILL`, `panic = "abort"`, `std::process::exit`) — and, with `sync_writes`,
    /// a power loss — and are delivered by the next client on the data dir. It does not wait
    /// for delivery (see [`Client::flush`]). Events waiting for a consent decision stay in
    /// memory by design. A failed write does not fail it (it is counted in
    /// [`Stats::store_errors`] with a warning). `false` once the client is shut down.
    pub async fn sync(&self) -> bool {
        match self.request(Command::Sync) {
            Some(rx) => rx.await.is_ok(),
            None => false,
        }
    }

    pub(crate) fn mark_closed(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Stops accepting events, then keeps delivering (with retries) until the queue is empty
    /// or `timeout` (on the client's clock) has passed. Undelivered messages stay in the data
    /// dir for the next start, or, without one, are counted as dropped (`shutdown`).
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.shared.closed.store(true, Ordering::Relaxed);
        let deadline_ms = self
            .shared
            .clock
            .now_ms()
            .saturating_add(timeout.as_millis() as u64);
        match self.request(|reply| Command::Shutdown { deadline_ms, reply }) {
            Some(rx) => rx.await.unwrap_or(ShutdownReport {
                sent: 0,
                unsent: 0,
                persisted: false,
            }),
            None => ShutdownReport {
                sent: self.final_stats().sent,
                unsent: 0,
                persisted: false,
            },
        }
    }

    /// The counters (the core's, plus events `track` refused before reaching it).
    pub async fn stats(&self) -> Stats {
        let stats = match self.request(Command::Stats) {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        self.with_handle_drops(stats.unwrap_or_else(|| self.final_stats()))
    }

    /// The privacy settings in force: the local configuration merged with the privacy team's
    /// settings from `{endpoint}/v1/settings` (fetched at start and every
    /// `delivery.settings_refresh`, persisted in the data dir), stricter wins. The local
    /// configuration's alone until server settings are known.
    pub async fn privacy_settings(&self) -> Option<PrivacySettings> {
        self.request(Command::Privacy)?.await.ok()
    }

    pub(crate) fn final_stats(&self) -> Stats {
        self.shared
            .counters
            .final_stats
            .lock()
            .map(|s| s.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    pub(crate) fn with_handle_drops(&self, mut stats: Stats) -> Stats {
        let c = &self.shared.counters;
        stats.count_drop(DropReason::QueueFull, c.dropped_full.load(Ordering::Relaxed));
        stats.count_drop(DropReason::Shutdown, c.dropped_closed.load(Ordering::Relaxed));
        stats.count_drop(DropReason::BeforeSend, c.dropped_panic.load(Ordering::Relaxed));
        stats
    }

    /// Stops the worker like a crash: nothing more is sent, written or persisted, in-flight
    /// requests are abandoned. Returns once the worker has stopped (test-only).
    #[cfg(feature = "testing")]
    pub async fn kill(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        if let Some(rx) = self.request(Command::Kill) {
            let _ = rx.await;
        }
    }
}

impl Tracker for Client {
    fn track(&self, event: Event) {
        Client::track(self, event);
    }
}
