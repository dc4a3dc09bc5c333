//! Property test of the server privacy settings in the core: for any local configuration, any
//! events tracked (some queued, some waiting for consent) and any sequence of server settings
//! applied, nothing the core still holds — in its queue, in its store, or what it sends next —
//! violates the settings in force (`Core::effective_settings`, the stricter merge of the server's
//! and the local ones). The checker reads the wire JSON independently of the core's pipeline.

use footfall::config::{Config, ConsentMode as LocalMode, EventSpec};
use footfall::pipeline::anonymize::{strip_query_params, truncate_ip};
use footfall::pipeline::pii::looks_like_pii;
use footfall::settings::{ConsentMode, EventPlan, PrivacySettings, TrackingPlan};
use footfall::testing::{MemoryStore, SeededRng};
use footfall::{Batch, ConsentDecision, Core, Delivery, Event};
use proptest::prelude::*;
use serde_json::{Value, json};

const T0: u64 = 1_764_324_000_000;
const NAMES: &[&str] = &["email", "Phone", "plan", "amount", "url", "nested"];
const PARAMS: &[&str] = &["gclid", "promo", "ref"];
const CATEGORIES: &[&str] = &["analytics", "marketing", "necessary", "support"];
const EVENTS: &[&str] = &["buy", "signup", "search", "consent_updated"];
const VALUES: &[&str] = &[
    "ada@example.com",
    "+1 415 555 0100",
    "4111 1111 1111 1111",
    "pro",
    "https://x.com/p?gclid=1&promo=2&q=3",
    "?ref=a&q=b",
];

