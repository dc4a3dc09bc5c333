//! Unit tests of the server privacy settings in the core, one rule each, on virtual time.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::consent::ConsentDecision;
use crate::delivery::Delivery;
use crate::event::Event;
use crate::message::{Batch, Message};
use crate::pipeline::anonymize::hash_id;
use crate::settings::{ConsentMode, EventPlan, PrivacySettings};
use crate::settings_fetch::{SETTINGS_WAIT_MS, SettingsResponse};
use crate::stats::DropReason;
use crate::testing::{MemoryStore, SeededRng};
use crate::{Config, Core};

const T0: u64 = 1_764_324_000_000;
const REFRESH: u64 = 300_000;

fn core_with(config: Value, store: &MemoryStore) -> (Core, Arc<Mutex<Vec<String>>>) {
    let config = Config::from_value(config).unwrap();
    let mut core = Core::new(config, Box::new(store.clone()), Box::new(SeededRng::new(3)), T0).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    core.set_debug_log(Box::new(move |e| sink.lock().unwrap().push(e.to_string())));
    (core, log)
}

fn make(config: Value) -> (Core, MemoryStore) {
    let store = MemoryStore::new();
    let (core, _) = core_with(config, &store);
    (core, store)
}

pub(super) fn settings(json: Value) -> PrivacySettings {
    PrivacySettings::from_json(&json.to_string()).unwrap()
}

/// Everything queued now, as one batch (flushed), reported delivered.
pub(super) fn sent(core: &mut Core, now: u64) -> Vec<Message> {
    core.flush();
    let mut out = Vec::new();
    while let Some(b) = core.poll_batch(now) {
        let batch: Batch = serde_json::from_slice(&b.body).unwrap();
        out.extend(batch.batch);
        core.report(b.id, Delivery::status(200), now);
    }
    out
}

fn stored_json(store: &MemoryStore) -> Vec<Value> {
    store
        .messages()
        .iter()
        .map(|m| serde_json::from_str(&m.json).unwrap())
        .collect()
}

#[test]
fn the_servers_anonymize_ip_cannot_be_overridden_locally_and_loosening_loosens() {
    let (mut core, _) = make(json!({"privacy": {"anonymize_ip": false}}));
    core.track(Event::track("before").ip("203.0.113.9"), T0);
    core.apply_server_settings(settings(json!({"anonymize_ip": true})), T0 + 1);
    assert!(core.config().privacy.anonymize_ip);
    core.track(Event::track("after").ip("203.0.113.9"), T0 + 2);
    let msgs = sent(&mut core, T0 + 3);
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m.context.ip.as_deref(), Some("203.0.113.0"), "{:?}", m.event);
        assert_eq!(m.context.anonymize_ip, Some(true), "queued ones too");
    }
    // The privacy team turns it off again: the local setting (off) is back in force, because
    // the merge always starts from the local configuration.
    core.apply_server_settings(
        settings(json!({"anonymize_ip": false, "store_raw_ip": true})),
        T0 + 4,
    );
    assert!(!core.config().privacy.anonymize_ip);
    core.track(Event::track("loose").ip("203.0.113.9"), T0 + 5);
    assert_eq!(
        sent(&mut core, T0 + 6)[0].context.ip.as_deref(),
        Some("203.0.113.9")
    );
    assert!(!core.effective_settings().anonymize_ip);
    // A local `anonymize_ip: true` is never loosened by the server.
    let (mut strict, _) = make(json!({"privacy": {"anonymize_ip": true}}));
    strict.apply_server_settings(settings(json!({"anonymize_ip": false})), T0);
    assert!(strict.config().privacy.anonymize_ip);
}

#[test]
fn a_denied_property_is_removed_even_if_the_local_plan_allows_it_queued_ones_in_place() {
    let (mut core, store) = make(json!({"events": {"signup": {"properties": ["email", "plan"]}}}));
    core.track(
        Event::track("signup")
            .property("email", "ada@example.com")
            .property("plan", "pro"),
        T0,
    );
    let id_before = store.messages()[0].message_id.clone();
    core.apply_server_settings(settings(json!({"property_deny_list": ["Email"]})), T0 + 1);
    let stored = stored_json(&store);
    assert_eq!(stored.len(), 1, "rewritten in place, not appended");
    assert_eq!(store.messages()[0].message_id, id_before, "same message id");
    assert_eq!(stored[0]["properties"], json!({"plan": "pro"}));
    core.track(
        Event::track("signup")
            .property("email", "x@y.z")
            .property("plan", "pro"),
        T0 + 2,
    );
    let msgs = sent(&mut core, T0 + 3);
    assert_eq!(msgs[0].message_id, id_before);
    assert!(
        msgs.iter()
            .all(|m| !m.properties.as_ref().unwrap().contains_key("email"))
    );
    assert_eq!(core.stats().dropped_total(), 0, "rewritten, not dropped");
}

