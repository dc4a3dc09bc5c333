//! The hand-written writer against serde and the golden fixtures.
//!
//! - every fixture (`tests/fixtures/*.json`) parsed by the core's JSON and written back gives the
//!   fixture's bytes (compacted), and the same value `serde_json` reads;
//! - every fixture rebuilt as a [`Stamped`] message and written by [`write_message`] gives the
//!   fixture's bytes (compacted, without `sentAt`, which is spliced in per attempt) — the wire
//!   format is byte-compatible — and the same value as serializing the fixture's `Message`;
//! - for a variety of pipeline messages, [`write_message`] and serde serializing
//!   [`to_message`]'s decorated `Message` agree.

use std::sync::Arc;

use super::*;
use crate::event::{Event, EventContext};
use crate::json::{Map, Value, parse};
use crate::message::{Message, MessageType};
use crate::pipeline::enrich::{Identity, stamp};

const FIXTURES: [(&str, &str); 6] = [
    ("track", include_str!("../tests/fixtures/track.json")),
    ("page", include_str!("../tests/fixtures/page.json")),
    ("screen", include_str!("../tests/fixtures/screen.json")),
    ("identify", include_str!("../tests/fixtures/identify.json")),
    ("group", include_str!("../tests/fixtures/group.json")),
    ("alias", include_str!("../tests/fixtures/alias.json")),
];

/// `text` without the whitespace between tokens.
fn compact(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn map(v: &Value, key: &str) -> Option<Map> {
    v.get(key).and_then(Value::as_object).cloned()
}

/// A fixture message as the pipeline would carry it, plus its `library` and `consent` JSON.
fn stamped_from(v: &Value) -> (Stamped, String, String) {
    let kind = MessageType::from_name(v["type"].as_str().unwrap()).unwrap();
    let ctx = &v["context"];
    let mut e = Event::new(kind);
    e.event = string(v, "event");
    e.name = string(v, "name");
    e.page_category = string(v, "category");
    e.properties = map(v, "properties").unwrap_or_default();
    e.traits = map(v, "traits").unwrap_or_default();
    e.user_id = string(v, "userId");
    e.anonymous_id = string(v, "anonymousId");
    e.group_id = string(v, "groupId");
    e.previous_id = string(v, "previousId");
    e.category = string(ctx, "category");
    e.timestamp = crate::time::parse_rfc3339_ms(v["timestamp"].as_str().unwrap());
    e.integrations = map(v, "integrations");
    let known = [
        "library",
        "sessionId",
        "consent",
        "category",
        "page",
        "userAgent",
        "locale",
        "ip",
        "anonymizeIp",
    ];
    e.context = EventContext {
        ip: string(ctx, "ip"),
        user_agent: string(ctx, "userAgent"),
        locale: string(ctx, "locale"),
        page: map(ctx, "page"),
        extra: ctx
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let stamped = Stamped {
        id: string(v, "messageId").unwrap(),
        session_id: string(ctx, "sessionId"),
        event: e,
        defaults: Arc::default(),
        anonymize_ip: ctx["anonymizeIp"] == true,
    };
    let json = |v: &Value| if v.is_null() { String::new() } else { v.to_json() };
    (stamped, json(&ctx["library"]), json(&ctx["consent"]))
}

#[test]
fn fixtures_parse_and_write_back_byte_for_byte() {
    for (name, text) in FIXTURES {
        let ours = parse(text).unwrap();
        assert_eq!(ours.to_json(), compact(text), "{name}");
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::Value::from(ours), theirs, "{name}");
    }
}

#[test]
fn fixtures_written_by_the_core_are_byte_compatible_and_agree_with_serde() {
    for (name, text) in FIXTURES {
        let v = parse(text).unwrap();
        let (stamped, library, consent) = stamped_from(&v);
        let mut out = String::new();
        let supers = Map::new();
        let shared = Shared {
            library: &library,
            consent: &consent,
            supers: &supers,
        };
        let sent_at = write_message(&mut out, &stamped, &shared);
        assert!(
            out[..sent_at].ends_with("Z\""),
            "sentAt goes right after timestamp"
        );
        let found = crate::queue::Entry::new("m".into(), "c".into(), 0, out.as_str().into(), None);
        assert_eq!(
            found.sent_at as usize, sent_at,
            "a restored entry finds the same place"
        );
        // Byte for byte (the batch body splices `sentAt` in after `timestamp`, as there).
        let sent_at = crate::json::cat(&[",\"sentAt\":", &Value::from(string(&v, "sentAt")).to_json()]);
        assert_eq!(out, compact(text).replace(&sent_at, ""), "{name}");
        let entry = crate::queue::Entry::new(
            stamped.id.as_str().into(),
            stamped.category().into(),
            0,
            out.as_str().into(),
            None,
        );
        let body = crate::queue::write_body(&[entry], string(&v, "sentAt").as_deref().unwrap(), "");
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains(&compact(text)), "{name}: {body}");
        // The same value as serde serializing the fixture's Message.
        let msg: Message = serde_json::from_str(text).unwrap();
        let mut expected = serde_json::to_value(&msg).unwrap();
        expected.as_object_mut().unwrap().remove("sentAt");
        let written: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(written, expected, "{name}");
    }
}

