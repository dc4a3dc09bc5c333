//! The event pipeline, one small function per step, run in this order by [`crate::Core`]:
//!
//! 1. [`validate`]: names, ids and values are well-formed (`invalid`).
//! 2. [`plan`]: the tracking plan (`disabled`, `not_in_plan`, unlisted properties removed).
//! 3. consent ([`crate::consent`]): denied → dropped (`consent`); pending → held in memory.
//! 4. [`enrich`]: ids, timestamp, session and caller context ([`enrich::stamp`], at track time,
//!    so an event waiting for consent keeps its facts); library, super properties and consent
//!    state are added when the message is written (`wire.rs`); the browser host adds the
//!    page's [`campaign`] (UTM parameters) to the default context.
//! 5. [`anonymize`] (+ [`pii`], [`patterns`], [`ip`], [`hash`]): IP truncation, user id
//!    hashing, PII scrubbing (built-in detector and the custom patterns, matched by the host's
//!    regex engine), deny lists.
//! 6. before-send hooks (`BeforeSend`, feature `serde`), then serialization, the size limit
//!    (`too_large`) and the queue.
//!
//! Step 4's shared parts (library, consent state, super properties, the default context) are
//! written straight into each message's JSON instead of being copied into each message (the
//! result is the same JSON; super properties and the default context are anonymized once, when
//! set), which keeps `track()` at a handful of allocations.
//!
//! [`recheck`] re-runs steps 2 and 5 on a message already queued, when the privacy team's
//! settings change (see [`crate::settings`]).
//!
//! Each step either passes the event/message on (possibly changed) or says why it is dropped
//! with a [`Rejected`] value; the core counts the drop and logs it.

pub mod anonymize;
pub mod campaign;
pub mod enrich;
pub mod hash;
#[cfg(feature = "ip")]
pub mod ip;
/// Without the `ip` feature (the browser bundle): `context.ip` is removed instead of truncated.
#[cfg(not(feature = "ip"))]
#[path = "ip_absent.rs"]
pub mod ip;
pub mod patterns;
pub mod pii;
pub mod plan;
pub mod recheck;
pub mod validate;

use crate::stats::DropReason;

/// A pipeline step refused the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: DropReason,
    pub detail: String,
}

impl Rejected {
    pub fn new(reason: DropReason, detail: impl Into<String>) -> Rejected {
        Rejected {
            reason,
            detail: detail.into(),
        }
    }
}
