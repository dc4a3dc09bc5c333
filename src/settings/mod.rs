//! Per-project privacy settings, set centrally by a privacy team: the JSON of the collector's
//! `GET /v1/settings` (what SDKs fetch) and of its admin API
//! (`GET/PUT /v1/admin/projects/{id}/privacy`), plus [`merge`], the pure "stricter wins"
//! combination of the server's settings with an SDK's local configuration.
//!
//! # The wire format
//!
//! ```json
//! {"anonymize_ip": true, "store_raw_ip": false, "hash_user_id": false,
//!  "pii_scrubbing": false, "pii_patterns": [],
//!  "property_deny_list": [], "url_param_deny_list": ["gclid", "fbclid", "..."],
//!  "consent_mode": "opt_out", "consent_categories": {"marketing": "opt_in"},
//!  "respect_gpc": true, "respect_dnt": false,
//!  "tracking_plan": {"strict": false,
//!                    "events": {"purchase": {"enabled": true, "properties": ["amount", "currency"]}}},
//!  "retention": {"events_days": 365, "sessions_days": 90, "users_days": 3650},
//!  "bots": "tag"}
//! ```
//!
//! Every field is optional on input (absent = its default, listed on each field) and unknown
//! fields are errors. The salt of `hash_user_id` is never part of this type: the collector keeps
//! it (see `hash_user_id`).
//!
//! # "At least as private" (the order [`merge`] climbs)
//!
//! [`PrivacySettings::is_at_least_as_private_as`] defines, field by field, when settings `a`
//! protect at least as much as `b`:
//!
//! | field | `a` at least as private as `b` when |
//! |---|---|
//! | `anonymize_ip`, `hash_user_id`, `pii_scrubbing`, `respect_gpc`, `respect_dnt` | `a ≥ b` (true protects) |
//! | `store_raw_ip` | `a ≤ b` (false protects) |
//! | `pii_patterns` | `a ⊇ b` |
//! | `property_deny_list`, `url_param_deny_list` | `a ⊇ b`, names compared case-insensitively |
//! | consent | for every category `c`: `mode_a(c) ≥ mode_b(c)` with `opt_in > opt_out`, where `mode(c)` is `consent_categories[c]`, else `consent_mode` |
//! | `tracking_plan` | for every event name and every set of property names, what `a` lets through ⊆ what `b` lets through, a rejected event letting nothing through (see [`TrackingPlan::outcome`]) |
//! | `retention.*_days` | `a ≤ b` |
//! | `bots` | `reject ≥ tag` |
//!
//! [`merge`] returns the least upper bound field by field: booleans that protect are OR-ed (and
//! `store_raw_ip` AND-ed), deny lists and patterns are united, consent takes the stricter mode per
//! category, tracking plans intersect (an event disabled on either side is disabled; allowed
//! properties are intersected; an event only one side lists is disabled when the other side's
//! plan is strict; strict if either is), retention takes the minimum, `reject` beats `tag`. The
//! result is therefore never less private than either input (property-tested in
//! `tests/settings_merge.rs`).
//!
//! # Using it in an SDK
//!
//! Keep the local configuration as loaded; on every fetch (and at start, from the last persisted
//! settings) [`PrivacySettings::merge_into`] a *copy* of it: the same result as
//! `merge(&server, &PrivacySettings::from_config(&local))` for every field the configuration
//! holds (property-tested), computed in place. Never merge into an already merged
//! configuration: a setting the privacy team loosens again must loosen the SDK too.
//! [`PrivacySettings::from_config`] maps what the local configuration does not express to the
//! neutral value (no opinion), so only the server decides those fields.
//!
//! # Layout
//! The model (this file: the types, their defaults and [`SettingsError`]), checking it
//! (`validate.rs`: [`PrivacySettings::validate`]) and combining it (`merging.rs`: [`merge`],
//! [`PrivacySettings::merge_into`], [`PrivacySettings::from_config`] and the privacy order).
//! Reading and writing the JSON without serde is `settings_json.rs` at the crate root.