#[test]
fn switching_to_opt_in_purges_queued_events_and_holds_new_ones_until_a_grant() {
    let (mut core, store) = make(json!({"tracking": {"batch_size": 100}}));
    core.track(Event::track("a"), T0);
    core.track(Event::track("b"), T0);
    core.track(Event::track("keep").category("necessary"), T0);
    assert_eq!(store.messages().len(), 3);
    core.apply_server_settings(settings(json!({"consent_mode": "opt_in"})), T0 + 1);
    assert_eq!(core.consent_decision("analytics"), ConsentDecision::Pending);
    let s = core.stats();
    assert_eq!(
        (s.dropped(DropReason::Consent), s.queued),
        (2, 1),
        "necessary stays"
    );
    assert_eq!(store.messages().len(), 1, "purged from the store too");
    assert_eq!(s.enqueued, 3, "no consent_updated event for a settings change");
    core.track(Event::track("later"), T0 + 2);
    assert_eq!(core.stats().pending_consent, 1, "new events wait for consent");
    core.grant(&["analytics"], T0 + 3);
    let names: Vec<String> = sent(&mut core, T0 + 4)
        .into_iter()
        .filter_map(|m| m.event)
        .collect();
    assert_eq!(names, ["keep", "consent_updated", "later"]);
}

#[test]
fn loosening_consent_releases_pending_events() {
    let (mut core, _) = make(json!({}));
    core.apply_server_settings(settings(json!({"consent_mode": "opt_in"})), T0);
    core.track(Event::track("waits"), T0 + 1);
    assert_eq!(core.stats().pending_consent, 1);
    core.apply_server_settings(settings(json!({"consent_mode": "opt_out"})), T0 + 2);
    assert_eq!(core.stats().pending_consent, 0);
    assert_eq!(sent(&mut core, T0 + 3)[0].event.as_deref(), Some("waits"));
}

#[test]
fn per_category_consent_modes_from_the_server() {
    let (mut core, _) = make(json!({}));
    core.apply_server_settings(
        settings(json!({"consent_categories": {"marketing": "opt_in"}})),
        T0,
    );
    assert_eq!(core.consent_decision("marketing"), ConsentDecision::Pending);
    assert_eq!(core.consent_decision("analytics"), ConsentDecision::Granted);
    core.track(Event::track("ad").category("marketing"), T0 + 1);
    core.track(Event::track("search"), T0 + 1);
    assert_eq!(core.stats().pending_consent, 1);
    assert_eq!(sent(&mut core, T0 + 2).len(), 1);
}

#[test]
fn plan_changes_drop_or_trim_queued_and_pending_events() {
    let (mut core, store) = make(json!({"consent": {"mode": "opt_in"}}));
    core.grant(&["analytics"], T0);
    core.track(Event::track("old_feature"), T0);
    core.track(
        Event::track("buy").property("amount", 5).property("coupon", "c"),
        T0,
    );
    core.track(Event::track("ad").category("marketing").property("x", 1), T0); // pending
    let plan = json!({"tracking_plan": {"events": {
        "old_feature": {"enabled": false},
        "buy": {"enabled": true, "properties": ["amount"]},
        "ad": {"enabled": false}}}});
    core.apply_server_settings(settings(plan), T0 + 1);
    let s = core.stats();
    assert_eq!(
        s.dropped(DropReason::Disabled),
        2,
        "queued old_feature and pending ad"
    );
    assert_eq!(s.pending_consent, 0);
    let stored = stored_json(&store);
    let buy = stored.iter().find(|m| m["event"] == "buy").unwrap();
    assert_eq!(buy["properties"], json!({"amount": 5}));
    assert!(!stored.iter().any(|m| m["event"] == "old_feature"));

    // strict: what the plan does not list cannot go
    core.track(Event::track("unplanned"), T0 + 2);
    core.apply_server_settings(
        settings(json!({"tracking_plan": {"strict": true, "events": {"buy": {"properties": ["amount"]}}}})),
        T0 + 3,
    );
    assert_eq!(core.stats().dropped(DropReason::NotInPlan), 1);
    let names: Vec<String> = sent(&mut core, T0 + 4)
        .into_iter()
        .filter_map(|m| m.event)
        .collect();
    assert!(
        names.contains(&"buy".to_string()) && !names.contains(&"unplanned".to_string()),
        "{names:?}"
    );
}

