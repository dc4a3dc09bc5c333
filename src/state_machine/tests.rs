//! Unit tests of the state machine on virtual time (see also tests/ for the properties).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::bookkeeping::RECENT_WARNINGS;
use super::*;
use crate::consent::{ConsentDecision, PrivacySignals};
use crate::delivery::Delivery;
use crate::event::Event;
use crate::message::Batch;
use crate::stats::DropReason;
use crate::testing::{MemoryStore, SeededRng};

const T0: u64 = 1_764_324_000_000;

struct Harness {
    core: Core,
    store: MemoryStore,
    log: Arc<Mutex<Vec<String>>>,
}

fn config(json: Value) -> Config {
    Config::from_value(json).unwrap()
}

fn harness_with(cfg: Config, store: MemoryStore, seed: u64) -> Harness {
    let mut core = Core::new(cfg, Box::new(store.clone()), Box::new(SeededRng::new(seed)), T0).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    core.set_debug_log(Box::new(move |e| sink.lock().unwrap().push(e.to_string())));
    Harness { core, store, log }
}

fn harness(json: Value) -> Harness {
    harness_with(config(json), MemoryStore::new(), 1)
}

fn parse(batch: &OutgoingBatch) -> Batch {
    serde_json::from_slice(&batch.body).unwrap()
}

fn events(batch: &Batch) -> Vec<&str> {
    batch
        .batch
        .iter()
        .map(|m| {
            m.event
                .as_deref()
                .or(m.name.as_deref())
                .unwrap_or(m.kind.as_str())
        })
        .collect()
}

fn ids(batch: &Batch) -> Vec<String> {
    batch.batch.iter().map(|m| m.message_id.clone()).collect()
}

#[test]
fn track_builds_a_complete_message() {
    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.core
        .register(json!({"app_version": "1.2"}).as_object().cloned().unwrap());
    h.core.track(
        Event::track("signed_up")
            .property("plan", "pro")
            .ip("203.0.113.9"),
        T0 + 5,
    );
    let batch = h.core.poll_batch(T0 + 10).expect("batch_size 1");
    let b = parse(&batch);
    let m = &b.batch[0];
    assert_eq!(m.event.as_deref(), Some("signed_up"));
    assert_eq!(m.message_id.len(), 36);
    assert_eq!(m.anonymous_id.as_deref(), Some(h.core.anonymous_id()));
    assert_eq!(m.timestamp, crate::time::format_rfc3339_ms(T0 + 5));
    assert_eq!(
        m.sent_at.as_deref(),
        Some(crate::time::format_rfc3339_ms(T0 + 10).as_str())
    );
    assert_eq!(b.sent_at, m.sent_at);
    assert_eq!(m.context.library.as_ref().unwrap().name, LIBRARY_NAME);
    assert!(
        m.context
            .session_id
            .as_deref()
            .unwrap()
            .starts_with(&format!("s_{}", T0 + 5))
    );
    assert_eq!(m.context.ip.as_deref(), Some("203.0.113.0"));
    assert_eq!(m.context.anonymize_ip, Some(true));
    assert!(m.context.consent.as_ref().unwrap().grants("analytics"));
    let props = m.properties.as_ref().unwrap();
    assert_eq!(props["plan"], "pro");
    assert_eq!(props["app_version"], "1.2");
    m.check_shape().unwrap();
    assert_eq!(batch.messages, 1);
}

#[test]
fn batches_are_due_at_batch_size_flush_interval_or_max_bytes() {
    let mut h = harness(json!({"tracking": {"batch_size": 3, "flush_interval": 5}}));
    assert_eq!(h.core.next_wakeup(T0), None, "nothing queued");
    h.core.track(Event::track("a"), T0);
    h.core.track(Event::track("b"), T0 + 100);
    assert_eq!(h.core.next_wakeup(T0 + 100), Some(T0 + 5_000));
    assert!(h.core.poll_batch(T0 + 4_999).is_none());
    h.core.track(Event::track("c"), T0 + 200);
    assert_eq!(h.core.next_wakeup(T0 + 200), Some(T0 + 200), "batch_size reached");
    let b = h.core.poll_batch(T0 + 200).unwrap();
    assert_eq!(events(&parse(&b)), ["a", "b", "c"]);

    // flush_interval
    let mut h = harness(json!({"tracking": {"batch_size": 100, "flush_interval": 5}}));
    h.core.track(Event::track("a"), T0);
    assert!(h.core.poll_batch(T0 + 4_999).is_none());
    assert_eq!(parse(&h.core.poll_batch(T0 + 5_000).unwrap()).batch.len(), 1);

    // max_batch_bytes: each message ~1 KB, limit 4 KB → batches of at most 3
    let mut h =
        harness(json!({"tracking": {"batch_size": 100, "max_batch_bytes": 4096, "max_message_bytes": 2048}}));
    for i in 0..4 {
        h.core.track(
            Event::track("big")
                .property("pad", "x".repeat(700))
                .property("i", i),
            T0,
        );
    }
    let first = h.core.poll_batch(T0).expect("bytes threshold reached");
    assert!(
        first.body.len() <= 4096 && first.messages == 3,
        "{} bytes, {} msgs",
        first.body.len(),
        first.messages
    );
}

