//! "Stricter wins" (see the module docs of [`crate::settings`]): [`merge`] of two settings,
//! [`PrivacySettings::merge_into`] an SDK's local configuration in place, what that
//! configuration says as settings, and the privacy order the merge climbs.

use super::{BotHandling, ConsentMode, EventPlan, PrivacySettings, Retention, TrackingPlan};
use crate::config::{Config, EventSpec};
use crate::map::NameMap;

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