use crate::config::DEFAULT_URL_PARAM_DENY_LIST;
use crate::map::NameMap;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

mod merging;
#[cfg(test)]
mod tests;
mod validate;

pub use merging::merge;

/// Longest accepted deny list, pattern list, category map or tracking plan (entries).
pub const MAX_LIST: usize = 1000;
/// Longest accepted retention, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Consent requirement of a category, ordered by strictness (`OptOut < OptIn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ConsentMode {
    /// Allowed until the person refuses (a message without consent information is allowed).
    #[default]
    OptOut,
    /// Allowed only after the person agreed (a message without consent information is refused).
    OptIn,
}

impl From<crate::config::ConsentMode> for ConsentMode {
    fn from(m: crate::config::ConsentMode) -> Self {
        match m {
            crate::config::ConsentMode::OptIn => ConsentMode::OptIn,
            crate::config::ConsentMode::OptOut => ConsentMode::OptOut,
        }
    }
}

impl From<ConsentMode> for crate::config::ConsentMode {
    fn from(m: ConsentMode) -> Self {
        match m {
            ConsentMode::OptIn => crate::config::ConsentMode::OptIn,
            ConsentMode::OptOut => crate::config::ConsentMode::OptOut,
        }
    }
}

/// What the collector does with messages from bots (by user agent), ordered `Tag < Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum BotHandling {
    /// Store them flagged `is_bot` (excluded from analytics by default).
    #[default]
    Tag,
    /// Refuse them (reason `bot`, kept in the dead-letter table).
    Reject,
}

/// One event of the tracking plan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct EventPlan {
    /// Default `true`; `false` refuses the event.
    pub enabled: bool,
    /// The allowed property names (exact). Default absent: any property.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub properties: Option<Vec<String>>,
}

impl Default for EventPlan {
    fn default() -> Self {
        EventPlan {
            enabled: true,
            properties: None,
        }
    }
}

/// The tracking plan (the seed's `events:` section). It applies to `track` messages, by event
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct TrackingPlan {
    /// Default `false`: properties a listed event does not allow are removed and unlisted events
    /// pass. `true`: an unlisted event, or a listed one carrying a property it does not allow, is
    /// refused. Strictness needs a plan: with no events listed, everything passes.
    pub strict: bool,
    /// Event name → its plan. Default empty (no plan).
    pub events: NameMap<EventPlan>,
}

impl TrackingPlan {
    /// Whether the plan refuses events it does not list (strict, and not empty).
    pub fn is_effectively_strict(&self) -> bool {
        self.strict && !self.events.is_empty()
    }

    /// What the plan lets through of a `track` event named `event` carrying the properties
    /// `properties` (top-level names): `None` when the event is refused (disabled, unlisted in a
    /// strict plan, or carrying a property a strict plan does not allow), else the names kept.
    pub fn outcome<'a>(&self, event: &str, properties: &[&'a str]) -> Option<Vec<&'a str>> {
        let Some(spec) = self.events.get(event) else {
            return (!self.is_effectively_strict()).then(|| properties.to_vec());
        };
        if !spec.enabled {
            return None;
        }
        let Some(allowed) = &spec.properties else {
            return Some(properties.to_vec());
        };
        let is_allowed = |p: &&str| allowed.iter().any(|a| a == p);
        if self.strict {
            properties.iter().all(is_allowed).then(|| properties.to_vec())
        } else {
            Some(properties.iter().copied().filter(is_allowed).collect())
        }
    }
}

/// How long data is kept, in days.
///
/// * `events_days`: events with a timestamp older than this are deleted.
/// * `sessions_days`: events older than this lose their session id (the column is cleared), so
///   sessions can no longer be reconstructed; the events stay until `events_days`.
/// * `users_days`: identity links (anonymous id → user id) made longer ago than this are deleted,
///   so that device is no longer attributed to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct Retention {
    /// Default 365.
    pub events_days: u32,
    /// Default 90.
    pub sessions_days: u32,
    /// Default 3650.
    pub users_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_days: 365,
            sessions_days: 90,
            users_days: 3650,
        }
    }
}