#[test]
fn user_ids_are_hashed_when_the_sdk_has_a_salt_else_left_to_the_collector() {
    let (mut core, _) = make(json!({"privacy": {"hash_salt": "pepper"}}));
    core.track(Event::identify("user_42"), T0);
    core.apply_server_settings(settings(json!({"hash_user_id": true})), T0 + 1);
    core.track(Event::track("after").user_id("user_42"), T0 + 2);
    let msgs = sent(&mut core, T0 + 3);
    let hashed = hash_id("pepper", "user_42");
    assert!(
        msgs.iter().all(|m| m.user_id.as_deref() == Some(hashed.as_str())),
        "{msgs:?}"
    );

    let (mut no_salt, _) = make(json!({}));
    no_salt.apply_server_settings(settings(json!({"hash_user_id": true})), T0);
    no_salt.track(Event::identify("user_42"), T0 + 1);
    assert_eq!(sent(&mut no_salt, T0 + 2)[0].user_id.as_deref(), Some("user_42"));
}

#[test]
fn super_properties_and_the_default_context_obey_new_rules() {
    let (mut core, _) = make(json!({}));
    core.register(
        json!({"email": "a@b.c", "app": "1"})
            .as_object()
            .cloned()
            .unwrap(),
    );
    let ctx = crate::event::EventContext {
        page: json!({"url": "https://x.com/?promo=1&q=2"})
            .as_object()
            .cloned()
            .map(Into::into),
        ..Default::default()
    };
    core.set_default_context(ctx);
    core.apply_server_settings(
        settings(json!({"property_deny_list": ["email"], "url_param_deny_list": ["promo"]})),
        T0,
    );
    core.track(Event::track("t"), T0 + 1);
    let m = &sent(&mut core, T0 + 2)[0];
    assert_eq!(m.properties.as_ref().unwrap().get("email"), None);
    assert_eq!(m.context.page.as_ref().unwrap()["url"], "https://x.com/?q=2");
}

#[test]
fn a_batch_in_flight_during_a_change_is_rechecked_if_it_comes_back() {
    let (mut core, _) = make(json!({"tracking": {"batch_size": 1}}));
    core.track(Event::track("t").property("email", "a@b.c").property("ok", 1), T0);
    let out = core.poll_batch(T0).unwrap();
    core.apply_server_settings(settings(json!({"property_deny_list": ["email"]})), T0 + 1);
    core.report(out.id, Delivery::status(503), T0 + 2);
    let m = &sent(&mut core, T0 + 120_000)[0];
    assert_eq!(m.properties.as_ref().unwrap().get("email"), None);
    assert_eq!(m.properties.as_ref().unwrap()["ok"], 1);
}

#[test]
fn settings_persist_and_apply_on_an_offline_restart_before_anything_is_sent() {
    let store = MemoryStore::new();
    let (mut first, _) = core_with(json!({}), &store);
    first.track(Event::track("queued").property("email", "a@b.c"), T0);
    // Persisted while the queue still had the old rules (e.g. a crash mid-change).
    let record = crate::settings_fetch::SettingsRecord {
        etag: Some("\"v2\"".into()),
        fetched_at: T0,
        json: json!({"property_deny_list": ["email"], "consent_mode": "opt_in"}).to_string(),
    };
    let mut raw = store.clone();
    crate::Store::save_settings(&mut raw, &record.to_text()).unwrap();
    drop(first);

    let (second, _) = core_with(json!({}), &store);
    assert_eq!(second.settings_etag(), Some("\"v2\""));
    assert_eq!(second.server_settings().unwrap().property_deny_list, ["email"]);
    assert_eq!(second.consent_decision("analytics"), ConsentDecision::Pending);
    assert_eq!(
        second.stats().queued,
        0,
        "the restored analytics event is not permitted now"
    );
    assert!(store.messages().is_empty());
}

