//! Writing a message's wire JSON, by hand, without copying the shared context into it.
//!
//! Every message carries the same `context.library`, `context.consent`, super properties and
//! (in the browser) default context. [`write_message`] writes a [`Stamped`] message *as if* they
//! had been set, reading them from [`Shared`] (library and consent are kept pre-rendered by the
//! core and copied in as bytes). The output is the JSON object that serializing the decorated
//! [`crate::Message`] with serde gives — same fields, same names, same values, same escaping —
//! laid out like the golden fixtures (`tests/fixtures/`): `type`, `messageId`, `anonymousId`,
//! `userId`, `previousId`, `timestamp`, (`sentAt`), `event`, `name`, `category`, `groupId`,
//! `properties`, `traits`, `context`, `integrations`, with properties in the order they were set
//! (`wire_tests.rs` checks this byte for byte against the fixtures and value for value against
//! serde). `sentAt` is left out: it is spliced in after `timestamp` per send attempt (`queue/entry.rs`).
//!
//! With the `serde` feature, [`to_message`] builds the decorated `Message` itself, for
//! before-send hooks.

use crate::json::{Map, write_members, write_str};
use crate::pipeline::enrich::Stamped;

/// The context every message shares.
pub struct Shared<'a> {
    /// `context.library` as JSON: `{"name":…,"version":…}`; empty: left out.
    pub library: &'a str,
    /// `context.consent` as JSON: `{"categoryPreferences":{…}}`; empty: left out.
    pub consent: &'a str,
    /// Super properties (merged under the message's own).
    pub supers: &'a Map,
}

fn field(out: &mut String, key: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

fn opt_str(out: &mut String, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        field(out, key);
        write_str(out, v);
    }
}

fn object(out: &mut String, key: &str, map: &Map) {
    field(out, key);
    out.push('{');
    write_members(out, map, true);
    out.push('}');
}

/// `library.json` (`{"name":…,"version":…}`) for `name` and `version`.
pub fn library_json(name: &str, version: &str) -> String {
    let mut out = String::from("{\"name\":");
    write_str(&mut out, name);
    out.push_str(",\"version\":");
    write_str(&mut out, version);
    out.push('}');
    out
}

/// `{"categoryPreferences":{…}}` for `preferences`.
pub fn consent_json<'a>(preferences: impl IntoIterator<Item = (&'a String, &'a bool)>) -> String {
    let mut out = String::from("{\"categoryPreferences\":");
    crate::json::write_bool_map(&mut out, preferences);
    out.push('}');
    out
}

/// Appends the members of `own`, then those of `shared` that `own` does not have.
fn merged_members(out: &mut String, own: &Map, shared: &Map, first: bool) {
    let mut first = write_members(out, own, first);
    for (k, v) in shared {
        if !own.contains_key(k) {
            if !first {
                out.push(',');
            }
            first = false;
            write_str(out, k);
            out.push(':');
            crate::json::write(out, v);
        }
    }
}

/// The message's own value, else the default.
fn either<'a>(own: &'a Option<String>, default: &'a Option<String>) -> &'a Option<String> {
    if own.is_some() { own } else { default }
}