impl Retention {
    /// No limit: what a local SDK configuration (which has no retention) contributes to a merge.
    pub const UNLIMITED: Retention = Retention {
        events_days: u32::MAX,
        sessions_days: u32::MAX,
        users_days: u32::MAX,
    };
}

/// A project's privacy settings (see the module docs for the JSON and the privacy order).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct PrivacySettings {
    /// Truncate IP addresses (IPv4 last octet, IPv6 last 80 bits) in SDKs and in the collector.
    /// Default `true`.
    pub anonymize_ip: bool,
    /// The collector stores full IP addresses (only possible with `anonymize_ip` off, and never
    /// for a message that says `context.anonymizeIp: true`). Default `false`.
    pub store_raw_ip: bool,
    /// User ids become hex HMAC-SHA256(salt, userId), the core's `hash_id`. The salt is held by
    /// the collector and never sent to SDKs: SDKs without a local salt leave hashing to the
    /// collector, which never hashes an id that already is 64 lowercase hex characters. Default
    /// `false`.
    pub hash_user_id: bool,
    /// Redact property and trait values that look like emails, phone numbers or card numbers,
    /// or match one of `pii_patterns` (replaced by `"[redacted]"`). Default `false`.
    pub pii_scrubbing: bool,
    /// Extra PII patterns (regular expressions, the syntax common to Rust's `regex` crate and
    /// JavaScript: no look-around, no back-references), applied when `pii_scrubbing` is on.
    /// Default empty.
    pub pii_patterns: Vec<String>,
    /// Property and trait names (case-insensitive, any depth) that must never be stored.
    /// Default empty.
    pub property_deny_list: Vec<String>,
    /// Query parameters removed from page URLs (`url`, `referrer`, `search`; case-insensitive).
    /// Default: common ad click ids (`gclid`, `fbclid`, ...).
    pub url_param_deny_list: Vec<String>,
    /// Consent requirement of categories `consent_categories` does not list. Default `opt_out`.
    pub consent_mode: ConsentMode,
    /// Category → its consent requirement (`necessary` always passes and cannot be listed).
    /// Default empty.
    pub consent_categories: NameMap<ConsentMode>,
    /// Honour Global Privacy Control (`Sec-GPC: 1`). Default `true`.
    pub respect_gpc: bool,
    /// Honour Do Not Track (`DNT: 1`). Default `false`.
    pub respect_dnt: bool,
    /// The tracking plan. Default: none.
    pub tracking_plan: TrackingPlan,
    /// Data retention. Default 365 / 90 / 3650 days.
    pub retention: Retention,
    /// Bot handling. Default `tag`.
    pub bots: BotHandling,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            anonymize_ip: true,
            store_raw_ip: false,
            hash_user_id: false,
            pii_scrubbing: false,
            pii_patterns: Vec::new(),
            property_deny_list: Vec::new(),
            url_param_deny_list: crate::text::owned(&DEFAULT_URL_PARAM_DENY_LIST),
            consent_mode: ConsentMode::OptOut,
            consent_categories: NameMap::new(),
            respect_gpc: true,
            respect_dnt: false,
            tracking_plan: TrackingPlan::default(),
            retention: Retention::default(),
            bots: BotHandling::Tag,
        }
    }
}

/// A setting that is not acceptable; `field` is its JSON path (`retention.events_days`,
/// `property_deny_list[2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for SettingsError {}

impl PrivacySettings {
    /// The consent requirement of `category` (`necessary` is always `opt_out`).
    pub fn consent_for(&self, category: &str) -> ConsentMode {
        if category == "necessary" {
            return ConsentMode::OptOut;
        }
        self.consent_categories
            .get(category)
            .copied()
            .unwrap_or(self.consent_mode)
    }
}
