//! The wire format: Segment Spec messages and the batch envelope.
//!
//! One flat [`Message`] struct serves every message type (`track`, `page`, `screen`, `identify`,
//! `group`, `alias`). A flat struct (rather than an internally tagged enum with `#[serde(flatten)]`)
//! keeps (de)serialization fast and the wasm build small, and lets the collector accept any
//! Segment-format client leniently and then check the per-type required fields with
//! [`Message::check_shape`].
//!
//! Field names follow the Segment Spec exactly (camelCase on the wire). Timestamps travel as
//! RFC 3339 strings with millisecond precision in UTC (`2026-11-28T20:49:12.345Z`); see
//! [`crate::time`]. Unknown `context` keys (Segment's `app`, `device`, `campaign`, ...) are kept
//! verbatim in [`Context::extra`].
//!
//! Consent on the wire: `context.consent.categoryPreferences` maps each consent category to
//! granted/denied (Segment's Consent Management shape), and `context.category` names the consent
//! category the message itself belongs to (absent means `analytics`).
//!
//! The golden fixtures in `tests/fixtures/` show one message of every type; the collector's tests
//! load the same files.
//!
//! The serde types ([`Message`], [`Batch`], ...) need the `serde` feature (on with `native`; the
//! collector enables it). The core itself never builds a `Message`: it writes each message's JSON
//! directly (`wire.rs`), byte-compatible with serializing the `Message` (tested), so the browser
//! bundle carries no serde. Only before-send hooks, which receive a `Message`, use these types.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};
#[cfg(feature = "serde")]
use serde_json::{Map, Value};

/// JSON object used for `properties`, `traits`, `integrations` and free-form context.
#[cfg(feature = "serde")]
pub type Properties = Map<String, Value>;

/// The consent category a message belongs to when it does not say.
pub const DEFAULT_CATEGORY: &str = "analytics";

/// The six Segment message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum MessageType {
    Track,
    Page,
    Screen,
    Identify,
    Group,
    Alias,
}

impl MessageType {
    /// The lowercase wire name (`"track"`, `"page"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Track => "track",
            MessageType::Page => "page",
            MessageType::Screen => "screen",
            MessageType::Identify => "identify",
            MessageType::Group => "group",
            MessageType::Alias => "alias",
        }
    }

    /// The type named `name` (the lowercase wire name).
    pub fn from_name(name: &str) -> Option<MessageType> {
        Some(match name {
            "track" => MessageType::Track,
            "page" => MessageType::Page,
            "screen" => MessageType::Screen,
            "identify" => MessageType::Identify,
            "group" => MessageType::Group,
            "alias" => MessageType::Alias,
            _ => return None,
        })
    }
}

/// One Segment Spec message.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// UUID v4, generated once when the event is enqueued and kept across every retry.
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When the event happened (client clock), RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Set on every send attempt (client clock), so the collector can correct clock skew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// `track`: the event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `page` / `screen`: the page or screen name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `page`: the page category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `track` / `page` / `screen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
    /// `identify` / `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits: Option<Properties>,
    /// `group`: the group (account, company) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `alias`: the previous id being merged into `userId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<String>,
    #[serde(default)]
    pub context: Context,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Properties>,
}

/// `context`: what the SDK knows about where the message comes from.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<Library>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentContext>,
    /// The consent category this message belongs to; absent means [`DEFAULT_CATEGORY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `{url, path, referrer, title, search}` for browser messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Properties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Only present when the caller supplies one (truncated when `anonymize_ip` is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Set by an SDK with `anonymize_ip` on: the collector must truncate the request address too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymize_ip: Option<bool>,
    /// Any other context keys, kept verbatim.
    #[serde(flatten)]
    pub extra: Properties,
}

/// `context.library`.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    pub name: String,
    pub version: String,
}

/// `context.consent`: the consent state when the message was created.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentContext {
    /// Category name → granted. Categories not listed count as not granted.
    #[serde(default)]
    pub category_preferences: std::collections::BTreeMap<String, bool>,
}

#[cfg(feature = "serde")]
impl ConsentContext {
    /// Whether `category` is granted. `necessary` is always granted.
    pub fn grants(&self, category: &str) -> bool {
        category == "necessary" || self.category_preferences.get(category).copied().unwrap_or(false)
    }
}

/// What is wrong with a message's shape (missing a field its type requires).
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("`{0}` is required for this message type")]
    MissingField(&'static str),
    #[error("one of `userId` or `anonymousId` is required")]
    MissingIdentity,
    #[error("`messageId` must not be empty")]
    EmptyMessageId,
}

#[cfg(feature = "serde")]
impl Message {
    /// A message of `kind` with only the common fields set.
    pub fn new(kind: MessageType, message_id: String, timestamp: String) -> Self {
        Message {
            kind,
            message_id,
            anonymous_id: None,
            user_id: None,
            timestamp,
            sent_at: None,
            event: None,
            name: None,
            category: None,
            properties: None,
            traits: None,
            group_id: None,
            previous_id: None,
            context: Context::default(),
            integrations: None,
        }
    }

    /// The consent category of this message (`context.category`, default `analytics`).
    pub fn consent_category(&self) -> &str {
        self.context.category.as_deref().unwrap_or(DEFAULT_CATEGORY)
    }

    /// Checks the fields the Segment Spec requires for this message's type.
    pub fn check_shape(&self) -> Result<(), ShapeError> {
        if self.message_id.is_empty() {
            return Err(ShapeError::EmptyMessageId);
        }
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        match self.kind {
            MessageType::Track if !has(&self.event) => return Err(ShapeError::MissingField("event")),
            MessageType::Group if !has(&self.group_id) => return Err(ShapeError::MissingField("groupId")),
            MessageType::Alias if !has(&self.previous_id) => {
                return Err(ShapeError::MissingField("previousId"));
            }
            MessageType::Alias if !has(&self.user_id) => return Err(ShapeError::MissingField("userId")),
            _ => {}
        }
        if !has(&self.user_id) && !has(&self.anonymous_id) {
            return Err(ShapeError::MissingIdentity);
        }
        Ok(())
    }
}

/// The body POSTed to `{endpoint}/v1/batch`: `{"batch": [...], "sentAt": ...}`.
#[cfg(feature = "serde")]
///
/// `writeKey` is accepted in the body for clients that cannot set headers (`sendBeacon`);
/// SDKs that can set headers send it as the HTTP Basic username instead and leave it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    pub batch: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_key: Option<String>,
}

/// The collector's answer to a batch: how many were accepted and why the others were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct BatchResponse {
    pub accepted: usize,
    #[cfg_attr(feature = "serde", serde(default))]
    pub rejected: Vec<RejectedMessage>,
}

/// One message the collector refused, with the machine-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct RejectedMessage {
    pub index: usize,
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub message_id: Option<String>,
    pub reason: String,
}
