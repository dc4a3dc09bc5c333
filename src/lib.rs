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
//! # Server settings (the privacy control plane)
//!
//! A privacy team sets each project's privacy settings centrally ([`settings::PrivacySettings`],
//! served by the collector at `GET {endpoint}/v1/settings`). The core obeys them together with
//! its local configuration, **the stricter setting always winning** ([`settings::merge`]):
//!
//! - **Fetching** is the host's I/O, the core's decision. A host that fetches calls
//!   [`Core::set_settings_fetch`]`(true)`; then [`Core::next_wakeup`] also covers the next fetch
//!   and [`Core::poll_settings`] hands out a [`settings_fetch::SettingsRequest`] when one is due:
//!   at start, then every `delivery.settings_refresh` (default `300` seconds; `0` turns fetching
//!   off), one at a time. The host GETs it (write key as HTTP Basic username or `?writeKey=`,
//!   `If-None-Match` with the ETag) and reports a [`settings_fetch::SettingsResponse`] with
//!   [`Core::report_settings`]: new settings apply at once; a 304, or a 200 with the same ETag or
//!   body, only confirms them; a failure (or an unreadable body) is retried after a backoff
//!   (`delivery.backoff_base` doubling up to `delivery.backoff_cap`, never longer than the
//!   refresh) while the settings in force stay. Delivery never waits for a fetch, except on a
//!   first start with no settings known: then batches wait for the first answer, at most
//!   [`settings_fetch::SETTINGS_WAIT_MS`] (5 s). No fetch is made while the *local*
//!   configuration lets nothing but `necessary` through (opt-in without consent, every category
//!   denied by GPC/DNT): a page that promised "no request before consent" keeps that promise.
//!   Hosts that get settings elsewhere call [`Core::apply_server_settings`].
//! - **Merging** always starts from the local configuration ([`Core::local_config`]): the
//!   configuration in force ([`Core::config`]) is `merge(server, from_config(local))` applied to
//!   a copy of it ([`settings::PrivacySettings::merge_into`], in place), so when the privacy team
//!   loosens a setting again the SDK loosens too (down to what the local configuration says). [`Core::effective_settings`] shows the result.
//!   Per-category consent modes (`consent_categories`) apply in the core too, and so do custom
//!   `pii_patterns` (with `pii_scrubbing`): the core has no regex engine, the host provides one
//!   through [`pipeline::patterns::PatternMatcher`] ([`Core::with_pattern_matcher`]; natively the
//!   `regex` crate, in the browser JavaScript's `RegExp`), so a matching value is redacted
//!   before it leaves the device; a pattern the host's engine refuses is skipped with a warning
//!   ([`Stats::invalid_patterns`]) and the collector, which re-applies every pattern with Rust's
//!   `regex`, still enforces it. Not enforced by the SDKs, left to the collector: `hash_user_id`
//!   without a local `privacy.hash_salt` (the salt stays on the server), `store_raw_ip`,
//!   retention and bot handling.
//! - **Persistence**: the last known settings (with their ETag and fetch time) go through
//!   [`Store::save_settings`] and are restored by [`Core::new`] before anything is sent, so an
//!   offline start obeys them (the browser writes them only once storage is allowed).
//! - **What is already queued obeys the new settings too** (see `state_machine/settings_in_force.rs`):
//!   events of a category that is no longer granted — e.g. after a switch to `opt_in` — are
//!   purged from memory and store (`consent`); events the tracking plan no longer allows are
//!   dropped (`disabled`, `not_in_plan`); the others are re-anonymized and rewritten in place with
//!   the same message id ([`Store::replace`]): denied properties and URL parameters removed, IP
//!   truncated and flagged, PII redacted (custom patterns included), user ids hashed. Events waiting for consent get the new
//!   plan at once and the rest when released; a batch out at the time is re-checked if it comes
//!   back for another attempt. Loosening releases what now may go (pending events of a category
//!   now granted).
//!
//! Consent: [`Core::grant`], [`Core::deny`], [`Core::revoke`], [`Core::grant_all`],
//! [`Core::deny_all`], [`Core::set_privacy_signals`], [`Core::set_initial_privacy_signals`].
//! Identity: `identify`/`alias` events, [`Core::reset`], [`Core::anonymous_id`]. Enrichment:
//! [`Core::register`], [`Core::set_default_context`], `Core::add_before_send` (feature `serde`).
//! Server settings: [`Core::set_settings_fetch`], [`Core::poll_settings`],
//! [`Core::report_settings`], [`Core::apply_server_settings`], [`Core::effective_settings`],
//! [`Core::server_settings`], [`Core::settings_etag`], [`Core::settings_fetched_at`].
//! Hosts sharing storage (browser tabs): [`Core::restore_messages`], [`Core::sync_state`],
//! [`Core::retry_now`], [`Core::set_write_key_in_body`]. Observability: [`Core::stats`],
//! [`Core::set_debug_log`].
//!
//! # Features
//! - `native` (default): the tokio + reqwest client, the file store, YAML config, the `regex`
//!   crate for custom PII patterns (implies `serde` and `yaml`).
//! - `serde`: the wire types of [`message`] (`Message`, `Batch`, ...) and `Serialize` /
//!   `Deserialize` for the public types, before-send hooks, and the builder API accepting
//!   anything `Serialize`. The collector enables it.
//! - `yaml`: `Config::from_yaml`.
//! - `ip`: truncation of `context.ip` (address parsing and printing); without it a caller's
//!   `context.ip` is removed under `anonymize_ip` (the collector truncates the request's
//!   address). `native` enables it; the browser, which never knows its address, does not.
//! - `http-date`: `Retry-After` as an HTTP date (delta-seconds always work). `native` enables
//!   it; the browser host converts a date to seconds itself.
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
//! - [`settings`]: the privacy team's settings and the stricter-wins merge (read without serde
//!   too: `PrivacySettings::from_json`); [`settings_fetch`]: the fetch exchange and its record.
//! - [`pipeline`]: validate, plan, enrich, anonymize — one small function per step (custom PII
//!   patterns: [`pipeline::patterns`], matched by the host's regex engine).
//! - [`consent`], [`session`], [`delivery`] (retry policy), [`stats`], [`store`], [`rng`],
//!   [`clock`], [`platform`] (the only wasm32/native difference).
//! - `native` (feature `native`): [`Client`], the blocking facade, the file store, HTTP (the
//!   client fetches the settings with its transport and keeps them in the data dir), the
//!   `regex`-backed [`native::RegexMatcher`] for custom PII patterns.
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
pub mod settings_fetch;
mod settings_json;
mod state_machine;
pub mod stats;
pub mod store;
pub mod text;
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
