//! Segment dialects: what real Segment-format senders put on the wire beyond the golden format of
//! `src/message.rs`, and how a message in such a dialect is normalized before it is parsed.
//!
//! Seen with the real libraries and the Segment HTTP API's documented forms (see the collector
//! README, "Segment compatibility"):
//!
//! * `messageId` absent (hand-written HTTP API calls; Segment assigns one): the collector derives
//!   `api-` + 32 hex characters of SHA-256 of the message as received when it carries a
//!   `timestamp` (a retried request is then stored once), else a random UUID;
//! * `type` in another case (`"Track"`): lowercased;
//! * numeric `userId`, `anonymousId`, `groupId`, `previousId` (`"userId": 42`): the decimal text;
//! * `null` for `context` or `timestamp`: as if absent;
//! * no `timestamp` but `originalTimestamp` (RudderStack's libraries): the event time is
//!   `originalTimestamp` (then corrected for clock skew with `sentAt`, as RudderStack does);
//! * `context.library` that is a string, or lacks `name` or `version`: `{name, version}` with
//!   the missing part as `""`;
//! * batch-level `context` and `integrations` (`{"batch": [...], "context": {...}}`): applied to
//!   every message of the batch, the message's own keys winning ([`apply_batch_defaults`]).
//!
//! The fast path never comes here: a message already in the golden format is parsed directly;
//! only a message that fails to parse is normalized (one `Value` round trip) and parsed again.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The fields holding ids that Segment senders may send as numbers.
const ID_FIELDS: [&str; 4] = ["userId", "anonymousId", "groupId", "previousId"];

/// What [`normalize`] did that the pipeline needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Normalized {
    /// Neither `timestamp` nor `originalTimestamp` was given: `timestamp` is the receive time.
    pub timestamp_defaulted: bool,
}

/// Normalizes one message (a JSON object; anything else is left alone) in place. `raw` is the
/// message as received (for the derived `messageId`), `now_iso` the receive time.
pub fn normalize(value: &mut Value, raw: &str, now_iso: &str) -> Normalized {
    let Value::Object(m) = value else {
        return Normalized::default();
    };
    if let Some(Value::String(t)) = m.get_mut("type")
        && t.bytes().any(|b| b.is_ascii_uppercase())
    {
        t.make_ascii_lowercase();
    }
    for field in ID_FIELDS {
        if let Some(v @ Value::Number(_)) = m.get_mut(field) {
            *v = Value::String(v.to_string());
        }
    }
    if m.get("context").is_some_and(Value::is_null) {
        m.remove("context");
    }
    if let Some(Value::Object(context)) = m.get_mut("context") {
        normalize_library(context);
    }
    let mut out = Normalized::default();
    if m.get("timestamp").is_none_or(Value::is_null) {
        match m.get("originalTimestamp") {
            Some(Value::String(original)) => {
                let original = original.clone();
                m.insert("timestamp".into(), Value::String(original));
            }
            _ => {
                m.insert("timestamp".into(), Value::String(now_iso.to_string()));
                out.timestamp_defaulted = true;
            }
        }
    }
    if m.get("messageId").is_none_or(Value::is_null) {
        let id = derived_message_id(raw, !out.timestamp_defaulted);
        m.insert("messageId".into(), Value::String(id));
    }
    out
}

/// `api-` + 32 hex characters of SHA-256 of the message as received when it says when it
/// happened (the same request retried is the same event), else a random UUID.
pub fn derived_message_id(raw: &str, has_timestamp: bool) -> String {
    if has_timestamp {
        let digest = Sha256::digest(raw.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("api-{hex}")
    } else {
        format!("api-{}", uuid::Uuid::new_v4().simple())
    }
}

fn normalize_library(context: &mut Map<String, Value>) {
    let Some(library) = context.get_mut("library") else {
        return;
    };
    match library {
        Value::Null => {
            context.remove("library");
        }
        Value::String(name) => {
            let name = std::mem::take(name);
            *library = serde_json::json!({"name": name, "version": ""});
        }
        Value::Object(lib) => {
            for key in ["name", "version"] {
                match lib.get(key) {
                    Some(Value::String(_)) => {}
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                        let text = v.to_string();
                        lib.insert(key.into(), Value::String(text));
                    }
                    None | Some(Value::Null) => {
                        lib.insert(key.into(), Value::String(String::new()));
                    }
                    // Arrays and objects stay wrong (`wrong_type:context.library`).
                    Some(_) => {}
                }
            }
        }
        _ => {}
    }
}