#[test]
fn drops_are_counted_with_reasons() {
    let mut h = harness(json!({
        "tracking": {"max_message_bytes": 1024, "strict": true},
        "events": {"ok": {}, "off": {"enabled": false}}
    }));
    h.core.track(Event::track(""), T0);
    h.core
        .track(Event::track("ok").property("pad", "x".repeat(2000)), T0);
    h.core.track(Event::track("off"), T0);
    h.core.track(Event::track("unplanned"), T0);
    h.core.track(Event::track("ok"), T0);
    let s = h.core.stats();
    assert_eq!(s.dropped(DropReason::Invalid), 1);
    assert_eq!(s.dropped(DropReason::TooLarge), 1);
    assert_eq!(s.dropped(DropReason::Disabled), 1);
    assert_eq!(s.dropped(DropReason::NotInPlan), 1);
    assert_eq!((s.enqueued, s.queued), (1, 1));
    assert!(h.log.lock().unwrap().iter().any(|l| l.contains("(too_large)")));

    let mut h = harness(json!({"tracking": {"enabled": false}}));
    h.core.track(Event::track("x"), T0);
    assert_eq!(h.core.stats().dropped(DropReason::Disabled), 1);
}

#[test]
fn before_send_hooks_change_or_drop_and_cannot_smuggle_denied_categories() {
    let mut h = harness(json!({"tracking": {"batch_size": 10}}));
    h.core.deny(&["marketing"], T0);
    h.core.add_before_send(Box::new(|mut m| {
        match m.event.as_deref() {
            Some("secret") => return None,
            Some("retarget") => m.context.category = Some("marketing".into()),
            _ => {
                m.properties
                    .get_or_insert_with(Default::default)
                    .insert("hooked".into(), json!(true));
            }
        }
        Some(m)
    }));
    h.core.track(Event::track("secret"), T0);
    h.core.track(Event::track("retarget"), T0);
    h.core.track(Event::track("fine"), T0);
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0).unwrap());
    let names = events(&b);
    assert!(names.contains(&"fine") && !names.contains(&"secret") && !names.contains(&"retarget"));
    let fine = b
        .batch
        .iter()
        .find(|m| m.event.as_deref() == Some("fine"))
        .unwrap();
    assert_eq!(fine.properties.as_ref().unwrap()["hooked"], true);
    let s = h.core.stats();
    assert_eq!(
        (s.dropped(DropReason::BeforeSend), s.dropped(DropReason::Consent)),
        (1, 1)
    );
}

#[test]
fn full_queue_evicts_oldest_non_necessary_and_forgets_it_in_the_store() {
    let mut h = harness(json!({"tracking": {"max_queue_size": 3, "batch_size": 100}}));
    h.core.track(Event::track("n").category("necessary"), T0);
    for name in ["a1", "a2", "a3"] {
        h.core.track(Event::track(name), T0);
    }
    assert_eq!(h.core.stats().dropped(DropReason::QueueFull), 1);
    let stored: Vec<String> = h.store.messages().iter().map(|m| m.json.clone()).collect();
    assert_eq!(stored.len(), 3);
    assert!(!stored.iter().any(|j| j.contains("\"a1\"")));
    h.core.flush();
    assert_eq!(events(&parse(&h.core.poll_batch(T0).unwrap())), ["n", "a2", "a3"]);
}

