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

use crate::config::{Config, DEFAULT_URL_PARAM_DENY_LIST, EventSpec};
use crate::map::NameMap;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

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

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Result<(), SettingsError> {
    Err(SettingsError {
        field: field.into(),
        message: message.into(),
    })
}

fn check_names(field: &str, names: &[String]) -> Result<(), SettingsError> {
    if names.len() > MAX_LIST {
        return invalid(field, format!("at most {MAX_LIST} entries"));
    }
    for (i, n) in names.iter().enumerate() {
        if crate::text::blank(n) {
            return invalid(format!("{field}[{i}]"), "must not be empty");
        }
        if n.len() > 200 {
            return invalid(format!("{field}[{i}]"), "at most 200 bytes");
        }
    }
    Ok(())
}

fn contains_ci(list: &[String], name: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(name))
}

/// `a ∪ b`, in order, without repeats (compared case-insensitively when `ci`).
fn union(a: &[String], b: &[String], ci: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(a.len() + b.len());
    for x in a.iter().chain(b) {
        let seen = if ci { contains_ci(&out, x) } else { out.contains(x) };
        if !seen {
            out.push(x.clone());
        }
    }
    out
}

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

    /// Checks the values make sense; the error names the field. (The collector additionally
    /// compiles `pii_patterns`.)
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.store_raw_ip && self.anonymize_ip {
            return invalid(
                "store_raw_ip",
                "cannot be true while anonymize_ip is true (turn anonymize_ip off first)",
            );
        }
        check_names("property_deny_list", &self.property_deny_list)?;
        check_names("url_param_deny_list", &self.url_param_deny_list)?;
        if self.pii_patterns.len() > MAX_LIST {
            return invalid("pii_patterns", format!("at most {MAX_LIST} entries"));
        }
        for (i, p) in self.pii_patterns.iter().enumerate() {
            if p.is_empty() {
                return invalid(format!("pii_patterns[{i}]"), "must not be empty");
            }
        }
        if self.consent_categories.len() > MAX_LIST {
            return invalid("consent_categories", format!("at most {MAX_LIST} entries"));
        }
        for name in self.consent_categories.keys() {
            if crate::text::blank(name) {
                return invalid("consent_categories", "a category name is empty");
            }
            if name == "necessary" {
                return invalid(
                    "consent_categories.necessary",
                    "`necessary` always passes and cannot be given a consent mode",
                );
            }
        }
        let plan = &self.tracking_plan;
        if plan.events.len() > MAX_LIST {
            return invalid("tracking_plan.events", format!("at most {MAX_LIST} events"));
        }
        for (name, spec) in &plan.events {
            if crate::text::blank(name) {
                return invalid("tracking_plan.events", "an event name is empty");
            }
            if let Some(props) = &spec.properties {
                check_names(&format!("tracking_plan.events.{name}.properties"), props)?;
            }
        }
        let r = &self.retention;
        for (field, days) in [
            ("retention.events_days", r.events_days),
            ("retention.sessions_days", r.sessions_days),
            ("retention.users_days", r.users_days),
        ] {
            if days == 0 || days > MAX_RETENTION_DAYS {
                return invalid(field, format!("must be between 1 and {MAX_RETENTION_DAYS} days"));
            }
        }
        Ok(())
    }

    /// What an SDK's local configuration says, as settings. Fields the configuration cannot
    /// express take the neutral value, so a merge leaves them to the server: `store_raw_ip` is
    /// `!anonymize_ip`, `consent_categories` is empty, `retention` is
    /// [`Retention::UNLIMITED`] and `bots` is `tag`.
    pub fn from_config(config: &Config) -> PrivacySettings {
        let p = &config.privacy;
        let c = &config.consent;
        PrivacySettings {
            anonymize_ip: p.anonymize_ip,
            store_raw_ip: !p.anonymize_ip,
            hash_user_id: p.hash_user_id,
            pii_scrubbing: p.scrub_pii,
            pii_patterns: p.pii_patterns.clone(),
            property_deny_list: p.property_deny_list.clone(),
            url_param_deny_list: p.url_param_deny_list.clone(),
            consent_mode: config.consent_mode().into(),
            consent_categories: NameMap::new(),
            respect_gpc: c.respect_gpc,
            respect_dnt: c.respect_dnt,
            tracking_plan: TrackingPlan {
                strict: config.tracking.strict,
                events: {
                    let mut events = NameMap::new();
                    for (name, spec) in config.events.iter() {
                        let plan = EventPlan {
                            enabled: spec.enabled,
                            properties: spec.properties.clone(),
                        };
                        events.insert(name.clone(), plan);
                    }
                    events
                },
            },
            retention: Retention::UNLIMITED,
            bots: BotHandling::Tag,
        }
    }

    /// Merges these (server) settings into an SDK's local configuration in place, stricter
    /// wins: afterwards `config` is what `merge(self, &from_config(config))` says, for what the
    /// core enforces (IP anonymization, PII scrubbing and the custom `pii_patterns` — matched by
    /// the host's regex engine, see [`crate::pipeline::patterns`] —, deny lists, consent mode and
    /// signals, the tracking plan, a local event's `category` kept). `hash_user_id` is applied
    /// only when `config` has a `hash_salt` (otherwise the collector hashes). Returns the merged
    /// per-category consent modes, which `Config` cannot hold (the core keeps them beside it);
    /// `store_raw_ip`, `retention` and `bots` are server-side only. Call it on a *copy* of the
    /// local configuration, never on an already merged one (see the module docs). No
    /// `PrivacySettings` is built for the local side and nothing but the merged lists is copied.
    pub fn merge_into(&self, config: &mut Config) -> NameMap<ConsentMode> {
        let s = self;
        let local_mode = ConsentMode::from(config.consent_mode());
        let p = &mut config.privacy;
        p.anonymize_ip |= s.anonymize_ip;
        p.hash_user_id =
            (p.hash_user_id || s.hash_user_id) && p.hash_salt.as_deref().is_some_and(|x| !x.is_empty());
        p.scrub_pii |= s.pii_scrubbing;
        p.pii_patterns = union(&s.pii_patterns, &p.pii_patterns, false);
        p.property_deny_list = union(&s.property_deny_list, &p.property_deny_list, true);
        p.url_param_deny_list = union(&s.url_param_deny_list, &p.url_param_deny_list, true);
        let c = &mut config.consent;
        c.mode = Some(s.consent_mode.max(local_mode).into());
        c.respect_gpc |= s.respect_gpc;
        c.respect_dnt |= s.respect_dnt;

        let plan = &s.tracking_plan;
        let strict = (
            plan.is_effectively_strict(),
            config.tracking.strict && !config.events.is_empty(),
        );
        let mut events = NameMap::with_capacity(plan.events.len() + config.events.len());
        for name in plan.events.keys().chain(config.events.keys()) {
            if events.contains_key(name) {
                continue;
            }
            let local = config.events.get(name);
            let server = plan.events.get(name).map(|x| (x.enabled, &x.properties));
            let (enabled, properties) =
                merge_event(server, local.map(|y| (y.enabled, &y.properties)), strict);
            let category = local.and_then(|y| y.category.clone());
            let spec = EventSpec {
                enabled,
                properties,
                category,
            };
            events.insert(name.clone(), spec);
        }
        config.events = events;
        config.tracking.strict = strict.0 || strict.1;

        // The local side lists no category: its mode is `local_mode` (`necessary` aside).
        let mut modes = NameMap::with_capacity(s.consent_categories.len());
        for name in s.consent_categories.keys() {
            let local = if name == "necessary" {
                ConsentMode::OptOut
            } else {
                local_mode
            };
            modes.insert(name.clone(), s.consent_for(name).max(local));
        }
        modes
    }

    /// Whether `self` protects at least as much as `other` (the table in the module docs).
    pub fn is_at_least_as_private_as(&self, other: &PrivacySettings) -> bool {
        let (a, b) = (self, other);
        let superset_ci = |x: &[String], y: &[String]| y.iter().all(|n| contains_ci(x, n));
        a.anonymize_ip >= b.anonymize_ip
            && a.store_raw_ip <= b.store_raw_ip
            && a.hash_user_id >= b.hash_user_id
            && a.pii_scrubbing >= b.pii_scrubbing
            && b.pii_patterns.iter().all(|p| a.pii_patterns.contains(p))
            && superset_ci(&a.property_deny_list, &b.property_deny_list)
            && superset_ci(&a.url_param_deny_list, &b.url_param_deny_list)
            && a.respect_gpc >= b.respect_gpc
            && a.respect_dnt >= b.respect_dnt
            && consent_at_least(a, b)
            && plan_at_least(&a.tracking_plan, &b.tracking_plan)
            && a.retention.events_days <= b.retention.events_days
            && a.retention.sessions_days <= b.retention.sessions_days
            && a.retention.users_days <= b.retention.users_days
            && a.bots >= b.bots
    }
}

