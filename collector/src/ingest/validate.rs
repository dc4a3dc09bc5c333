//! Per-message checks, in pipeline order: shape and field values, timestamps (with clock-skew
//! correction), consent. Each is a small pure function of the message and the request.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use footfall::message::{Message, ShapeError};
use serde_json::Value;

use super::reason::Reason;
use footfall::settings::{ConsentMode, PrivacySettings};

/// Longest accepted `messageId`, in bytes.
pub const MAX_MESSAGE_ID: usize = 200;
/// Longest accepted user, anonymous, group, previous or session id, in bytes.
pub const MAX_ID: usize = 512;
/// Longest accepted event name, in characters (the SDKs' limit too).
pub const MAX_EVENT_NAME: usize = 200;

/// Required fields per type and usable ids and names.
pub fn check_fields(m: &Message) -> Result<(), Reason> {
    m.check_shape().map_err(|e| match e {
        ShapeError::MissingField(f) => Reason::MissingField(f.into()),
        ShapeError::MissingIdentity => Reason::MissingIdentity,
        ShapeError::EmptyMessageId => Reason::InvalidField("messageId"),
    })?;
    if m.message_id.len() > MAX_MESSAGE_ID {
        return Err(Reason::InvalidField("messageId"));
    }
    let ids = [
        (&m.user_id, "userId"),
        (&m.anonymous_id, "anonymousId"),
        (&m.group_id, "groupId"),
        (&m.previous_id, "previousId"),
        (&m.context.session_id, "context.sessionId"),
    ];
    for (value, name) in ids {
        if value.as_deref().is_some_and(|v| v.len() > MAX_ID) {
            return Err(Reason::InvalidField(name));
        }
    }
    if m.event
        .as_deref()
        .is_some_and(|e| e.chars().count() > MAX_EVENT_NAME)
    {
        return Err(Reason::InvalidField("event"));
    }
    Ok(())
}

/// Whether any string of the message holds a NUL character, which PostgreSQL text cannot store.
/// `raw` is the message as received: the walk only runs when it contains the `\u0000` escape.
pub fn has_nul(raw: &str, m: &Message) -> bool {
    if !raw.contains("\\u0000") {
        return false;
    }
    let s = |o: &Option<String>| o.as_deref().is_some_and(|v| v.contains('\0'));
    m.message_id.contains('\0')
        || m.timestamp.contains('\0')
        || [
            &m.anonymous_id,
            &m.user_id,
            &m.sent_at,
            &m.event,
            &m.name,
            &m.category,
            &m.group_id,
            &m.previous_id,
        ]
        .into_iter()
        .any(s)
        || serde_json::to_value(&m.context).is_ok_and(|v| value_has_nul(&v))
        || [&m.properties, &m.traits, &m.integrations]
            .into_iter()
            .flatten()
            .any(|map| map.iter().any(|(k, v)| k.contains('\0') || value_has_nul(v)))
}

fn value_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(value_has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || value_has_nul(v)),
        _ => false,
    }
}

/// Event time, send time and the client's original timestamp, in ms since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Times {
    pub ts: i64,
    pub sent_at: Option<i64>,
    pub original_timestamp: Option<String>,
}

/// Parses a timestamp to ms since the epoch: RFC 3339 (what the libraries send, any offset, with
/// or without fractional seconds), else the ISO 8601 forms hand-written HTTP API calls use — an
/// offset without a colon (`+0200`), no offset (read as UTC), a plain date (midnight UTC).
pub fn parse_ms(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let s = s.trim();
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_millis());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Skew correction (as Segment does): `ts = received_at - (sent_at - timestamp)`, so an event keeps
/// its distance from the send time measured on the client's clock. Without `sentAt`, or when
/// `correct_skew` is off (imports of historical data), `ts = timestamp`.
pub fn times(
    m: &Message,
    timestamp_defaulted: bool,
    batch_sent_at: Option<&str>,
    received_at: i64,
    correct_skew: bool,
    max_ahead_ms: i64,
) -> Result<Times, Reason> {
    let client_ts = parse_ms(&m.timestamp).ok_or(Reason::InvalidTimestamp)?;
    let sent_at = match m.sent_at.as_deref().or(batch_sent_at) {
        Some(s) => Some(parse_ms(s).ok_or(Reason::InvalidTimestamp)?),
        None => None,
    };
    let ts = match sent_at {
        Some(sent) if correct_skew => received_at
            .checked_sub(sent.checked_sub(client_ts).ok_or(Reason::InvalidTimestamp)?)
            .ok_or(Reason::InvalidTimestamp)?,
        _ => client_ts,
    };
    if ts < 0 || ts > received_at.saturating_add(max_ahead_ms) {
        return Err(Reason::InvalidTimestamp);
    }
    let original_timestamp = (!timestamp_defaulted).then(|| m.timestamp.clone());
    Ok(Times {
        ts,
        sent_at,
        original_timestamp,
    })
}