#[test]
fn opt_in_holds_events_in_memory_until_granted_then_releases_in_order() {
    let mut h = harness(json!({"consent": {"mode": "opt_in"}, "tracking": {"batch_size": 100}}));
    h.core.track(Event::track("first"), T0);
    h.core.track(Event::track("ad").category("marketing"), T0 + 1);
    h.core.track(Event::track("second"), T0 + 2);
    h.core.track(Event::track("audit").category("necessary"), T0 + 3);
    let s = h.core.stats();
    assert_eq!((s.pending_consent, s.queued), (3, 1));
    assert_eq!(
        h.store.appended().len(),
        1,
        "only the necessary event was written"
    );
    assert_eq!(h.core.consent_decision("analytics"), ConsentDecision::Pending);

    h.core.grant(&["analytics"], T0 + 10);
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0 + 10).unwrap());
    assert_eq!(events(&b), ["audit", "consent_updated", "first", "second"]);
    let first = &b.batch[2];
    assert_eq!(
        first.timestamp,
        crate::time::format_rfc3339_ms(T0),
        "original time kept"
    );
    assert!(first.context.consent.as_ref().unwrap().grants("analytics"));
    let audit = &b.batch[1];
    assert_eq!(audit.consent_category(), "necessary");
    let props = audit.properties.as_ref().unwrap();
    assert_eq!(props["preferences"]["analytics"], true);
    assert_eq!(props["states"]["marketing"], "pending");
    assert_eq!(props["action"], "grant");
    assert_eq!(h.core.stats().pending_consent, 1, "marketing still waits");

    h.core.deny(&["marketing"], T0 + 20);
    let s = h.core.stats();
    assert_eq!((s.pending_consent, s.dropped(DropReason::Consent)), (0, 1));
    assert!(h.store.appended().iter().all(|m| m.category != "marketing"));
}

#[test]
fn stats_json_is_the_snapshot_with_the_hosts_store_errors_and_leaves_the_counters_alone() {
    let mut h = harness(json!({"consent": {"mode": "opt_in"}, "tracking": {"batch_size": 2}}));
    h.core.track(Event::track("waits"), T0);
    h.core.track(Event::track("audit").category("necessary"), T0 + 1);
    h.core.track(Event::track("audit2").category("necessary"), T0 + 2);
    let _in_flight = h.core.poll_batch(T0 + 2).unwrap();
    h.core.track(Event::track("queued").category("necessary"), T0 + 3);
    let before = h.core.stats();
    assert_eq!(
        (before.pending_consent, before.queued, before.in_flight),
        (1, 1, 2)
    );

    let mut expected = before.clone();
    expected.store_errors += 3;
    let json = h.core.stats_json(3);
    assert_eq!(json, expected.to_json());
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["pendingConsent"].as_u64(), v["queued"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (v["inFlight"].as_u64(), v["storeErrors"].as_u64()),
        (Some(2), Some(before.store_errors + 3))
    );
    assert_eq!(
        h.core.stats(),
        before,
        "the host's errors are not added to the core's counters"
    );
    assert_eq!(h.core.queue_counts(), (1, 2));
}

#[test]
fn pending_buffer_is_bounded() {
    let mut h = harness(json!({"consent": {"mode": "opt_in", "max_pending": 2}}));
    for name in ["a", "b", "c"] {
        h.core.track(Event::track(name), T0);
    }
    assert_eq!(h.core.stats().pending_consent, 2);
    assert_eq!(h.core.stats().dropped(DropReason::QueueFull), 1);
}

#[test]
fn revoke_purges_queue_and_store_and_can_rotate_the_anonymous_id() {
    let mut h =
        harness(json!({"consent": {"rotate_anonymous_id_on_revoke": true}, "tracking": {"batch_size": 100}}));
    let before = h.core.anonymous_id().to_string();
    h.core.track(Event::track("a"), T0);
    h.core.track(Event::track("ad").category("marketing"), T0);
    assert_eq!(h.store.messages().len(), 2);
    h.core.revoke(&["analytics"], T0 + 1);
    let stored = h.store.messages();
    assert!(stored.iter().all(|m| m.category != "analytics"), "{stored:?}");
    assert_eq!(h.core.stats().dropped(DropReason::Consent), 1);
    assert_ne!(h.core.anonymous_id(), before);
    h.core.track(Event::track("after"), T0 + 2);
    assert_eq!(h.core.stats().dropped(DropReason::Consent), 2);
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0 + 2).unwrap());
    assert_eq!(events(&b), ["ad", "consent_updated"]);
    assert_eq!(b.batch[1].properties.as_ref().unwrap()["action"], "revoke");
}