fn names(vocab: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(vocab, 0..=vocab.len())
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn mode() -> impl Strategy<Value = ConsentMode> {
    prop_oneof![Just(ConsentMode::OptOut), Just(ConsentMode::OptIn)]
}

fn plan() -> impl Strategy<Value = TrackingPlan> {
    let event = (any::<bool>(), proptest::option::of(names(NAMES)))
        .prop_map(|(enabled, properties)| EventPlan { enabled, properties });
    (
        any::<bool>(),
        proptest::collection::vec((proptest::sample::select(EVENTS), event), 0..3),
    )
        .prop_map(|(strict, events)| TrackingPlan {
            strict,
            events: events.into_iter().map(|(n, p)| (n.to_string(), p)).collect(),
        })
}

prop_compose! {
    fn server()(
        anonymize_ip in any::<bool>(),
        hash_user_id in any::<bool>(),
        pii_scrubbing in any::<bool>(),
        property_deny_list in names(NAMES),
        url_param_deny_list in names(PARAMS),
        consent_mode in mode(),
        categories in proptest::collection::vec((proptest::sample::select(&CATEGORIES[..2]), mode()), 0..2),
        respect_gpc in any::<bool>(),
        tracking_plan in plan(),
    ) -> PrivacySettings {
        PrivacySettings {
            anonymize_ip,
            store_raw_ip: !anonymize_ip,
            hash_user_id,
            pii_scrubbing,
            property_deny_list,
            url_param_deny_list,
            consent_mode,
            consent_categories: categories.into_iter().map(|(c, m)| (c.to_string(), m)).collect(),
            respect_gpc,
            tracking_plan,
            ..PrivacySettings::default()
        }
    }
}

prop_compose! {
    fn local()(
        anonymize_ip in any::<bool>(),
        salt in proptest::option::of(Just("pepper".to_string())),
        scrub in any::<bool>(),
        deny in names(NAMES),
        opt_in in any::<bool>(),
        strict in any::<bool>(),
        plan in proptest::collection::vec((proptest::sample::select(EVENTS), proptest::option::of(names(NAMES))), 0..3),
    ) -> Config {
        let mut c = Config::default();
        c.tracking.batch_size = 1000;
        c.privacy.anonymize_ip = anonymize_ip;
        c.privacy.hash_salt = salt;
        c.privacy.scrub_pii = scrub;
        c.privacy.property_deny_list = deny;
        c.consent.mode = Some(if opt_in { LocalMode::OptIn } else { LocalMode::OptOut });
        c.tracking.strict = strict;
        for (name, properties) in plan {
            c.events.insert(name.to_string(), EventSpec { properties, ..EventSpec::default() });
        }
        c
    }
}

#[derive(Debug, Clone)]
struct Tracked {
    kind: u8,
    name: &'static str,
    category: &'static str,
    properties: Vec<(&'static str, &'static str)>,
    ip: Option<&'static str>,
    user: bool,
}

fn tracked() -> impl Strategy<Value = Tracked> {
    (
        0u8..3,
        proptest::sample::select(EVENTS),
        proptest::sample::select(CATEGORIES),
        proptest::collection::vec(
            (proptest::sample::select(NAMES), proptest::sample::select(VALUES)),
            0..4,
        ),
        proptest::option::of(prop_oneof![Just("203.0.113.77"), Just("2001:db8:1:2:3:4:5:6")]),
        any::<bool>(),
    )
        .prop_map(|(kind, name, category, properties, ip, user)| Tracked {
            kind,
            name,
            category,
            properties,
            ip,
            user,
        })
}

fn event(t: &Tracked) -> Event {
    let mut e = match t.kind {
        0 => Event::track(t.name),
        1 => Event::identify("user_7"),
        _ => Event::page(Some("Home")),
    };
    for (k, v) in &t.properties {
        let value = if *k == "nested" {
            json!({"email": v, "url": v})
        } else {
            json!(v)
        };
        e = if t.kind == 1 {
            e.trait_value(*k, value)
        } else {
            e.property(*k, value)
        };
    }
    if t.kind == 2 {
        e.context.page = json!({"url": "https://x.com/?promo=1&gclid=2", "email": "a@b.c"})
            .as_object()
            .cloned()
            .map(Into::into);
    }
    e = e.context_value("traits", json!({"email": "c@d.e", "Phone": "x"}));
    if let Some(ip) = t.ip {
        e = e.ip(ip);
    }
    if t.user {
        e = e.user_id("user_7");
    }
    e.category(t.category)
}

fn keys_at_any_depth<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k);
                keys_at_any_depth(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys_at_any_depth(i, out)),
        _ => {}
    }
}

fn strings_at_any_depth<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Object(m) => m.values().for_each(|v| strings_at_any_depth(v, out)),
        Value::Array(items) => items.iter().for_each(|i| strings_at_any_depth(i, out)),
        _ => {}
    }
}

