//! [`ClientBuilder`]: the client's options, and [`ClientBuilder::build`], which restores the
//! persisted state and starts the worker thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Client, ClientError, Counters, Shared};
use crate::Core;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::message::Message;
use crate::native::worker::Worker;
use crate::native::{FileStore, HostClock, HttpTransport, Transport};
use crate::rng::{OsRng, Rng};
use crate::stats::{LogEvent, LogLevel};
use crate::store::{NullStore, Store};

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
    /// [`crate::native::MAX_SLOTS`] at a time; beyond, `build` fails with a clear error). A new slot
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
        let matcher = Box::new(crate::native::RegexMatcher::default());
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
}
