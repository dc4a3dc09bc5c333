//! Parsing: request bodies into envelopes of raw messages, raw messages into
//! [`footfall::message::Message`].
//!
//! The envelope keeps every message as unparsed JSON text ([`RawValue`]), so one bad message never
//! fails its batch: each is parsed on its own, measured against the size limit, and kept verbatim
//! for the dead-letter table when refused. serde_json skips over raw values iteratively and limits
//! the nesting of parsed values to 128 levels, so hostile nesting (10,000 levels) gives a `too_deep`
//! refusal, never a stack overflow.

use std::borrow::Cow;

use footfall::message::{Message, MessageType};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::dialect;
use super::reason::{Reason, wrong_type};
use crate::error::ApiError;

/// `{"batch": [...], "sentAt": ..., "writeKey": ..., "context": ..., "integrations": ...}` with
/// the messages unparsed. A batch-level `context` or `integrations` (Segment's batch form) applies
/// to every message ([`Envelope::messages`]).
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub batch: Vec<&'a RawValue>,
    #[serde(rename = "sentAt", default)]
    pub sent_at: Option<String>,
    #[serde(rename = "writeKey", default)]
    pub write_key: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub integrations: Option<Map<String, Value>>,
}

impl<'a> Envelope<'a> {
    /// The batch's messages as text: verbatim, or with the batch-level `context` and
    /// `integrations` applied ([`dialect::apply_batch_defaults`]).
    pub fn messages(&self) -> Vec<Cow<'a, str>> {
        let raws: Vec<&'a str> = self.batch.iter().map(|r| r.get()).collect();
        if self.context.is_none() && self.integrations.is_none() {
            return raws.into_iter().map(Cow::Borrowed).collect();
        }
        dialect::apply_batch_defaults(&raws, self.context.as_ref(), self.integrations.as_ref())
            .into_iter()
            .map(Cow::Owned)
            .collect()
    }
}

/// Parses a `/v1/batch` body. A field of the wrong type is named in the error (`context`: ...).
pub fn parse_batch(body: &str) -> Result<Envelope<'_>, ApiError> {
    serde_json::from_str::<Envelope>(body).map_err(|e| {
        let error = body_error(&e);
        if !matches!(error, ApiError::InvalidBody(_)) {
            return error;
        }
        let mut de = serde_json::Deserializer::from_str(body);
        match serde_path_to_error::deserialize::<_, Envelope>(&mut de) {
            Err(err) if !err.path().to_string().is_empty() && err.path().to_string() != "." => {
                ApiError::InvalidBody(format!("`{}`: {}", err.path(), err.inner()))
            }
            _ => error,
        }
    })
}

/// A single-message body (`/v1/track`, ...): the message (with `type` set from the endpoint, and
/// `writeKey` removed) re-serialized, plus the write key it carried.
#[derive(Debug)]
pub struct Single {
    pub message: String,
    pub write_key: Option<String>,
}

/// Parses a `/v1/{type}` body; a `type` that contradicts the endpoint (in any case: `"Track"` is
/// `track`) is a 400 `invalid_body`.
pub fn parse_single(body: &str, kind: MessageType) -> Result<Single, ApiError> {
    let mut map: Map<String, Value> = match serde_json::from_str::<Value>(body).map_err(|e| body_error(&e))? {
        Value::Object(map) => map,
        _ => return Err(ApiError::InvalidBody("the body must be a JSON object".into())),
    };
    let write_key = match map.remove("writeKey") {
        Some(Value::String(k)) => Some(k),
        Some(_) => return Err(ApiError::InvalidBody("`writeKey` must be a string".into())),
        None => None,
    };
    match map.get("type") {
        None => {
            map.insert("type".into(), Value::String(kind.as_str().into()));
        }
        Some(Value::String(t)) if t.eq_ignore_ascii_case(kind.as_str()) => {
            map.insert("type".into(), Value::String(kind.as_str().into()));
        }
        Some(other) => {
            let shown: String = other.to_string().chars().take(50).collect();
            return Err(ApiError::InvalidBody(format!(
                "`type` {shown} contradicts the endpoint /v1/{}",
                kind.as_str()
            )));
        }
    }
    let message = serde_json::to_string(&map).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Single { message, write_key })
}

/// The whole-request error for a body serde_json could not read.
fn body_error(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    if text.starts_with("recursion limit exceeded") {
        ApiError::TooDeep
    } else if e.is_data() {
        ApiError::InvalidBody(text)
    } else {
        ApiError::InvalidJson(text)
    }
}