#[test]
fn revoked_in_flight_messages_are_dropped_if_their_send_fails() {
    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.core.track(Event::track("a"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    h.core.deny(&["analytics"], T0);
    assert!(h.store.messages().iter().all(|m| m.category != "analytics"));
    h.core.report(b.id, Delivery::status(503), T0);
    assert_eq!(h.core.stats().queued, 1, "only the consent_updated audit event");
    assert_eq!(h.core.stats().dropped(DropReason::Consent), 1);
}

#[test]
fn gpc_denies_marketing_and_dnt_is_ignored_unless_configured() {
    let mut h = harness(json!({"tracking": {"batch_size": 100}}));
    h.core.track(Event::track("ad").category("marketing"), T0);
    h.core
        .set_privacy_signals(PrivacySignals { gpc: true, dnt: true }, T0);
    assert_eq!(h.core.consent_decision("marketing"), ConsentDecision::Denied);
    assert_eq!(h.core.consent_decision("analytics"), ConsentDecision::Granted);
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0).unwrap());
    assert_eq!(events(&b), ["consent_updated"]);
    assert_eq!(b.batch[0].properties.as_ref().unwrap()["source"], "dnt");
    assert_eq!(b.batch[0].properties.as_ref().unwrap()["gpc"], true);

    let mut h = harness(json!({"consent": {"respect_dnt": true}}));
    h.core.set_privacy_signals(
        PrivacySignals {
            gpc: false,
            dnt: true,
        },
        T0,
    );
    assert_eq!(h.core.consent_decision("analytics"), ConsentDecision::Denied);
    assert_eq!(h.core.consent_decision("necessary"), ConsentDecision::Granted);
}

#[test]
fn consent_choices_persist_across_restarts_but_signals_do_not() {
    let store = MemoryStore::new();
    let cfg = config(json!({"consent": {"mode": "opt_in"}}));
    let mut h = harness_with(cfg.clone(), store.clone(), 1);
    h.core.grant(&["analytics"], T0);
    h.core.set_privacy_signals(
        PrivacySignals {
            gpc: true,
            dnt: false,
        },
        T0,
    );
    drop(h);
    let h = harness_with(cfg, store, 2);
    assert_eq!(h.core.consent_decision("analytics"), ConsentDecision::Granted);
    assert_eq!(h.core.consent_decision("marketing"), ConsentDecision::Pending);
}

#[test]
fn retries_keep_message_ids_and_back_off_with_full_jitter() {
    let mut h = harness(json!({"tracking": {"batch_size": 2}}));
    h.core.track(Event::track("a"), T0);
    h.core.track(Event::track("b"), T0);
    let first = h.core.poll_batch(T0).unwrap();
    let first_ids = ids(&parse(&first));
    h.core.report(first.id, Delivery::status(500), T0);
    let wake = h.core.next_wakeup(T0).unwrap();
    assert!(
        (T0..=T0 + 1_000).contains(&wake),
        "first backoff within base: {}",
        wake - T0
    );
    let mut now = wake;
    for failure in 2..=5u32 {
        let b = h.core.poll_batch(now).expect("due after the backoff");
        let parsed = parse(&b);
        assert_eq!(ids(&parsed), first_ids);
        assert_eq!(
            parsed.sent_at.as_deref(),
            Some(crate::time::format_rfc3339_ms(now).as_str())
        );
        h.core.report(
            b.id,
            Delivery::NetworkError {
                detail: "refused".into(),
            },
            now,
        );
        let wait = h.core.next_wakeup(now).unwrap() - now;
        assert!(wait <= 1_000 * (1 << (failure - 1)), "failure {failure}: {wait}");
        now += wait;
    }
    let b = h.core.poll_batch(now).unwrap();
    h.core.report(b.id, Delivery::status(200), now);
    let s = h.core.stats();
    assert_eq!((s.sent, s.retried, s.queued), (2, 10, 0));
    assert!(h.store.messages().is_empty());
}