/// Appends the message's JSON (without `sentAt`) to `out`; returns where `sentAt` belongs
/// (the offset from the message's start right after `timestamp`).
pub fn write_message(out: &mut String, m: &Stamped, shared: &Shared<'_>) -> usize {
    let start = out.len();
    let e = &m.event;
    out.push_str("{\"type\":\"");
    out.push_str(e.kind.as_str());
    out.push_str("\",\"messageId\":");
    write_str(out, &m.id);
    opt_str(out, "anonymousId", &e.anonymous_id);
    opt_str(out, "userId", &e.user_id);
    opt_str(out, "previousId", &e.previous_id);
    out.push_str(",\"timestamp\":\"");
    crate::time::write_rfc3339_ms(out, m.at());
    out.push('"');
    let sent_at = out.len() - start;
    opt_str(out, "event", &e.event);
    opt_str(out, "name", &e.name);
    opt_str(out, "category", &e.page_category);
    opt_str(out, "groupId", &e.group_id);
    if m.has_properties() {
        field(out, "properties");
        out.push('{');
        merged_members(out, &e.properties, shared.supers, true);
        out.push('}');
    }
    if m.has_traits() {
        object(out, "traits", &e.traits);
    }

    let (own, defaults) = (&e.context, &m.defaults.context);
    // `context` always has a first member: the core always sets `library` (only the fixture
    // tests leave it out, and then `sessionId` comes first).
    out.push_str(",\"context\":{");
    let mark = out.len();
    if !shared.library.is_empty() {
        out.push_str("\"library\":");
        out.push_str(shared.library);
    }
    opt_str(out, "sessionId", &m.session_id);
    if !shared.consent.is_empty() {
        field(out, "consent");
        out.push_str(shared.consent);
    }
    opt_str(out, "category", &e.category);
    if own.page.is_none() && own.user_agent.is_none() && own.locale.is_none() {
        out.push_str(&m.defaults.head_json); // the usual case: the defaults' pre-rendered JSON
    } else {
        if let Some(page) = own.page.as_ref().or(defaults.page.as_ref()) {
            object(out, "page", page);
        }
        opt_str(out, "userAgent", either(&own.user_agent, &defaults.user_agent));
        opt_str(out, "locale", either(&own.locale, &defaults.locale));
    }
    opt_str(out, "ip", &own.ip);
    if m.anonymize_ip {
        out.push_str(",\"anonymizeIp\":true");
    }
    if own.extra.is_empty() {
        out.push_str(&m.defaults.extra_json);
    } else {
        merged_members(out, &own.extra, &defaults.extra, false);
    }
    if out.as_bytes().get(mark) == Some(&b',') {
        out.remove(mark); // no library: the first member written began with a comma
    }
    out.push('}');
    if let Some(integrations) = &e.integrations {
        object(out, "integrations", integrations);
    }
    out.push('}');
    sent_at
}

/// The decorated wire [`crate::Message`] for `m` (library, consent, super properties and default
/// context filled in), for before-send hooks.
#[cfg(feature = "serde")]
pub fn to_message(
    m: Stamped,
    library: (&str, &str),
    preferences: &crate::map::NameMap<bool>,
    supers: &Map,
) -> crate::Message {
    use crate::message::{ConsentContext, Library, Message};
    let Stamped {
        id,
        session_id,
        event: e,
        defaults,
        anonymize_ip,
    } = m;
    let mut msg = Message::new(
        e.kind,
        id,
        crate::time::format_rfc3339_ms(e.timestamp.unwrap_or(0)),
    );
    let has_properties = matches!(
        e.kind,
        crate::MessageType::Track | crate::MessageType::Page | crate::MessageType::Screen
    );
    let has_traits =
        matches!(e.kind, crate::MessageType::Identify | crate::MessageType::Group) && !e.traits.is_empty();
    msg.anonymous_id = e.anonymous_id;
    msg.user_id = e.user_id;
    msg.event = e.event;
    msg.name = e.name;
    msg.category = e.page_category;
    if has_properties {
        let mut props = e.properties;
        for (k, v) in supers {
            if !props.contains_key(k) {
                props.insert(k.clone(), v.clone());
            }
        }
        msg.properties = Some(props.into());
    }
    if has_traits {
        msg.traits = Some(e.traits.into());
    }
    msg.group_id = e.group_id;
    msg.previous_id = e.previous_id;
    msg.integrations = e.integrations.map(Into::into);
    let c = &mut msg.context;
    c.library = Some(Library {
        name: library.0.to_string(),
        version: library.1.to_string(),
    });
    c.session_id = session_id;
    c.consent = Some(ConsentContext {
        category_preferences: preferences.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    });
    c.category = e.category;
    let own = e.context;
    let defaults = &defaults.context;
    c.page = own.page.or_else(|| defaults.page.clone()).map(Into::into);
    c.user_agent = own.user_agent.or_else(|| defaults.user_agent.clone());
    c.locale = own.locale.or_else(|| defaults.locale.clone());
    c.ip = own.ip;
    c.anonymize_ip = anonymize_ip.then_some(true);
    let mut extra = own.extra;
    for (k, v) in &defaults.extra {
        if !extra.contains_key(k) {
            extra.insert(k.clone(), v.clone());
        }
    }
    c.extra = extra.into();
    msg
}

#[cfg(all(test, feature = "serde"))]
#[path = "wire_tests.rs"]
mod tests;