/// A parsed message, and whether `timestamp` was absent (then the server time is used, as
/// Segment's HTTP API does, and `original_timestamp` stays null).
pub struct Parsed {
    pub message: Message,
    pub timestamp_defaulted: bool,
}

/// Parses one raw message. `now_iso` stands in for an absent `timestamp`. A message that is not
/// in the golden format is normalized from its Segment dialect ([`dialect::normalize`]: absent
/// `messageId` or `timestamp`, `type` casing, numeric ids, ...) and parsed again; what is still
/// wrong after that is the refusal reason.
pub fn parse_message(raw: &str, now_iso: &str) -> Result<Parsed, Reason> {
    let e = match serde_json::from_str::<Message>(raw) {
        Ok(message) => {
            return Ok(Parsed {
                message,
                timestamp_defaulted: false,
            });
        }
        Err(e) => e,
    };
    let reason = classify(raw, &e);
    // Duplicate keys stay refused: which of the values counts would be a guess (and parsers
    // guess differently), so the message is not read as a `Value` that keeps the last.
    if matches!(reason, Reason::InvalidJson | Reason::TooDeep) || e.to_string().starts_with("duplicate field")
    {
        return Err(reason);
    }
    let Ok(mut value) = serde_json::from_str::<Value>(raw) else {
        return Err(reason);
    };
    let before = value.clone();
    let normalized = dialect::normalize(&mut value, raw, now_iso);
    if value == before {
        return Err(reason);
    }
    let text = value.to_string();
    match serde_json::from_str::<Message>(&text) {
        Ok(message) => Ok(Parsed {
            message,
            timestamp_defaulted: normalized.timestamp_defaulted,
        }),
        Err(e) => Err(classify(&text, &e)),
    }
}

/// Turns a serde_json error into a refusal reason (only on the error path: it may re-parse to
/// find the field with the wrong type).
fn classify(raw: &str, e: &serde_json::Error) -> Reason {
    let text = e.to_string();
    if text.starts_with("recursion limit exceeded") {
        return Reason::TooDeep;
    }
    // serde_json reports some type errors (an integer where an enum is expected) as syntax
    // errors: only JSON that does not parse at all is `invalid_json`.
    if !e.is_data() && serde_json::from_str::<serde::de::IgnoredAny>(raw).is_err() {
        return Reason::InvalidJson;
    }
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return Reason::MissingField(name.to_string().into());
    }
    if text.starts_with("unknown variant") {
        return Reason::InvalidType;
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, Message>(&mut de) {
        Err(err) => {
            let path = err.path().to_string();
            if path == "type" {
                Reason::InvalidType
            } else {
                wrong_type(&path)
            }
        }
        Ok(_) => Reason::InvalidJson,
    }
}