#[test]
fn retry_after_is_honoured_on_429() {
    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.core.track(Event::track("a"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    h.core.report(
        b.id,
        Delivery::Http {
            status: 429,
            retry_after: Some("30".into()),
            body: None,
        },
        T0,
    );
    assert_eq!(h.core.next_wakeup(T0), Some(T0 + 30_000));
    assert!(h.core.poll_batch(T0 + 29_999).is_none());
    assert!(h.core.poll_batch(T0 + 30_000).is_some());
}

#[test]
fn payload_too_large_splits_in_halves_down_to_single_messages() {
    let mut h = harness(json!({"tracking": {"batch_size": 8}}));
    for i in 0..8 {
        h.core.track(Event::track(format!("e{i}")), T0);
    }
    let b = h.core.poll_batch(T0).unwrap();
    assert_eq!(b.messages, 8);
    h.core.report(b.id, Delivery::status(413), T0);
    let mut sizes = Vec::new();
    while let Some(b) = h.core.poll_batch(T0) {
        sizes.push(b.messages);
        let answer = if b.messages > 2 { 413 } else { 200 };
        h.core.report(b.id, Delivery::status(answer), T0);
    }
    assert_eq!(sizes, [4, 2, 2, 2, 2]);
    assert_eq!(h.core.stats().sent, 8);

    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.core.track(Event::track("alone"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    h.core.report(b.id, Delivery::status(413), T0);
    assert_eq!(h.core.stats().dropped(DropReason::TooLarge), 1);
}

#[test]
fn client_errors_drop_with_the_collectors_reasons() {
    let mut h = harness(json!({"tracking": {"batch_size": 3}}));
    for name in ["a", "b", "c"] {
        h.core.track(Event::track(name), T0);
    }
    let b = h.core.poll_batch(T0).unwrap();
    let second = ids(&parse(&b))[1].clone();
    let body =
        json!({"accepted": 0, "rejected": [{"index": 1, "messageId": second, "reason": "bad timestamp"}]});
    h.core.report(
        b.id,
        Delivery::Http {
            status: 400,
            retry_after: None,
            body: Some(body.to_string()),
        },
        T0,
    );
    let s = h.core.stats();
    assert_eq!((s.dropped(DropReason::Rejected), s.queued, s.sent), (3, 0, 0));
    assert_eq!(s.recent_rejections[1].message_id, second);
    assert_eq!(s.recent_rejections[1].reason, "bad timestamp");
    assert_eq!(s.recent_rejections[0].reason, "HTTP 400");
    assert!(h.store.messages().is_empty());

    // 200 with partial rejection
    for name in ["a", "b", "c"] {
        h.core.track(Event::track(name), T0);
    }
    let b = h.core.poll_batch(T0).unwrap();
    let body = json!({"accepted": 2, "rejected": [{"index": 0, "reason": "invalid"}]});
    h.core.report(
        b.id,
        Delivery::Http {
            status: 200,
            retry_after: None,
            body: Some(body.to_string()),
        },
        T0,
    );
    let s = h.core.stats();
    assert_eq!((s.dropped(DropReason::Rejected), s.sent), (4, 2));
}

#[test]
fn messages_give_up_after_max_attempts_or_max_age() {
    let mut h =
        harness(json!({"tracking": {"batch_size": 1}, "delivery": {"max_attempts": 3, "backoff_cap": 1}}));
    h.core.track(Event::track("a"), T0);
    let mut now = T0;
    for _ in 0..3 {
        let b = h.core.poll_batch(now).unwrap();
        h.core.report(b.id, Delivery::status(503), now);
        now += 1_000;
    }
    assert_eq!(h.core.stats().dropped(DropReason::RetriesExhausted), 1);
    assert!(h.store.messages().is_empty());

    let mut h = harness(json!({"tracking": {"batch_size": 100}, "delivery": {"max_age": 60}}));
    h.core.track(Event::track("old"), T0);
    assert_eq!(h.core.next_wakeup(T0), Some(T0 + 5_000));
    assert!(h.core.poll_batch(T0 + 60_001).is_none());
    assert_eq!(h.core.stats().dropped(DropReason::Expired), 1);
}

#[test]
fn restart_restores_identity_session_and_queue_with_the_same_message_ids() {
    let store = MemoryStore::new();
    let cfg = config(json!({"tracking": {"batch_size": 2}}));
    let mut h = harness_with(cfg.clone(), store.clone(), 1);
    h.core.track(Event::identify("user_42"), T0);
    h.core.track(Event::track("a"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    let sent_ids = ids(&parse(&b));
    let (anon, session) = (
        h.core.anonymous_id().to_string(),
        h.core.session_id(T0).unwrap().to_string(),
    );
    drop(h); // crash with the batch in flight

    let mut h = harness_with(cfg, store.clone(), 99);
    assert_eq!(h.core.anonymous_id(), anon);
    assert_eq!(h.core.user_id(), Some("user_42"));
    assert_eq!(h.core.session_id(T0 + 1_000), Some(session.as_str()));
    assert_eq!(h.core.stats().restored, 2);
    let b = h.core.poll_batch(T0 + 1_000).expect("restored messages are due");
    assert_eq!(ids(&parse(&b)), sent_ids);
    h.core.report(b.id, Delivery::status(200), T0 + 1_000);
    assert!(store.messages().is_empty());
}

#[test]
fn restore_drops_messages_whose_consent_is_gone() {
    let store = MemoryStore::new();
    let mut h = harness_with(config(json!({})), store.clone(), 1);
    h.core.track(Event::track("ad").category("marketing"), T0);
    drop(h);
    let h = harness_with(config(json!({"consent": {"mode": "opt_in"}})), store.clone(), 2);
    assert_eq!(h.core.stats().dropped(DropReason::Consent), 1);
    assert!(store.messages().is_empty());
}

#[test]
fn identify_alias_reset_and_explicit_identities() {
    let mut h = harness(json!({"tracking": {"batch_size": 100}}));
    let anon = h.core.anonymous_id().to_string();
    h.core.track(Event::track("before"), T0);
    h.core.track(Event::identify("u1").trait_value("plan", "pro"), T0);
    h.core.track(Event::track("after"), T0);
    h.core.track(Event::alias("u2", None), T0);
    h.core.track(Event::track("server").user_id("someone_else"), T0);
    h.core
        .track(Event::identify("other").anonymous_id("req-anon"), T0);
    assert_eq!(h.core.user_id(), Some("u2"));
    h.core.reset(T0);
    assert_ne!(h.core.anonymous_id(), anon);
    assert_eq!(h.core.user_id(), None);
    assert_eq!(h.core.session_id(T0), None);
    h.core.track(Event::track("logged_out"), T0);
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0).unwrap());
    let m = &b.batch;
    assert_eq!(m[0].user_id, None);
    assert_eq!(
        (m[1].user_id.as_deref(), m[1].anonymous_id.as_deref()),
        (Some("u1"), Some(anon.as_str()))
    );
    assert_eq!(m[2].user_id.as_deref(), Some("u1"));
    assert_eq!(
        (m[3].user_id.as_deref(), m[3].previous_id.as_deref()),
        (Some("u2"), Some("u1"))
    );
    assert_eq!(
        (m[4].user_id.as_deref(), m[4].anonymous_id.as_deref()),
        (Some("someone_else"), None)
    );
    assert_eq!(m[4].context.session_id, None);
    assert_eq!(m[5].anonymous_id.as_deref(), Some("req-anon"));
    assert_eq!(m[6].user_id, None);
    assert_ne!(m[6].anonymous_id.as_deref(), Some(anon.as_str()));
    assert_ne!(m[6].context.session_id, m[0].context.session_id);
    for msg in m {
        msg.check_shape().unwrap();
    }
}

#[test]
fn sessions_rotate_after_inactivity() {
    let mut h = harness(json!({"tracking": {"session_timeout": 60}}));
    h.core.track(Event::track("a"), T0);
    let s1 = h.core.session_id(T0).unwrap().to_string();
    h.core.track(Event::track("b"), T0 + 59_000);
    assert_eq!(h.core.session_id(T0 + 59_000), Some(s1.as_str()));
    assert_eq!(h.core.session_id(T0 + 59_000 + 60_001), None);
    h.core.track(Event::track("c"), T0 + 59_000 + 60_001);
    assert_ne!(h.core.session_id(T0 + 119_001).unwrap(), s1);
}

#[test]
fn hashed_user_ids_on_the_wire_raw_in_memory() {
    let mut h =
        harness(json!({"tracking": {"batch_size": 1}, "privacy": {"hash_user_id": true, "hash_salt": "s"}}));
    h.core.track(Event::identify("user_42"), T0);
    let b = parse(&h.core.poll_batch(T0).unwrap());
    assert_eq!(
        b.batch[0].user_id.as_deref(),
        Some(crate::pipeline::anonymize::hash_id("s", "user_42").as_str())
    );
    assert_eq!(h.core.user_id(), Some("user_42"));
}

#[test]
fn flush_all_chunks_under_the_beacon_limit_with_the_write_key() {
    let mut h = harness(json!({"delivery": {"write_key": "wk_1"}, "tracking": {"batch_size": 1000}}));
    for i in 0..40 {
        h.core.track(
            Event::track("e")
                .property("pad", "x".repeat(3000))
                .property("i", i),
            T0,
        );
    }
    let beacons = h.core.flush_all(T0, 64 * 1024, true);
    assert!(beacons.len() >= 2);
    let mut total = 0;
    for b in &beacons {
        assert!(b.body.len() <= 64 * 1024, "{}", b.body.len());
        let parsed = parse(b);
        assert_eq!(parsed.write_key.as_deref(), Some("wk_1"));
        total += parsed.batch.len();
    }
    assert_eq!(total, 40);
    for b in beacons {
        h.core.report(b.id, Delivery::Beacon { queued: true }, T0);
    }
    assert_eq!(h.core.stats().sent, 40);
    assert!(h.store.messages().is_empty());
}

#[test]
fn in_flight_limit_and_flush_requests() {
    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.core.track(Event::track("a"), T0);
    h.core.track(Event::track("b"), T0);
    let a = h.core.poll_batch(T0).unwrap();
    assert!(h.core.poll_batch(T0).is_none(), "max_in_flight 1");
    assert_eq!(h.core.next_wakeup(T0), None);
    h.core.report(a.id, Delivery::status(200), T0);
    assert_eq!(h.core.next_wakeup(T0), Some(T0));
    h.core.report(a.id, Delivery::status(200), T0);
    assert!(
        h.core
            .stats()
            .warnings
            .iter()
            .any(|w| w.contains("unknown batch"))
    );
}

#[test]
fn store_failures_never_fail_tracking() {
    let mut h = harness(json!({"tracking": {"batch_size": 1}}));
    h.store.set_failing(true);
    h.core.track(Event::track("a"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    h.core.report(b.id, Delivery::status(200), T0);
    let s = h.core.stats();
    assert_eq!(s.sent, 1);
    assert!(s.store_errors >= 2, "{}", s.store_errors);
    assert!(
        h.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("warning: store:"))
    );
}

#[test]
fn startup_warnings_are_replayed_to_the_debug_log() {
    let store = MemoryStore::new();
    store.add_load_warning("queue.log: corrupt record at byte 7 skipped");
    let h = harness_with(config(json!({})), store, 1);
    assert!(h.log.lock().unwrap().iter().any(|l| l.contains("corrupt record")));
    assert_eq!(h.core.stats().warnings.len(), 1);
}

#[test]
fn a_store_that_keeps_failing_is_counted_every_time_and_warned_about_log_spaced() {
    let mut h = harness(json!({}));
    let e = crate::store::StoreError("disk full".into());
    for _ in 0..1000 {
        h.core.store_failed(&e);
    }
    assert_eq!(h.core.stats().store_errors, 1000);
    let warned = h
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("disk full"))
        .count();
    assert_eq!(warned, 10, "the 1st, 2nd, 4th, … 512th failure");

    // Without a debug log the warnings kept for one are bounded too.
    let mut core = Core::new(
        config(json!({})),
        Box::new(MemoryStore::new()),
        Box::new(SeededRng::new(1)),
        T0,
    )
    .unwrap();
    for i in 0..1000 {
        core.warn(&format!("warning {i}"));
    }
    assert!(core.startup_warnings.len() <= RECENT_WARNINGS);
    assert!(core.stats().warnings.len() <= RECENT_WARNINGS);
}

#[test]
fn abandon_counts_everything_unsent() {
    let mut h = harness(json!({"consent": {"mode": "opt_in"}, "tracking": {"batch_size": 1}}));
    h.core.track(Event::track("pending"), T0);
    h.core.track(Event::track("n1").category("necessary"), T0);
    h.core.track(Event::track("n2").category("necessary"), T0);
    let _in_flight = h.core.poll_batch(T0).unwrap();
    assert_eq!(h.core.abandon(), 3);
    let s = h.core.stats();
    assert_eq!(
        (
            s.dropped(DropReason::Shutdown),
            s.queued,
            s.in_flight,
            s.pending_consent
        ),
        (3, 0, 0, 0)
    );
}

#[test]
fn basic_auth_encodes_the_write_key_as_username() {
    assert_eq!(basic_auth("abc"), "Basic YWJjOg==");
    assert_eq!(basic_auth("wk_123"), "Basic d2tfMTIzOg==");
    assert_eq!(basic_auth(""), "Basic Og==");
}

#[test]
fn super_properties_follow_the_privacy_rules() {
    let mut h = harness(
        json!({"tracking": {"batch_size": 1}, "privacy": {"scrub_pii": true, "property_deny_list": ["secret"]}}),
    );
    h.core.register(
        json!({"support_email": "help@shop.example", "secret": "x", "tier": "gold"})
            .as_object()
            .cloned()
            .unwrap(),
    );
    h.core.track(Event::track("a"), T0);
    let b = parse(&h.core.poll_batch(T0).unwrap());
    let props = b.batch[0].properties.as_ref().unwrap();
    assert_eq!(props["support_email"], crate::pipeline::pii::REDACTED);
    assert_eq!(props["tier"], "gold");
    assert!(!props.contains_key("secret"));
}

#[test]
fn write_key_in_body_puts_the_key_in_every_batch_and_keeps_bodies_under_the_limit() {
    let mut h = harness(json!({
        "delivery": {"write_key": "wk_\"body"},
        "tracking": {"batch_size": 100, "max_batch_bytes": 8192, "max_message_bytes": 4096}
    }));
    h.core.set_write_key_in_body(true);
    for i in 0..20 {
        h.core.track(
            Event::track("e")
                .property("pad", "x".repeat(700))
                .property("i", i),
            T0,
        );
    }
    h.core.flush();
    let mut seen = 0;
    while let Some(b) = h.core.poll_batch(T0) {
        assert!(b.body.len() <= 8192, "{}", b.body.len());
        let parsed = parse(&b);
        assert_eq!(parsed.write_key.as_deref(), Some("wk_\"body"));
        seen += parsed.batch.len();
        h.core.report(b.id, Delivery::status(200), T0);
    }
    assert_eq!(seen, 20);
    // flush_all does not add it twice.
    h.core.track(Event::track("last"), T0);
    let beacons = h.core.flush_all(T0, 64 * 1024, true);
    let text = String::from_utf8(beacons[0].body.clone()).unwrap();
    assert_eq!(text.matches("writeKey").count(), 1, "{text}");
    h.core
        .report(beacons[0].id, Delivery::Beacon { queued: true }, T0);
    h.core.set_write_key_in_body(false);
    h.core.track(Event::track("header_auth"), T0);
    h.core.flush();
    assert_eq!(parse(&h.core.poll_batch(T0).unwrap()).write_key, None);
}

#[test]
fn retry_now_skips_the_backoff_but_keeps_counting_attempts() {
    let mut h = harness(
        json!({"tracking": {"batch_size": 1}, "delivery": {"backoff_base": 30, "backoff_cap": 60, "max_attempts": 2}}),
    );
    h.core.track(Event::track("a"), T0);
    let b = h.core.poll_batch(T0).unwrap();
    h.core.report(
        b.id,
        Delivery::Http {
            status: 503,
            retry_after: Some("60".into()),
            body: None,
        },
        T0,
    );
    assert_eq!(h.core.next_wakeup(T0), Some(T0 + 60_000));
    assert!(h.core.poll_batch(T0 + 1).is_none(), "backing off");
    h.core.retry_now(); // the browser is back online
    assert_eq!(h.core.next_wakeup(T0 + 1), Some(T0 + 1));
    let again = h.core.poll_batch(T0 + 1).expect("due at once");
    assert_eq!(ids(&parse(&again)), ids(&parse(&b)));
    h.core.report(
        again.id,
        Delivery::NetworkError {
            detail: "offline".into(),
        },
        T0 + 1,
    );
    assert_eq!(
        h.core.stats().dropped(DropReason::RetriesExhausted),
        1,
        "the attempt before retry_now still counted"
    );
}

#[test]
fn initial_privacy_signals_apply_without_an_audit_event() {
    let store = MemoryStore::new();
    // A previous page load queued an ad event; this one starts with GPC on.
    let mut h = harness_with(config(json!({"tracking": {"batch_size": 100}})), store.clone(), 1);
    h.core.track(Event::track("ad").category("marketing"), T0);
    drop(h);
    let mut h = harness_with(config(json!({"tracking": {"batch_size": 100}})), store.clone(), 2);
    assert_eq!(h.core.stats().queued, 1);
    h.core.set_initial_privacy_signals(
        PrivacySignals {
            gpc: true,
            dnt: false,
        },
        T0 + 1,
    );
    assert_eq!(h.core.consent_decision("marketing"), ConsentDecision::Denied);
    let s = h.core.stats();
    assert_eq!(
        (s.queued, s.dropped(DropReason::Consent)),
        (0, 1),
        "purged, nothing audited"
    );
    assert!(store.messages().is_empty());
    assert_eq!(h.core.next_wakeup(T0 + 1), None, "nothing to send");
    // A change while running is audited as before.
    h.core.set_privacy_signals(
        PrivacySignals {
            gpc: false,
            dnt: false,
        },
        T0 + 2,
    );
    h.core.flush();
    let b = parse(&h.core.poll_batch(T0 + 2).unwrap());
    assert_eq!(events(&b), ["consent_updated"]);
}
