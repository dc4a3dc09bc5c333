//! Unit tests of the custom PII patterns in the core (`privacy.pii_patterns` and the server's
//! `pii_patterns`), with the literal test matcher, on virtual time.

use serde_json::{Value, json};

use super::tests::{sent, settings};
use crate::event::Event;
use crate::message::Message;
use crate::testing::{LiteralMatcher, MemoryStore, SeededRng};
use crate::{Config, Core};

const T0: u64 = 1_764_324_000_000;
const RED: &str = "[redacted]";

fn core(config: Value, store: &MemoryStore, matcher: &LiteralMatcher) -> Core {
    let config = Config::from_value(config).unwrap();
    let (store, rng) = (Box::new(store.clone()), Box::new(SeededRng::new(5)));
    Core::with_pattern_matcher(config, store, rng, Box::new(matcher.clone()), T0).unwrap()
}

fn event() -> Event {
    let mut e = Event::track("t")
        .property("code", "secret-42")
        .property("note", "not secret-42")
        .property("nested", json!({"list": ["secret-1", "ok"], "n": 42}))
        .property("count", 7);
    e.context.page = json!({"title": "secret-page"})
        .as_object()
        .cloned()
        .map(Into::into);
    e.context
        .extra
        .insert("traits".into(), json!({"plan": "secret-plan"}).into());
    e
}

/// What the properties / page / traits of `m` look like with `^secret-` applied or not.
fn assert_scrubbed(m: &Message, scrubbed: bool) {
    let p = m.properties.as_ref().unwrap();
    let v = |s: &str| if scrubbed { RED.to_string() } else { s.to_string() };
    assert_eq!(p["code"], v("secret-42"));
    assert_eq!(p["note"], "not secret-42", "anchored: find semantics of `^`");
    assert_eq!(p["nested"]["list"], json!([v("secret-1"), "ok"]));
    assert_eq!(p["nested"]["n"], 42, "numbers are not matched");
    assert_eq!(p["count"], 7);
    assert_eq!(m.context.page.as_ref().unwrap()["title"], v("secret-page"));
    assert_eq!(m.context.extra["traits"]["plan"], v("secret-plan"));
}

#[test]
fn local_patterns_redact_at_track_time_only_with_scrub_pii() {
    let matcher = LiteralMatcher::default();
    let on = json!({"privacy": {"scrub_pii": true, "pii_patterns": ["^secret-"]}});
    let mut c = core(on, &MemoryStore::new(), &matcher);
    c.track(event(), T0);
    assert_scrubbed(&sent(&mut c, T0)[0], true);

    let off = json!({"privacy": {"scrub_pii": false, "pii_patterns": ["^secret-"]}});
    let mut c = core(off, &MemoryStore::new(), &LiteralMatcher::default());
    c.track(event(), T0);
    assert_scrubbed(&sent(&mut c, T0)[0], false);
}

#[test]
fn server_patterns_apply_to_queued_events_super_properties_and_new_events() {
    let (store, matcher) = (MemoryStore::new(), LiteralMatcher::default());
    let mut c = core(json!({"tracking": {"batch_size": 100}}), &store, &matcher);
    c.register(json!({"tier": "secret-tier"}).as_object().cloned().unwrap());
    c.track(event(), T0);
    assert!(store.messages()[0].json.contains("\"code\":\"secret-42\""));

    c.apply_server_settings(
        settings(json!({"pii_scrubbing": true, "pii_patterns": ["^secret-"]})),
        T0 + 1,
    );
    assert_eq!(c.config().privacy.pii_patterns, ["^secret-"]);
    assert_eq!(matcher.compiled.lock().unwrap().last().unwrap(), &["^secret-"]);
    let stored = &store.messages()[0].json;
    assert!(
        !stored.contains("\"code\":\"secret-42\"") && stored.contains(RED),
        "rewritten in the store: {stored}"
    );
    c.track(event(), T0 + 2);
    let out = sent(&mut c, T0 + 3);
    assert_eq!(out.len(), 2);
    for m in &out {
        assert_scrubbed(m, true);
        assert_eq!(
            m.properties.as_ref().unwrap()["tier"],
            RED,
            "super properties too"
        );
    }

    // The same patterns again (another field changes): not compiled again.
    let compiles = matcher.compiled.lock().unwrap().len();
    let again = json!({"pii_scrubbing": true, "pii_patterns": ["^secret-"], "respect_dnt": true});
    c.apply_server_settings(settings(again), T0 + 4);
    assert_eq!(matcher.compiled.lock().unwrap().len(), compiles);

    // Loosened by the privacy team: the SDK loosens too.
    c.apply_server_settings(settings(json!({"pii_scrubbing": false})), T0 + 5);
    c.track(event(), T0 + 6);
    assert_scrubbed(&sent(&mut c, T0 + 7)[0], false);
}

#[test]
fn an_invalid_pattern_is_skipped_counted_and_logged_and_tracking_goes_on() {
    let (store, matcher) = (MemoryStore::new(), LiteralMatcher::default());
    let mut c = core(json!({}), &store, &matcher);
    c.apply_server_settings(
        settings(json!({"pii_scrubbing": true, "pii_patterns": ["(", "^secret-"]})),
        T0,
    );
    let stats = c.stats();
    assert_eq!(stats.invalid_patterns, 1);
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.starts_with("privacy.pii_patterns[0] skipped ((")),
        "{:?}",
        stats.warnings
    );
    assert!(stats.to_json().contains("\"invalidPatterns\":1"));
    c.track(event(), T0 + 1);
    assert_scrubbed(&sent(&mut c, T0 + 2)[0], true);
}

#[test]
fn a_host_without_an_engine_leaves_patterns_to_the_collector() {
    let config = Config::from_value(json!({"privacy": {"scrub_pii": true, "pii_patterns": ["^secret-"]}}));
    let store = Box::new(MemoryStore::new());
    let mut c = Core::new(config.unwrap(), store, Box::new(SeededRng::new(1)), T0).unwrap();
    assert_eq!(c.stats().invalid_patterns, 1);
    c.track(event(), T0);
    assert_scrubbed(&sent(&mut c, T0)[0], false);
}

#[test]
fn persisted_settings_with_patterns_recheck_the_restored_queue_at_start() {
    let store = MemoryStore::new();
    let mut first = core(json!({}), &store, &LiteralMatcher::default());
    first.track(event(), T0);
    drop(first);
    let record = crate::settings_fetch::SettingsRecord {
        etag: None,
        fetched_at: T0,
        json: json!({"pii_scrubbing": true, "pii_patterns": ["^secret-"]}).to_string(),
    };
    crate::Store::save_settings(&mut store.clone(), &record.to_text()).unwrap();
    let mut second = core(json!({}), &store, &LiteralMatcher::default());
    assert!(!store.messages()[0].json.contains("\"code\":\"secret-42\""));
    assert_scrubbed(&sent(&mut second, T0 + 1)[0], true);
}