/// A category name that no settings list (stands for every unlisted category).
const UNLISTED: &str = "\u{0}unlisted";

fn consent_at_least(a: &PrivacySettings, b: &PrivacySettings) -> bool {
    let names = a.consent_categories.keys().chain(b.consent_categories.keys());
    names
        .map(String::as_str)
        .chain([UNLISTED, "necessary"])
        .all(|c| a.consent_for(c) >= b.consent_for(c))
}

/// Behavioural comparison of two plans: for every event name either lists (and one neither
/// does) and every probe set of properties, `a` lets through a subset of what `b` does. Probing
/// the empty set and every single property (of either plan, plus one neither lists) decides it,
/// since a plan's outcome depends on each property separately.
fn plan_at_least(a: &TrackingPlan, b: &TrackingPlan) -> bool {
    let mut props: Vec<&str> = vec![UNLISTED];
    for plan in [a, b] {
        for spec in plan.events.values() {
            for p in spec.properties.iter().flatten() {
                if !props.contains(&p.as_str()) {
                    props.push(p);
                }
            }
        }
    }
    let events = a.events.keys().chain(b.events.keys()).map(String::as_str);
    let mut probes: Vec<Vec<&str>> = vec![Vec::new(), props.clone()];
    probes.extend(props.iter().map(|p| vec![*p]));
    events.chain([UNLISTED]).all(|e| {
        probes
            .iter()
            .all(|probe| match (a.outcome(e, probe), b.outcome(e, probe)) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(x), Some(y)) => x.iter().all(|p| y.contains(p)),
            })
    })
}

