//! Turning a checked message into what is stored: its [`EventRow`] (normalized event name,
//! enrichment, privacy-enforced IP) and, for `identify` and `alias`, its [`IdentityLink`].
//!
//! Message fields without a column of their own are kept in `properties`, where Segment reserves
//! them: a page's or screen's `name` and `category` (`properties.name`, `properties.category`,
//! unless the properties already hold those keys) and an alias's `previousId`
//! (`properties.previousId`). `integrations` (routing instructions for Segment destinations) are
//! not stored, and `context.sessionId` is stored in the `session_id` column only.

use std::net::IpAddr;

use footfall::message::{Message, MessageType, Properties};
use footfall_engine::store::{EventRow, IdentityLink};
use serde_json::Value;

use super::enrich::{UaInfo, truncate_ip};
use super::reason::Reason;
use super::validate::Times;

/// The normalized event name (see `engine/src/store/mod.rs`).
pub fn event_name(m: &Message) -> String {
    match m.kind {
        MessageType::Track => m.event.clone().unwrap_or_default(),
        MessageType::Page => "page_view".into(),
        MessageType::Screen => "screen_view".into(),
        MessageType::Identify => "$identify".into(),
        MessageType::Group => "$group".into(),
        MessageType::Alias => "$alias".into(),
    }
}

/// The IP to store: `context.ip` when the caller supplied one, else the request's client address;
/// truncated unless the project stores raw IPs and the message does not ask for anonymization.
/// Also rewrites `context.ip` so the stored context never holds more than the `ip` column.
pub fn enforce_ip(
    m: &mut Message,
    client_ip: Option<IpAddr>,
    store_raw_ip: bool,
) -> Result<Option<String>, Reason> {
    let source = match m.context.ip.as_deref() {
        Some(text) => Some(
            text.trim()
                .parse::<IpAddr>()
                .map_err(|_| Reason::InvalidField("context.ip"))?,
        ),
        None => client_ip,
    };
    let keep_raw = store_raw_ip && m.context.anonymize_ip != Some(true);
    let stored = source
        .map(|ip| if keep_raw { ip } else { truncate_ip(ip) })
        .map(|ip| ip.to_string());
    if m.context.ip.is_some() {
        m.context.ip = stored.clone();
    }
    Ok(stored)
}

fn json_text(map: Option<&Properties>) -> String {
    match map {
        Some(map) => serde_json::to_string(map).unwrap_or_else(|_| "{}".into()),
        None => "{}".into(),
    }
}

/// Builds the stored row. `m` has passed every check; `ip` is already privacy-enforced.
pub fn build_row(
    project_id: &str,
    mut m: Message,
    times: Times,
    received_at: i64,
    ua: &UaInfo,
    ip: Option<String>,
) -> EventRow {
    let event = event_name(&m);
    let mut properties = m.properties.take();
    let mut reserve = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            properties
                .get_or_insert_with(Properties::new)
                .entry(key)
                .or_insert(Value::String(v));
        }
    };
    match m.kind {
        MessageType::Page | MessageType::Screen => {
            reserve("name", m.name.take());
            reserve("category", m.category.take());
        }
        MessageType::Alias => reserve("previousId", m.previous_id.clone()),
        _ => {}
    }
    // The session id lives in its column only (sessions retention clears that column).
    let session_id = m.context.session_id.take();
    let context = serde_json::to_string(&m.context).unwrap_or_else(|_| "{}".into());
    EventRow {
        project_id: project_id.to_string(),
        message_id: m.message_id,
        kind: m.kind.as_str().to_string(),
        event,
        ts: times.ts,
        received_at,
        sent_at: times.sent_at,
        original_timestamp: times.original_timestamp,
        anonymous_id: m.anonymous_id,
        user_id: m.user_id,
        session_id,
        group_id: m.group_id,
        browser: ua.browser.clone(),
        os: ua.os.clone(),
        device_type: ua.device_type.clone(),
        is_bot: ua.is_bot,
        ip,
        properties: json_text(properties.as_ref()),
        traits: json_text(m.traits.as_ref()),
        context,
    }
}

/// `identify` links its anonymousId to its userId; `alias` links previousId to userId.
pub fn identity_link(project_id: &str, m: &Message, ts: i64) -> Option<IdentityLink> {
    let (anonymous, user) = match m.kind {
        MessageType::Identify => (m.anonymous_id.as_deref()?, m.user_id.as_deref()?),
        MessageType::Alias => (m.previous_id.as_deref()?, m.user_id.as_deref()?),
        _ => return None,
    };
    (!anonymous.is_empty() && !user.is_empty() && anonymous != user).then(|| IdentityLink {
        project_id: project_id.to_string(),
        anonymous_id: anonymous.to_string(),
        user_id: user.to_string(),
        linked_at: ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Message {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap()).unwrap()
    }

    fn times() -> Times {
        Times {
            ts: 5,
            sent_at: Some(6),
            original_timestamp: Some("t".into()),
        }
    }

    #[test]
    fn rows_keep_what_has_no_column_in_properties() {
        let page = fixture("page");
        let row = build_row("p", page.clone(), times(), 7, &UaInfo::default(), None);
        assert_eq!(row.event, "page_view");
        assert_eq!(row.kind, "page");
        let props: Value = serde_json::from_str(&row.properties).unwrap();
        assert_eq!(props["name"], page.name.clone().unwrap().as_str());
        assert_eq!(row.session_id, page.context.session_id);
        let alias = fixture("alias");
        let row = build_row("p", alias.clone(), times(), 7, &UaInfo::default(), None);
        assert_eq!(row.event, "$alias");
        assert!(row.properties.contains("previousId"));
        let identify = fixture("identify");
        let row = build_row("p", identify, times(), 7, &UaInfo::default(), None);
        assert_eq!(row.event, "$identify");
        assert!(row.traits.contains("plan"));
        assert_eq!(row.ts, 5);
        assert_eq!(row.received_at, 7);
    }

    #[test]
    fn links() {
        let l = identity_link("p", &fixture("identify"), 9).unwrap();
        assert_eq!(
            (l.anonymous_id.as_str(), l.user_id.as_str(), l.linked_at),
            ("8d3e9f0a-1b2c-4d3e-9f4a-5b6c7d8e9f01", "user_42", 9)
        );
        let a = identity_link("p", &fixture("alias"), 9).unwrap();
        assert_eq!(a.user_id, "user_42");
        assert!(identity_link("p", &fixture("track"), 9).is_none());
    }

    #[test]
    fn ip_enforcement() {
        let mut m = fixture("track"); // context.ip 203.0.113.0, anonymizeIp: true
        m.context.ip = Some("203.0.113.77".into());
        assert_eq!(
            enforce_ip(&mut m, None, true).unwrap().as_deref(),
            Some("203.0.113.0")
        );
        assert_eq!(m.context.ip.as_deref(), Some("203.0.113.0"));
        let mut m = fixture("track");
        m.context.ip = None;
        m.context.anonymize_ip = None;
        let peer = Some("198.51.100.23".parse().unwrap());
        assert_eq!(
            enforce_ip(&mut m, peer, false).unwrap().as_deref(),
            Some("198.51.100.0")
        );
        assert_eq!(
            enforce_ip(&mut m, peer, true).unwrap().as_deref(),
            Some("198.51.100.23")
        );
        assert_eq!(
            m.context.ip, None,
            "the request address is not copied into the context"
        );
        m.context.ip = Some("not-an-ip".into());
        assert_eq!(
            enforce_ip(&mut m, peer, true).unwrap_err().code(),
            "invalid_field:context.ip"
        );
    }
}