/// Privacy signals of the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// `Sec-GPC: 1`
    pub gpc: bool,
    /// `DNT: 1`
    pub dnt: bool,
}

/// Whether the message may be stored under the project's consent rules:
/// * `necessary` messages always may;
/// * with `context.consent`, its category must be granted (unlisted = not granted);
/// * without it, the category's requirement decides (`consent_categories`, else
///   `consent_mode`: `opt_out` yes, `opt_in` no), and a respected GPC or DNT signal makes the
///   request opt-in.
pub fn consent_allows(m: &Message, privacy: &PrivacySettings, signals: Signals) -> bool {
    let category = m.consent_category();
    if category == "necessary" {
        return true;
    }
    match &m.context.consent {
        Some(consent) => consent.grants(category),
        None => {
            let signalled = (signals.gpc && privacy.respect_gpc) || (signals.dnt && privacy.respect_dnt);
            privacy.consent_for(category) == ConsentMode::OptOut && !signalled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall::message::{ConsentContext, MessageType};

    fn msg() -> Message {
        let mut m = Message::new(MessageType::Track, "m1".into(), "2026-11-28T10:00:00.000Z".into());
        m.event = Some("signup".into());
        m.user_id = Some("u".into());
        m
    }

    const T0: i64 = 1_795_860_000_000; // 2026-11-28T10:00:00Z

    #[test]
    fn fields() {
        assert!(check_fields(&msg()).is_ok());
        let mut m = msg();
        m.event = None;
        assert_eq!(check_fields(&m).unwrap_err().code(), "missing_field:event");
        let mut m = msg();
        m.user_id = None;
        assert_eq!(check_fields(&m).unwrap_err().code(), "missing_identity");
        let mut m = msg();
        m.event = Some("e".repeat(201));
        assert_eq!(check_fields(&m).unwrap_err().code(), "invalid_field:event");
        let mut m = msg();
        m.message_id = String::new();
        assert_eq!(check_fields(&m).unwrap_err().code(), "invalid_field:messageId");
        let mut m = msg();
        m.context.session_id = Some("s".repeat(600));
        assert_eq!(
            check_fields(&m).unwrap_err().code(),
            "invalid_field:context.sessionId"
        );
    }

    #[test]
    fn nul_characters() {
        let mut m = msg();
        assert!(!has_nul("{}", &m));
        m.properties = Some(
            [("a".to_string(), Value::from(vec!["x\0y"]))]
                .into_iter()
                .collect(),
        );
        assert!(has_nul(r#"{"a":["x\u0000y"]}"#, &m));
        let mut m = msg();
        m.properties = Some([("a".to_string(), Value::from("\\u0000"))].into_iter().collect());
        assert!(
            !has_nul(r#"{"a":"\\u0000"}"#, &m),
            "an escaped backslash is not a NUL"
        );
    }

    #[test]
    fn skew_correction() {
        let mut m = msg();
        // client clock 1 h behind: sent 2 s after the event on its clock
        m.timestamp = "2026-11-28T09:00:00.000Z".into();
        m.sent_at = Some("2026-11-28T09:00:02.000Z".into());
        let t = times(&m, false, None, T0, true, 86_400_000).unwrap();
        assert_eq!(t.ts, T0 - 2000);
        assert_eq!(t.sent_at, Some(T0 - 3_600_000 + 2000));
        assert_eq!(t.original_timestamp.as_deref(), Some("2026-11-28T09:00:00.000Z"));
        // imports keep the timestamp
        assert_eq!(
            times(&m, false, None, T0, false, 86_400_000).unwrap().ts,
            T0 - 3_600_000
        );
        // the batch's sentAt applies when the message has none
        m.sent_at = None;
        let t = times(&m, false, Some("2026-11-28T09:00:01.000Z"), T0, true, 86_400_000).unwrap();
        assert_eq!(t.ts, T0 - 1000);
        assert_eq!(
            times(&m, true, None, T0, true, 0).unwrap().original_timestamp,
            None
        );
    }

    #[test]
    fn iso_8601_forms() {
        let t = parse_ms("2026-11-28T10:00:00.000Z");
        assert_eq!(t, Some(T0));
        for s in [
            "2026-11-28T10:00:00Z",
            "2026-11-28T12:00:00+02:00",
            "2026-11-28T12:00:00.000+0200",
            "2026-11-28T10:00:00",
            "2026-11-28 10:00:00",
            "2026-11-28T10:00:00.000",
            "2026-11-28T10:00",
            "2026-11-28T10:00:00.000000+00:00",
        ] {
            assert_eq!(parse_ms(s), t, "{s}");
        }
        assert_eq!(parse_ms("2026-11-28"), Some(T0 - 10 * 3_600_000));
        for bad in ["yesterday", "2026-13-01", "28/11/2026", "1764324000000", ""] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_times() {
        let mut m = msg();
        m.timestamp = "yesterday".into();
        assert_eq!(times(&m, false, None, T0, true, 0), Err(Reason::InvalidTimestamp));
        m.timestamp = "9999-12-31T23:59:59.999Z".into();
        assert_eq!(
            times(&m, false, None, T0, true, 86_400_000),
            Err(Reason::InvalidTimestamp)
        );
        m.timestamp = "1969-12-31T00:00:00Z".into();
        assert_eq!(times(&m, false, None, T0, true, 0), Err(Reason::InvalidTimestamp));
        m.timestamp = "2026-11-28T10:00:00.000Z".into();
        m.sent_at = Some("not a time".into());
        assert_eq!(times(&m, false, None, T0, true, 0), Err(Reason::InvalidTimestamp));
    }

    #[test]
    fn consent_rules() {
        let p = PrivacySettings::default();
        let mut m = msg();
        assert!(
            consent_allows(&m, &p, Signals::default()),
            "opt_out: no consent info = allowed"
        );
        assert!(
            !consent_allows(
                &m,
                &p,
                Signals {
                    gpc: true,
                    dnt: false
                }
            ),
            "GPC makes it opt-in"
        );
        assert!(
            consent_allows(
                &m,
                &p,
                Signals {
                    gpc: false,
                    dnt: true
                }
            ),
            "DNT ignored by default"
        );
        let opt_in = PrivacySettings {
            consent_mode: ConsentMode::OptIn,
            ..PrivacySettings::default()
        };
        assert!(!consent_allows(&m, &opt_in, Signals::default()));
        m.context.consent = Some(ConsentContext {
            category_preferences: [("analytics".to_string(), true), ("marketing".to_string(), false)].into(),
        });
        assert!(
            consent_allows(&m, &opt_in, Signals { gpc: true, dnt: true }),
            "explicit grant wins"
        );
        m.context.category = Some("marketing".into());
        assert!(!consent_allows(&m, &p, Signals::default()));
        m.context.category = Some("necessary".into());
        assert!(consent_allows(&m, &opt_in, Signals { gpc: true, dnt: true }));
        // Per-category requirements apply to messages without consent information.
        let mut per_category = PrivacySettings::default();
        per_category
            .consent_categories
            .insert("marketing".into(), ConsentMode::OptIn);
        let mut m = msg();
        assert!(consent_allows(&m, &per_category, Signals::default()));
        m.context.category = Some("marketing".into());
        assert!(!consent_allows(&m, &per_category, Signals::default()));
    }
}