/// The stricter of the server's settings and an SDK's local ones (see the module docs): never
/// less private than either. Pure; `server`'s order comes first in lists.
pub fn merge(server: &PrivacySettings, local: &PrivacySettings) -> PrivacySettings {
    let (s, l) = (server, local);
    let consent_mode = s.consent_mode.max(l.consent_mode);
    let mut consent_categories = NameMap::new();
    for name in s.consent_categories.keys().chain(l.consent_categories.keys()) {
        if !consent_categories.contains_key(name) {
            let mode = s.consent_for(name).max(l.consent_for(name));
            consent_categories.insert(name.clone(), mode);
        }
    }
    let retention = Retention {
        events_days: s.retention.events_days.min(l.retention.events_days),
        sessions_days: s.retention.sessions_days.min(l.retention.sessions_days),
        users_days: s.retention.users_days.min(l.retention.users_days),
    };
    PrivacySettings {
        anonymize_ip: s.anonymize_ip || l.anonymize_ip,
        store_raw_ip: s.store_raw_ip && l.store_raw_ip,
        hash_user_id: s.hash_user_id || l.hash_user_id,
        pii_scrubbing: s.pii_scrubbing || l.pii_scrubbing,
        pii_patterns: union(&s.pii_patterns, &l.pii_patterns, false),
        property_deny_list: union(&s.property_deny_list, &l.property_deny_list, true),
        url_param_deny_list: union(&s.url_param_deny_list, &l.url_param_deny_list, true),
        consent_mode,
        consent_categories,
        respect_gpc: s.respect_gpc || l.respect_gpc,
        respect_dnt: s.respect_dnt || l.respect_dnt,
        tracking_plan: merge_plans(&s.tracking_plan, &l.tracking_plan),
        retention,
        bots: s.bots.max(l.bots),
    }
}

fn intersect(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (Some(x), Some(y)) => {
            let mut out = Vec::new();
            for p in x {
                if y.contains(p) {
                    out.push(p.clone());
                }
            }
            Some(out)
        }
    }
}

/// What one tracking-plan event becomes in a merge, `(enabled, properties)`, from what the
/// server's and the local plan say about it (`None`: that plan does not list it; at least one
/// does); `strict`: whether each plan is effectively strict (server, local). Shared by [`merge`]
/// and [`PrivacySettings::merge_into`].
fn merge_event(
    server: Option<(bool, &Option<Vec<String>>)>,
    local: Option<(bool, &Option<Vec<String>>)>,
    strict: (bool, bool),
) -> (bool, Option<Vec<String>>) {
    match (server, local) {
        (Some((x, xp)), Some((y, yp))) => (x && y, intersect(xp, yp)),
        // Listed by one side only: disabled when the other side's plan is strict.
        (Some((x, xp)), None) => (x && !strict.1, xp.clone()),
        (None, Some((y, yp))) => (y && !strict.0, yp.clone()),
        (None, None) => (true, None),
    }
}