/// Applies a batch's `context` and `integrations` (objects) to each of its messages: a message
/// without them gets the batch's; a message with its own gets the batch's keys it lacks (its own
/// win). Messages that are not JSON objects are returned unchanged (they are refused later with
/// their reason).
pub fn apply_batch_defaults(
    raws: &[&str],
    context: Option<&Map<String, Value>>,
    integrations: Option<&Map<String, Value>>,
) -> Vec<String> {
    raws.iter()
        .map(|raw| {
            let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(raw) else {
                return (*raw).to_string();
            };
            for (field, defaults) in [("context", context), ("integrations", integrations)] {
                let Some(defaults) = defaults else { continue };
                match m.get_mut(field) {
                    None | Some(Value::Null) => {
                        m.insert(field.into(), Value::Object(defaults.clone()));
                    }
                    Some(Value::Object(own)) => {
                        for (k, v) in defaults {
                            own.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    // A wrong type stays wrong (`wrong_type:<field>`).
                    Some(_) => {}
                }
            }
            Value::Object(m).to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-11-28T12:00:00.000Z";

    fn norm(v: Value) -> (Value, Normalized) {
        let raw = v.to_string();
        let mut v = v;
        let n = normalize(&mut v, &raw, NOW);
        (v, n)
    }

    #[test]
    fn golden_messages_are_left_alone() {
        let m = json!({"type": "track", "messageId": "m", "timestamp": "2026-11-28T10:00:00.000Z",
                       "userId": "u", "event": "e", "context": {"library": {"name": "x", "version": "1"}}});
        assert_eq!(norm(m.clone()).0, m);
    }

    #[test]
    fn dialects() {
        let (v, n) = norm(
            json!({"type": "Track", "userId": 42, "anonymousId": 7.5, "groupId": "g",
                                  "context": {"library": {"name": "curl"}}, "event": "e"}),
        );
        assert_eq!(v["type"], "track");
        assert_eq!(
            (v["userId"].as_str(), v["anonymousId"].as_str()),
            (Some("42"), Some("7.5"))
        );
        assert_eq!(v["context"]["library"], json!({"name": "curl", "version": ""}));
        assert_eq!(v["timestamp"], NOW);
        assert!(n.timestamp_defaulted);
        let id = v["messageId"].as_str().unwrap();
        assert!(id.starts_with("api-") && id.len() == 36, "{id}");
        let (again, _) = norm(json!({"type": "Track", "userId": 42, "event": "e"}));
        assert_ne!(again["messageId"], v["messageId"], "without a timestamp: random");

        let with_ts =
            json!({"type": "track", "userId": "u", "event": "e", "timestamp": "2026-11-28T10:00:00Z"});
        let (a, n) = norm(with_ts.clone());
        let (b, _) = norm(with_ts);
        assert!(!n.timestamp_defaulted);
        assert_eq!(
            a["messageId"], b["messageId"],
            "with a timestamp: derived from the message"
        );

        let (v, n) = norm(
            json!({"type": "track", "messageId": "m", "context": null, "timestamp": null,
                                  "originalTimestamp": "2026-11-28T09:00:00.000Z"}),
        );
        assert_eq!(v.get("context"), None);
        assert_eq!(v["timestamp"], "2026-11-28T09:00:00.000Z");
        assert!(!n.timestamp_defaulted);
        let (v, _) = norm(json!({"type": "track", "messageId": "m", "context": {"library": "my-lib"}}));
        assert_eq!(v["context"]["library"], json!({"name": "my-lib", "version": ""}));
        let (v, _) = norm(json!({"type": "track", "messageId": 5}));
        assert_eq!(v["messageId"], 5, "a messageId of the wrong type stays wrong");
        assert_eq!(norm(json!([1])).0, json!([1]));
    }

    #[test]
    fn batch_defaults() {
        let ctx = json!({"app": {"name": "a"}, "locale": "fr"});
        let int = json!({"All": false});
        let raws = [
            r#"{"type":"track","context":{"locale":"de"}}"#,
            r#"{"type":"page"}"#,
            "5",
        ];
        let out = apply_batch_defaults(&raws, ctx.as_object(), int.as_object());
        let first: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(first["context"], json!({"app": {"name": "a"}, "locale": "de"}));
        assert_eq!(first["integrations"], int);
        let second: Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(second["context"], ctx);
        assert_eq!(out[2], "5");
    }
}