/// Best-effort `messageId` of a message that could not be parsed (for the rejection entry).
pub fn sniff_message_id(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        #[serde(rename = "messageId")]
        message_id: Option<Value>,
    }
    match serde_json::from_str::<IdOnly>(raw).ok()?.message_id? {
        Value::String(s) if s.len() <= 200 => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-28T12:00:00.000Z";

    fn reason(raw: &str) -> String {
        parse_message(raw, NOW)
            .err()
            .expect("refused")
            .code()
            .into_owned()
    }

    #[test]
    fn golden_fixtures_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
        for name in ["track", "page", "screen", "identify", "group", "alias"] {
            let text = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
            let p = parse_message(&text, NOW).unwrap_or_else(|r| panic!("{name}: {r:?}"));
            assert_eq!(p.message.kind.as_str(), name);
            assert!(!p.timestamp_defaulted);
        }
        let batch = std::fs::read_to_string(format!("{dir}/batch.json")).unwrap();
        let env = parse_batch(&batch).unwrap();
        assert_eq!(env.batch.len(), 6);
        assert!(env.sent_at.is_some());
    }

    #[test]
    fn reasons_for_bad_messages() {
        assert_eq!(reason("{"), "invalid_json");
        assert_eq!(reason("5"), "wrong_type:message");
        let assigned = parse_message(r#"{"type":"track","messageId":null}"#, NOW).unwrap();
        assert!(assigned.message.message_id.starts_with("api-"));
        assert_eq!(reason(r#"{"type":"Bogus","messageId":"m"}"#), "invalid_type");
        assert_eq!(
            reason(r#"{"type":"track","type":"page","userId":"u","event":"e"}"#),
            reason(r#"{"type":"track","type":"page","messageId":"m","userId":"u","event":"e"}"#),
            "duplicate keys are refused, with or without a messageId"
        );
        assert_eq!(
            reason(r#"{"type":"track","messageId":"m","context":{"library":[1]}}"#),
            "wrong_type:context"
        );
        assert_eq!(
            reason(r#"{"messageId":"m","timestamp":"x"}"#),
            "missing_field:type"
        );
        assert_eq!(
            reason(r#"{"type":"bogus","messageId":"m","timestamp":"x"}"#),
            "invalid_type"
        );
        assert_eq!(
            reason(r#"{"type":5,"messageId":"m","timestamp":"x"}"#),
            "invalid_type"
        );
        assert_eq!(
            reason(r#"{"type":"track","messageId":"m","timestamp":"x","properties":[1]}"#),
            "wrong_type:properties"
        );
        assert_eq!(
            reason(
                r#"{"type":"track","messageId":"m","timestamp":"x","context":{"consent":{"categoryPreferences":{"a":"yes"}}}}"#
            ),
            "wrong_type:context.consent.categoryPreferences"
        );
        let deep = format!(
            r#"{{"type":"track","messageId":"m","timestamp":"x","properties":{{"a":{}1{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert_eq!(reason(&deep), "too_deep");
    }

    #[test]
    fn segment_dialects_parse() {
        let p = parse_message(
            r#"{"type":"Identify","userId":42,"context":null,"originalTimestamp":"2026-11-28T09:00:00Z"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(p.message.kind, MessageType::Identify);
        assert_eq!(p.message.user_id.as_deref(), Some("42"));
        assert_eq!(p.message.timestamp, "2026-11-28T09:00:00Z");
        assert!(!p.timestamp_defaulted);
        assert!(p.message.message_id.starts_with("api-"));
        let env = parse_batch(
            r#"{"batch":[{"type":"track","messageId":"m","userId":"u","event":"e"}],"context":{"app":{"name":"a"}}}"#,
        )
        .unwrap();
        let p = parse_message(&env.messages()[0], NOW).unwrap();
        assert_eq!(p.message.context.extra["app"]["name"], "a");
        let e = parse_batch(r#"{"batch":[],"context":"x"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_body");
        assert!(e.to_string().contains("`context`"), "{e}");
        let s = parse_single(r#"{"type":"Track","event":"e"}"#, MessageType::Track).unwrap();
        assert!(s.message.contains(r#""type":"track""#));
    }

    #[test]
    fn missing_timestamp_defaults_to_now() {
        let p = parse_message(
            r#"{"type":"track","messageId":"m","event":"e","userId":"u"}"#,
            NOW,
        )
        .unwrap();
        assert!(p.timestamp_defaulted);
        assert_eq!(p.message.timestamp, NOW);
    }

    #[test]
    fn envelopes() {
        let deep = format!(r#"{{"batch":[{}]}}"#, "[".repeat(10_000) + &"]".repeat(10_000));
        assert_eq!(
            parse_batch(&deep).unwrap().batch.len(),
            1,
            "raw values skip nesting iteratively"
        );
        let deep_top = "[".repeat(10_000) + &"]".repeat(10_000);
        if let Ok(env) = parse_batch(&deep_top) {
            assert!(env.batch.iter().all(|m| parse_message(m.get(), NOW).is_err()));
        }
        assert_eq!(parse_batch("{").unwrap_err().code(), "invalid_json");
        assert_eq!(parse_batch(r#"{"batch":5}"#).unwrap_err().code(), "invalid_body");
        assert_eq!(parse_batch(r#"{"x":1}"#).unwrap_err().code(), "invalid_body");
        let s = parse_single(r#"{"event":"e","writeKey":"k"}"#, MessageType::Track).unwrap();
        assert_eq!(s.write_key.as_deref(), Some("k"));
        assert!(s.message.contains(r#""type":"track""#) && !s.message.contains("writeKey"));
        let deep_single = format!(r#"{{"a":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            parse_single(&deep_single, MessageType::Track).unwrap_err().code(),
            "too_deep"
        );
        assert_eq!(
            sniff_message_id(r#"{"messageId":"abc","type":9}"#).as_deref(),
            Some("abc")
        );
    }
}