fn merge_plans(s: &TrackingPlan, l: &TrackingPlan) -> TrackingPlan {
    let strict = (s.is_effectively_strict(), l.is_effectively_strict());
    let mut events = NameMap::new();
    for name in s.events.keys().chain(l.events.keys()) {
        if events.contains_key(name) {
            continue;
        }
        fn rule(e: &EventPlan) -> (bool, &Option<Vec<String>>) {
            (e.enabled, &e.properties)
        }
        let (enabled, properties) =
            merge_event(s.events.get(name).map(rule), l.events.get(name).map(rule), strict);
        events.insert(name.clone(), EventPlan { enabled, properties });
    }
    TrackingPlan {
        strict: strict.0 || strict.1,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(strict: bool, events: &[(&str, bool, Option<&[&str]>)]) -> TrackingPlan {
        TrackingPlan {
            strict,
            events: events
                .iter()
                .map(|(n, enabled, props)| {
                    let properties = props.map(|p| p.iter().map(|s| s.to_string()).collect());
                    (
                        n.to_string(),
                        EventPlan {
                            enabled: *enabled,
                            properties,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn plan_outcomes() {
        let p = plan(false, &[("buy", true, Some(&["amount"])), ("old", false, None)]);
        assert_eq!(p.outcome("buy", &["amount", "email"]), Some(vec!["amount"]));
        assert_eq!(p.outcome("old", &[]), None);
        assert_eq!(p.outcome("other", &["x"]), Some(vec!["x"]));
        let strict = TrackingPlan { strict: true, ..p };
        assert_eq!(strict.outcome("buy", &["amount", "email"]), None);
        assert_eq!(strict.outcome("buy", &["amount"]), Some(vec!["amount"]));
        assert_eq!(strict.outcome("other", &[]), None);
        assert_eq!(
            plan(true, &[]).outcome("any", &["x"]),
            Some(vec!["x"]),
            "no plan, no strictness"
        );
    }

    #[test]
    fn merge_takes_the_stricter_side() {
        let server = PrivacySettings {
            property_deny_list: vec!["Email".into()],
            consent_mode: ConsentMode::OptIn,
            tracking_plan: plan(true, &[("buy", true, Some(&["amount", "currency"]))]),
            retention: Retention {
                events_days: 30,
                ..Retention::default()
            },
            ..PrivacySettings::default()
        };
        let mut local = PrivacySettings {
            anonymize_ip: false,
            store_raw_ip: true,
            property_deny_list: vec!["email".into(), "phone".into()],
            tracking_plan: plan(
                false,
                &[("buy", true, Some(&["amount", "coupon"])), ("view", true, None)],
            ),
            ..PrivacySettings::default()
        };
        local
            .consent_categories
            .insert("marketing".into(), ConsentMode::OptIn);
        let m = merge(&server, &local);
        assert!(m.anonymize_ip && !m.store_raw_ip);
        assert_eq!(m.property_deny_list, vec!["Email", "phone"]);
        assert_eq!(m.consent_mode, ConsentMode::OptIn);
        assert_eq!(m.retention.events_days, 30);
        assert!(m.tracking_plan.strict);
        assert_eq!(m.tracking_plan.outcome("buy", &["amount"]), Some(vec!["amount"]));
        assert_eq!(m.tracking_plan.outcome("buy", &["currency"]), None);
        assert_eq!(
            m.tracking_plan.outcome("view", &[]),
            None,
            "only local lists it; server is strict"
        );
        assert!(m.is_at_least_as_private_as(&server) && m.is_at_least_as_private_as(&local));
        assert!(!local.is_at_least_as_private_as(&server), "the order can say no");
        m.validate().unwrap();
    }

    #[test]
    fn validation_names_the_field() {
        let s = PrivacySettings {
            store_raw_ip: true,
            ..PrivacySettings::default()
        };
        assert_eq!(s.validate().unwrap_err().field, "store_raw_ip");
        let s = PrivacySettings {
            property_deny_list: vec!["a".into(), " ".into()],
            ..PrivacySettings::default()
        };
        assert_eq!(s.validate().unwrap_err().field, "property_deny_list[1]");
        let mut s = PrivacySettings::default();
        s.retention.users_days = 0;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "retention.users_days: must be between 1 and 36500 days"
        );
        let mut s = PrivacySettings::default();
        s.consent_categories
            .insert("necessary".into(), ConsentMode::OptIn);
        assert_eq!(s.validate().unwrap_err().field, "consent_categories.necessary");
        PrivacySettings::default().validate().unwrap();
    }

    #[test]
    fn config_round_trip_keeps_local_categories() {
        let mut config = Config::default();
        config.events.insert(
            "buy".into(),
            EventSpec {
                category: Some("marketing".into()),
                ..EventSpec::default()
            },
        );
        let server = PrivacySettings {
            hash_user_id: true,
            tracking_plan: plan(false, &[("buy", true, Some(&["amount"]))]),
            ..PrivacySettings::default()
        };
        let mut applied = config.clone();
        server.merge_into(&mut applied);
        assert_eq!(applied.events["buy"].category.as_deref(), Some("marketing"));
        assert_eq!(applied.events["buy"].properties, Some(vec!["amount".to_string()]));
        assert!(
            !applied.privacy.hash_user_id,
            "no local salt: the collector hashes"
        );
        applied.validate().unwrap();
    }
}