/// Why `m` violates `s` (the settings in force), if it does.
fn violation(m: &Value, s: &PrivacySettings, core: &Core, hashes: bool) -> Option<String> {
    let ctx = &m["context"];
    let category = ctx["category"].as_str().unwrap_or("analytics");
    if core.consent_decision(category) != ConsentDecision::Granted {
        return Some(format!("category {category} is not granted"));
    }
    let maps = [&m["properties"], &m["traits"], &ctx["page"], &ctx["traits"]];
    let event = m["event"].as_str().unwrap_or("");
    let audit = category == "necessary" && event == "consent_updated";
    if m["type"] == "track" && !audit {
        let keys: Vec<&str> = m["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        match s.tracking_plan.outcome(event, &keys) {
            None => return Some(format!("the plan refuses {event} with {keys:?}")),
            Some(kept) if kept.len() != keys.len() => {
                return Some(format!("the plan does not allow all of {keys:?} on {event}"));
            }
            Some(_) => {}
        }
    }
    for map in maps {
        let mut keys = Vec::new();
        keys_at_any_depth(map, &mut keys);
        if let Some(k) = keys
            .iter()
            .find(|k| s.property_deny_list.iter().any(|d| d.eq_ignore_ascii_case(k)))
        {
            return Some(format!("denied property {k}"));
        }
        for field in ["url", "referrer", "search"] {
            if let Some(url) = map[field].as_str() {
                if strip_query_params(url, &s.url_param_deny_list).is_some() {
                    return Some(format!("denied URL parameter in {url}"));
                }
            }
        }
        if s.pii_scrubbing {
            let mut strings = Vec::new();
            strings_at_any_depth(map, &mut strings);
            if let Some(v) = strings.iter().find(|v| looks_like_pii(v)) {
                return Some(format!("PII left: {v}"));
            }
        }
    }
    if s.anonymize_ip {
        if ctx["anonymizeIp"] != true {
            return Some("anonymizeIp missing".into());
        }
        if let Some(ip) = ctx["ip"].as_str() {
            if truncate_ip(ip).as_deref() != Some(ip) {
                return Some(format!("IP {ip} not truncated"));
            }
        }
    }
    if s.hash_user_id && hashes {
        if let Some(u) = m["userId"].as_str() {
            if !footfall::pipeline::recheck::is_hashed(u) {
                return Some(format!("user id {u} not hashed"));
            }
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn nothing_held_violates_the_settings_in_force(
        local in local(),
        grants in names(&CATEGORIES[..2]),
        before in proptest::collection::vec(tracked(), 0..8),
        first in server(),
        between in proptest::collection::vec(tracked(), 0..6),
        second in proptest::option::of(server()),
        hold_a_batch in any::<bool>(),
        restart in any::<bool>(),
    ) {
        let store = MemoryStore::new();
        let hashes = local.privacy.hash_salt.is_some();
        let mut core = Core::new(local.clone(), Box::new(store.clone()), Box::new(SeededRng::new(9)), T0).unwrap();
        let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
        core.grant(&grants, T0);
        let mut now = T0;
        for t in &before {
            now += 1;
            core.track(event(t), now);
        }
        // A batch may be out while the settings change (then fail and come back).
        let held = if hold_a_batch { core.flush(); core.poll_batch(now) } else { None };
        core.apply_server_settings(first, now);
        for t in &between {
            now += 1;
            core.track(event(t), now);
        }
        if let Some(s) = second {
            core.apply_server_settings(s, now);
        }
        if let Some(b) = held {
            core.report(b.id, Delivery::status(503), now);
        }
        if restart {
            drop(core);
            core = Core::new(local, Box::new(store.clone()), Box::new(SeededRng::new(10)), now).unwrap();
            core.grant(&grants, now); // no-op if persisted; keeps the same consent as before
        }
        let settings = core.effective_settings();

        for stored in store.messages() {
            let m: Value = serde_json::from_str(&stored.json).unwrap();
            if let Some(why) = violation(&m, &settings, &core, hashes) {
                prop_assert!(false, "stored message violates the settings: {why}\n{m:#}\nsettings: {settings:#?}");
            }
        }
        core.flush();
        now += 120_000; // past any backoff
        while let Some(b) = core.poll_batch(now) {
            let batch: Batch = serde_json::from_slice(&b.body).unwrap();
            for m in &batch.batch {
                let v = serde_json::to_value(m).unwrap();
                if let Some(why) = violation(&v, &settings, &core, hashes) {
                    prop_assert!(false, "sent message violates the settings: {why}\n{v:#}\nsettings: {settings:#?}");
                }
            }
            core.report(b.id, Delivery::status(200), now);
        }
        // Released later, pending events obey the settings in force too.
        core.grant_all(now);
        core.flush();
        while let Some(b) = core.poll_batch(now) {
            let batch: Batch = serde_json::from_slice(&b.body).unwrap();
            for m in &batch.batch {
                let v = serde_json::to_value(m).unwrap();
                if let Some(why) = violation(&v, &settings, &core, hashes) {
                    prop_assert!(false, "released message violates the settings: {why}\n{v:#}");
                }
            }
            core.report(b.id, Delivery::status(200), now);
        }
    }
}