#[test]
fn fetch_schedule_etag_backoff_and_never_blocking_delivery() {
    let (mut core, store) = make(json!({"tracking": {"batch_size": 1}}));
    assert_eq!(
        core.next_wakeup(T0),
        None,
        "hosts that do not fetch are never woken for it"
    );
    assert!(core.poll_settings(T0).is_none());
    core.set_settings_fetch(true);
    assert_eq!(core.next_wakeup(T0), Some(0), "due at once");
    let req = core.poll_settings(T0).unwrap();
    assert_eq!(req.url, "http://localhost:8080/v1/settings");
    assert_eq!(req.etag, None);
    assert!(core.poll_settings(T0).is_none(), "one at a time");
    assert_eq!(core.next_wakeup(T0), None, "waiting for the answer");
    let body = json!({"property_deny_list": ["email"]}).to_string();
    core.report_settings(
        SettingsResponse::Fetched {
            body,
            etag: Some("\"a\"".into()),
        },
        T0 + 10,
    );
    assert_eq!(core.settings_etag(), Some("\"a\""));
    assert!(
        store
            .settings()
            .unwrap()
            .starts_with("footfall-settings 1\n\"a\"\n")
    );
    assert_eq!(core.next_wakeup(T0 + 10), Some(T0 + 10 + REFRESH));
    assert!(core.poll_settings(T0 + 10 + REFRESH - 1).is_none());
    let req = core.poll_settings(T0 + 10 + REFRESH).unwrap();
    assert_eq!(req.etag.as_deref(), Some("\"a\""), "If-None-Match");

    // While this fetch is out (settings known), delivery goes on.
    core.track(Event::track("t"), T0 + 10 + REFRESH);
    assert!(core.poll_batch(T0 + 10 + REFRESH).is_some());
    core.report_settings(SettingsResponse::NotModified, T0 + 20 + REFRESH);
    assert_eq!(core.settings_fetched_at(), Some(T0 + 20 + REFRESH));

    // Failures back off (base 1 s doubling, at most the refresh interval); settings stay.
    let mut at = T0 + 20 + 2 * REFRESH;
    let mut delays = Vec::new();
    for _ in 0..12 {
        core.poll_settings(at).unwrap();
        core.report_settings(
            SettingsResponse::Failed {
                detail: "HTTP 503".into(),
            },
            at,
        );
        let next = core.next_wakeup(at).unwrap();
        delays.push(next - at);
        at = next;
    }
    assert!(delays.iter().all(|d| (1_000..=60_000).contains(d)), "{delays:?}");
    assert!(delays[11] > delays[0]);
    // A collector without a settings endpoint (404) is not failing: asked again after the
    // refresh interval, and the backoff starts over.
    core.poll_settings(at).unwrap();
    core.report_settings(SettingsResponse::http(404, None, None), at);
    assert_eq!(core.next_wakeup(at), Some(at + REFRESH));
    at += REFRESH;
    assert_eq!(core.server_settings().unwrap().property_deny_list, ["email"]);
    // An unreadable answer is a failure too.
    core.poll_settings(at).unwrap();
    core.report_settings(
        SettingsResponse::Fetched {
            body: "{\"anonymize_ip\": \"yes\"}".into(),
            etag: Some("\"b\"".into()),
        },
        at,
    );
    assert_eq!(core.settings_etag(), Some("\"a\""));
    assert!(core.next_wakeup(at).unwrap() > at);
}

#[test]
fn a_first_start_holds_batches_for_the_first_answer_at_most_the_wait() {
    let (mut core, _) = make(json!({"tracking": {"batch_size": 1}}));
    core.set_settings_fetch(true);
    core.poll_settings(T0).unwrap();
    core.track(Event::track("early"), T0);
    assert!(
        core.poll_batch(T0).is_none(),
        "held for the first settings answer"
    );
    assert!(core.holds_for_settings(T0));
    assert_eq!(core.next_wakeup(T0), Some(T0 + SETTINGS_WAIT_MS));
    core.report_settings(
        SettingsResponse::Fetched {
            body: json!({"consent_mode": "opt_in"}).to_string(),
            etag: None,
        },
        T0 + 50,
    );
    assert!(
        core.poll_batch(T0 + 50).is_none(),
        "the answer said opt_in: purged"
    );
    assert_eq!(core.stats().dropped(DropReason::Consent), 1);

    // No answer within the wait: the local configuration decides.
    let (mut core, _) = make(json!({"tracking": {"batch_size": 1}}));
    core.set_settings_fetch(true);
    core.poll_settings(T0).unwrap();
    core.track(Event::track("early"), T0);
    assert!(core.poll_batch(T0 + SETTINGS_WAIT_MS - 1).is_none());
    assert!(core.poll_batch(T0 + SETTINGS_WAIT_MS).is_some());
    // A page hide never waits.
    let (mut core, _) = make(json!({}));
    core.set_settings_fetch(true);
    core.poll_settings(T0).unwrap();
    core.track(Event::track("bye"), T0);
    assert_eq!(core.flush_all(T0, 65_536, true).len(), 1);
}