#[test]
fn the_writer_agrees_with_serde_on_pipeline_messages() {
    let obj = |t: &str| parse(t).unwrap().as_object().cloned().unwrap();
    let supers = obj(r#"{"app":"x","plan":"super","n":1.50}"#);
    let preferences: crate::map::NameMap<bool> =
        [("necessary".to_string(), true), ("analytics".to_string(), false)].into();
    let library = ("footfall-js", "9.9.9\"");
    let defaults = Arc::new(crate::pipeline::enrich::Defaults::new(EventContext {
        user_agent: Some("Mozilla/5.0 \"x\"".into()),
        locale: Some("de-DE".into()),
        page: Some(obj(r#"{"url":"https://x/?a=1","title":"T\u0001"}"#)),
        ip: None,
        extra: obj(r#"{"app":{"v":1},"device":"d"}"#),
    }));
    let who = Identity {
        anonymous_id: "a",
        user_id: Some("u"),
        session_id: Some("s"),
    };
    let events = [
        Event::track("t")
            .property("plan", "own")
            .property("nested", obj(r#"{"deep":[1,{"x":null}]}"#))
            .ip("1.2.3.0")
            .context_value("app", obj(r#"{"own":true}"#)),
        Event::track("esc\n\"aped\u{7f}").property("é", "\u{1}"),
        Event::page(Some("Home")).page_category("docs").locale("fr"),
        Event::track("own_context")
            .user_agent("UA2")
            .context_value("device", "own"),
        Event::identify("u2").trait_value("email", "x@y.io"),
        Event::identify("u3"),
        Event::group("g").integration("All", false),
        Event::alias("u3", Some("u")),
        Event::new(MessageType::Screen),
        Event::track("explicit").user_id("server").anonymous_id("anon"),
    ];
    for (i, event) in events.into_iter().enumerate() {
        let explicit = event.is_explicit();
        let category = if i == 2 { "marketing" } else { "analytics" };
        let mut stamped = stamp(
            event,
            format!("m{i}"),
            1_764_324_000_000 + i as u64,
            (!explicit).then_some(who),
            &defaults,
            category,
        );
        stamped.anonymize_ip = i % 2 == 0;
        let mut out = String::new();
        let library_json = library_json(library.0, library.1);
        let consent = consent_json(&preferences);
        let shared = Shared {
            library: &library_json,
            consent: &consent,
            supers: &supers,
        };
        write_message(&mut out, &stamped, &shared);
        let ours: serde_json::Value = serde_json::from_str(&out).unwrap();
        let msg = to_message(stamped, library, &preferences, &supers);
        assert_eq!(ours, serde_json::to_value(&msg).unwrap(), "event {i}: {out}");
        msg.check_shape().unwrap();
    }
}
