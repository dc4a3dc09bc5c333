//! Why a message was refused: the machine-readable reasons of the per-message response, the
//! dead-letter table and the `footfall_messages_rejected_total{reason}` metric.
//!
//! | reason | meaning |
//! |---|---|
//! | `invalid_json` | the message is not valid JSON (import: the line) |
//! | `too_deep` | JSON nested deeper than 128 levels |
//! | `too_large` | the message exceeds `limits.max_message_bytes` |
//! | `missing_field:<name>` | a field the Segment Spec requires is absent (`messageId`, `type`, `event`, `groupId`, `previousId`, `userId`) |
//! | `missing_identity` | neither `userId` nor `anonymousId` |
//! | `invalid_type` | `type` is not one of track, page, screen, identify, group, alias |
//! | `wrong_type:<field>` | a field has the wrong JSON type (e.g. `properties` is not an object) |
//! | `invalid_field:<field>` | a field's value is unusable: empty or too long id, event name over 200 characters, NUL character, unparseable `context.ip` |
//! | `invalid_timestamp` | `timestamp`/`sentAt` not an ISO 8601 date-time (RFC 3339; without offset = UTC; a plain date = midnight UTC), before 1970, or more than `limits.max_clock_ahead_secs` in the future after skew correction |
//! | `no_consent` | `context.consent` (or the project's consent mode for the message's category, GPC/DNT) does not grant the message's category |
//! | `suppressed` | the person was erased; their events are refused |
//! | `not_in_plan` | the tracking plan disables the event, or (strict plan) does not list it or one of its properties |
//! | `denied_property` | the message carries a property or trait on the project's `property_deny_list` |
//! | `bot` | a bot user agent, when the project's `privacy.bots` is `reject` |
//!
//! The dead letters of `no_consent`, `suppressed`, `not_in_plan` and `denied_property` keep only
//! what identifies the message (type, event, messageId, category, the reason's detail: the plan's
//! verdict, the denied names), never the person's ids or values.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    InvalidJson,
    TooDeep,
    TooLarge,
    MissingField(Cow<'static, str>),
    MissingIdentity,
    InvalidType,
    WrongType(String),
    InvalidField(&'static str),
    InvalidTimestamp,
    NoConsent,
    Suppressed,
    /// The tracking plan's verdict (which event or property).
    NotInPlan(String),
    /// The denied names the message carries.
    DeniedProperty(Vec<String>),
    Bot,
}

impl Reason {
    /// The stable code (see the table in the module docs).
    pub fn code(&self) -> Cow<'static, str> {
        match self {
            Reason::InvalidJson => "invalid_json".into(),
            Reason::TooDeep => "too_deep".into(),
            Reason::TooLarge => "too_large".into(),
            Reason::MissingField(f) => format!("missing_field:{f}").into(),
            Reason::MissingIdentity => "missing_identity".into(),
            Reason::InvalidType => "invalid_type".into(),
            Reason::WrongType(f) => format!("wrong_type:{f}").into(),
            Reason::InvalidField(f) => format!("invalid_field:{f}").into(),
            Reason::InvalidTimestamp => "invalid_timestamp".into(),
            Reason::NoConsent => "no_consent".into(),
            Reason::Suppressed => "suppressed".into(),
            Reason::NotInPlan(_) => "not_in_plan".into(),
            Reason::DeniedProperty(_) => "denied_property".into(),
            Reason::Bot => "bot".into(),
        }
    }

    /// Refusals for privacy reasons: the dead letter keeps only what identifies the message
    /// (type, event, messageId, category), never the person's ids, properties or context.
    pub fn redacts_payload(&self) -> bool {
        matches!(
            self,
            Reason::NoConsent | Reason::Suppressed | Reason::NotInPlan(_) | Reason::DeniedProperty(_)
        )
    }

    /// What a redacted dead letter says about the refusal beyond its code.
    pub fn detail(&self) -> Option<serde_json::Value> {
        match self {
            Reason::NotInPlan(d) => Some(d.clone().into()),
            Reason::DeniedProperty(names) => Some(names.clone().into()),
            _ => None,
        }
    }
}

/// Field names of the wire format's structs; a `wrong_type` path is cut at the first segment
/// that is not one of them (map keys are user data and would explode metric label values).
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "messageId",
    "anonymousId",
    "userId",
    "timestamp",
    "sentAt",
    "event",
    "name",
    "category",
    "properties",
    "traits",
    "groupId",
    "previousId",
    "context",
    "integrations",
    "library",
    "version",
    "sessionId",
    "consent",
    "categoryPreferences",
    "page",
    "userAgent",
    "locale",
    "ip",
    "anonymizeIp",
];

/// `wrong_type:<path>` for a serde path such as `context.consent.categoryPreferences.x`.
pub fn wrong_type(path: &str) -> Reason {
    let known: Vec<&str> = path
        .split('.')
        .take_while(|seg| KNOWN_FIELDS.contains(seg))
        .collect();
    if known.is_empty() {
        Reason::WrongType("message".into())
    } else {
        Reason::WrongType(known.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Reason::MissingField("event".into()).code(), "missing_field:event");
        assert_eq!(
            Reason::InvalidField("context.ip").code(),
            "invalid_field:context.ip"
        );
        assert_eq!(
            wrong_type("context.consent.categoryPreferences.anything").code(),
            "wrong_type:context.consent.categoryPreferences"
        );
        assert_eq!(wrong_type("").code(), "wrong_type:message");
        assert_eq!(wrong_type("?").code(), "wrong_type:message");
        assert!(Reason::NoConsent.redacts_payload());
        assert!(!Reason::TooLarge.redacts_payload());
    }
}