#[test]
fn no_request_while_the_local_config_lets_nothing_through() {
    let (mut core, _) = make(json!({"consent": {"mode": "opt_in"}}));
    core.set_settings_fetch(true);
    assert!(core.poll_settings(T0).is_none());
    assert_eq!(core.next_wakeup(T0), None);
    core.grant(&["analytics"], T0 + 1);
    assert!(core.poll_settings(T0 + 1).is_some(), "a grant allows the fetch");

    // Signals that deny every category: nothing to send, nothing to fetch.
    let (mut core, _) = make(json!({"consent": {"gpc_categories": ["analytics", "marketing"]}}));
    core.set_settings_fetch(true);
    core.set_initial_privacy_signals(
        crate::PrivacySignals {
            gpc: true,
            dnt: false,
        },
        T0,
    );
    assert!(core.poll_settings(T0).is_none());

    // A server-imposed opt_in does not stop fetching (else it could never be lifted).
    let (mut core, _) = make(json!({}));
    core.set_settings_fetch(true);
    core.apply_server_settings(settings(json!({"consent_mode": "opt_in"})), T0);
    assert!(core.poll_settings(T0).is_some());

    // settings_refresh 0: off.
    let (mut core, _) = make(json!({"delivery": {"settings_refresh": 0}}));
    core.set_settings_fetch(true);
    assert!(core.poll_settings(T0).is_none());
}

#[test]
fn unchanged_settings_change_nothing() {
    let (mut core, store) = make(json!({}));
    core.track(Event::track("t").property("email", "a@b.c"), T0);
    let before = store.messages();
    let mut s = PrivacySettings::default();
    s.tracking_plan
        .events
        .insert("other".into(), EventPlan::default());
    s.consent_mode = ConsentMode::OptOut;
    core.apply_server_settings(s, T0 + 1);
    assert_eq!(store.messages(), before);
    assert_eq!(core.stats().dropped_total(), 0);
}

#[test]
fn the_pages_campaign_is_on_every_message_and_obeys_the_privacy_rules() {
    // What the browser host sets: the page and the campaign of its UTM parameters.
    let page = |search: &str, campaign: Value| {
        let mut ctx = crate::event::EventContext {
            page: json!({"url": format!("https://x.com/{search}"), "search": search})
                .as_object()
                .cloned()
                .map(Into::into),
            ..Default::default()
        };
        let params: crate::json::Map = json!(campaign).as_object().cloned().unwrap().into();
        let campaign = crate::pipeline::campaign::from_params(&params);
        if !campaign.is_empty() {
            ctx.extra
                .insert("campaign".into(), crate::json::Value::Object(campaign));
        }
        ctx
    };
    let (mut core, _) = make(json!({}));
    core.set_default_context(page(
        "?utm_source=news&utm_campaign=spring+sale&utm_term=shoes&utm_content=jane%40example.com",
        json!({"utm_source": "news", "utm_campaign": "spring sale", "utm_term": "shoes",
               "utm_content": "jane@example.com"}),
    ));
    core.track(Event::track("t"), T0 + 1);
    let m = &sent(&mut core, T0 + 2)[0];
    assert_eq!(
        m.context.extra["campaign"],
        json!({"source": "news", "name": "spring sale", "term": "shoes", "content": "jane@example.com"})
    );

    // The privacy team denies utm_term and turns PII scrubbing on: the campaign in force loses
    // `term` and its decoded e-mail address, like the page's URL.
    core.apply_server_settings(
        settings(json!({"pii_scrubbing": true, "url_param_deny_list": ["utm_term"]})),
        T0 + 3,
    );
    core.track(Event::track("t"), T0 + 4);
    let m = &sent(&mut core, T0 + 5)[0];
    assert_eq!(
        m.context.extra["campaign"],
        json!({"source": "news", "name": "spring sale", "content": crate::pipeline::pii::REDACTED})
    );
    assert!(
        !m.context.page.as_ref().unwrap()["url"]
            .as_str()
            .unwrap()
            .contains("utm_term")
    );

    // A page whose only UTM parameter is denied has no campaign; an event's own campaign wins.
    core.set_default_context(page("?utm_term=boots", json!({"utm_term": "boots"})));
    core.track(Event::track("t"), T0 + 6);
    let mut own = Event::track("own");
    own.context
        .extra
        .insert("campaign".into(), crate::json::Value::String("mine".into()));
    core.set_default_context(page("?utm_source=x", json!({"utm_source": "x"})));
    core.track(own, T0 + 7);
    let ms = sent(&mut core, T0 + 8);
    assert_eq!(ms[0].context.extra.get("campaign"), None);
    assert_eq!(ms[1].context.extra["campaign"], "mine");
}
