//! Footfall core SDK.
//!
//! One Rust core for the event model, pipeline, queue, batching, sessions, identity, consent,
//! anonymization and delivery policy, compiled natively for servers and to WebAssembly for
//! browsers. The core does no I/O and owns no threads, runtime or timers: it is a state machine
//! ([`Core`]) that a host drives with an explicit `now` (ms since the Unix epoch). Side effects
//! are small traits the host implements: [`Store`] (synchronous persistence), [`Rng`], and for
//! the native host [`Clock`] and `native::Transport`. The native client ([`Client`], feature
//! `native`, on by default) is such a host: a tokio task with reqwest and a file store. The
//! browser bindings (`bindings/wasm`) are another: `localStorage`, `fetch`/`sendBeacon`,
//! `setTimeout`.
//!
//! **The host-facing API of [`Core`] (construction, `track`, consent, identity, super
//! properties, `next_wakeup`/`poll_batch`/`flush_all`/`report`, stats, hooks) is stable:
//! hosts can build on it; changes to it will be additive.**
//!
//! # Driving the core
//!
//! ```
//! use footfall::{Config, Core, Delivery, Event, consent::PrivacySignals};
//! use footfall::testing::{MemoryStore, SeededRng}; // a host brings its own Store and Rng
//!
//! let config = Config::from_json(r#"{"analytics": {"tracking": {"batch_size": 2}}}"#)?;
//! let mut now = 1_764_324_000_000; // ms since the epoch, from the host's clock
//! // Restores the anonymous id, session, consent choices and queued events from the store.
//! let mut core = Core::new(config, Box::new(MemoryStore::new()), Box::new(SeededRng::new(7)), now)?;
//! core.set_debug_log(Box::new(|e| eprintln!("[footfall] {e}")));
//! core.set_initial_privacy_signals(PrivacySignals { gpc: false, dnt: false }, now); // if known
//!
//! core.track(Event::track("signed_up").property("plan", "pro"), now);
//! core.track(Event::page_view("https://shop.example/", None, Some("Home")), now);
//!
//! // The host loop: after each track / consent change / report, and whenever
//! // `now >= core.next_wakeup(now)`, take the ready batches and send them.
//! assert_eq!(core.next_wakeup(now), Some(now)); // batch_size reached: due right away
//! while let Some(batch) = core.poll_batch(now) {
//!     // POST batch.body to core.batch_url() with core.authorization() ... then:
//!     let outcome = Delivery::Http { status: 503, retry_after: Some("2".into()), body: None };
//!     core.report(batch.id, outcome, now);
//! }
//! assert_eq!(core.next_wakeup(now), Some(now + 2_000)); // Retry-After honoured
//! now += 2_000;
//! let batch = core.poll_batch(now).expect("retry is due");
//! core.report(batch.id, Delivery::status(200), now);
//! assert_eq!(core.stats().sent, 2);
//!
//! // Page hide: everything left, in beacon-sized chunks with the write key in the body.
//! core.track(Event::track("left"), now);
//! for beacon in core.flush_all(now, 64 * 1024, true) {
//!     let queued = true; // navigator.sendBeacon(url, beacon.body)
//!     core.report(beacon.id, Delivery::Beacon { queued }, now);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Consent: [`Core::grant`], [`Core::deny`], [`Core::revoke`], [`Core::grant_all`],
//! [`Core::deny_all`], [`Core::set_privacy_signals`], [`Core::set_initial_privacy_signals`].
//! Identity: `identify`/`alias` events, [`Core::reset`], [`Core::anonymous_id`]. Enrichment:
//! [`Core::register`], [`Core::set_default_context`], `Core::add_before_send` (feature `serde`).
//! Hosts sharing storage (browser tabs): [`Core::restore_messages`], [`Core::sync_state`],
//! [`Core::retry_now`], [`Core::set_write_key_in_body`]. Observability: [`Core::stats`],
//! [`Core::set_debug_log`].
//!
//! # Features
//! - `native` (default): the tokio + reqwest client, the file store, YAML config (implies
//!   `serde` and `yaml`).
//! - `serde`: the wire types of [`message`] (`Message`, `Batch`, ...) and `Serialize` /
//!   `Deserialize` for the public types, before-send hooks, and the builder API accepting
//!   anything `Serialize`. The collector enables it.
//! - `yaml`: `Config::from_yaml`.
//! - `testing`: deterministic test doubles.
//!
//! Without features (the browser build) the core depends on no serialization crate: JSON is
//! read and written by [`json`], and the output is byte-compatible with serializing the wire
//! types with serde (tested against the golden fixtures).
//!
//! # Modules
//! - [`message`]: the wire format (shared with the collector); [`time`]: RFC 3339 by hand.
//! - [`json`]: the core's JSON (value, parser, writer); [`map`]: its one map type.
//! - [`config`]: `analytics_config.yaml` as plain types; [`event`]: the event API input.
//! - [`pipeline`]: validate, plan, enrich, anonymize — one small function per step.
//! - [`consent`], [`session`], [`delivery`] (retry policy), [`stats`], [`store`], [`rng`],
//!   [`clock`], [`platform`] (the only wasm32/native difference).
//! - `native` (feature `native`): [`Client`], the blocking facade, the file store, HTTP.
//! - `testing` (feature `testing`): manual clock, seeded rng, memory store, memory transport.

pub mod clock;
pub mod config;
pub mod consent;
pub mod delivery;
pub mod event;
pub mod json;
pub mod map;
pub mod message;
pub mod pipeline;
pub mod platform;
pub(crate) mod queue;
pub mod rng;
pub mod session;
pub mod settings;
mod state_machine;
pub mod stats;
pub mod store;
pub mod time;
mod wire;

#[cfg(feature = "native")]
pub mod native;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "serde")]
pub use crate::state_machine::BeforeSend;
pub use crate::state_machine::{Core, LIBRARY_NAME, OutgoingBatch, basic_auth};
pub use clock::Clock;
pub use config::{Config, ConfigError, ConsentMode};
pub use consent::{ConsentDecision, PrivacySignals};
pub use delivery::Delivery;
#[cfg(feature = "serde")]
pub use event::Tracker;
pub use event::{Event, EventContext, Properties};
pub use message::MessageType;
#[cfg(feature = "serde")]
pub use message::{Batch, Message};
pub use rng::Rng;
pub use stats::{DropReason, LogEvent, Stats};
pub use store::{NullStore, Store};

#[cfg(feature = "native")]
pub use native::{BlockingClient, Client, ClientBuilder, FileStore};
