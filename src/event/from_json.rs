//! [`Event::from_json`]: an event from a JS-shaped object, as the browser host receives it
//! (`{"type":"track","event":"x","properties":{...},"context":{...}}`, camelCase). Unknown keys
//! are errors naming the key, so a typo in a caller's object is reported, not ignored.

use super::Event;
use crate::json::read::{Read, Slot, fields, problem};
use crate::json::{Value, parse};
use crate::message::MessageType;

impl Event {
    /// Parses an event object from JSON text (see [`Event::from_json`]).
    pub fn from_json_text(text: &str) -> Result<Event, String> {
        let value = parse(text).map_err(|e| problem("event", &e.message()).message())?;
        Event::from_json(value)
    }

    /// An event from a JS-shaped object: `type` (required), `event`, `name`, `pageCategory`,
    /// `properties`, `traits`, `userId`, `anonymousId`, `groupId`, `previousId`, `category`,
    /// `context` (`ip`, `userAgent`, `locale`, `page`, any other key kept verbatim), `timestamp`
    /// (ms since the epoch) and `integrations`; `null` means absent. The error names the field.
    pub fn from_json(value: Value) -> Result<Event, String> {
        read_event(value).map_err(|e| e.message())
    }
}

fn read_event(value: Value) -> Read<Event> {
    let mut e = Event::new(MessageType::Track);
    let (mut kind, mut context, mut timestamp) = (None, Value::Null, Value::Null);
    fields(
        value,
        "event",
        &[
            "type",
            "event",
            "name",
            "pageCategory",
            "properties",
            "traits",
            "userId",
            "anonymousId",
            "groupId",
            "previousId",
            "category",
            "context",
            "timestamp",
            "integrations",
        ],
        &mut [
            Slot::OptStr(&mut kind),
            Slot::OptStr(&mut e.event),
            Slot::OptStr(&mut e.name),
            Slot::OptStr(&mut e.page_category),
            Slot::Object(&mut e.properties),
            Slot::Object(&mut e.traits),
            Slot::OptStr(&mut e.user_id),
            Slot::OptStr(&mut e.anonymous_id),
            Slot::OptStr(&mut e.group_id),
            Slot::OptStr(&mut e.previous_id),
            Slot::OptStr(&mut e.category),
            Slot::Any(&mut context),
            Slot::Any(&mut timestamp),
            Slot::OptObject(&mut e.integrations),
        ],
        None,
    )?;
    e.kind = match kind {
        None => return Err(problem("event.type", "is required")),
        Some(k) => MessageType::from_name(&k).ok_or_else(|| {
            problem(
                "event.type",
                "must be one of track, page, screen, identify, group, alias",
            )
        })?,
    };
    e.timestamp = match timestamp {
        Value::Null => None,
        Value::Number(n) => {
            let ms = n.as_f64();
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(problem("event.timestamp", "must be milliseconds since the epoch"));
            }
            Some(n.as_u64().unwrap_or(ms as u64))
        }
        other => {
            return Err(problem(
                "event.timestamp",
                crate::json::cat(&["expected a number, got ", other.kind()]).as_str(),
            ));
        }
    };
    let c = &mut e.context;
    fields(
        context,
        "event.context",
        &["ip", "userAgent", "locale", "page"],
        &mut [
            Slot::OptStr(&mut c.ip),
            Slot::OptStr(&mut c.user_agent),
            Slot::OptStr(&mut c.locale),
            Slot::OptObject(&mut c.page),
        ],
        Some(&mut c.extra),
    )?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_js_shaped_object() {
        let e = Event::from_json_text(
            r#"{"type": "track", "event": "clicked", "properties": {"a": 1}, "category": "marketing",
                "context": {"userAgent": "UA", "campaign": {"source": "x"}}, "timestamp": 5,
                "userId": null, "integrations": {"All": false}}"#,
        )
        .unwrap();
        assert_eq!(e.event.as_deref(), Some("clicked"));
        assert_eq!(e.properties["a"].as_u64(), Some(1));
        assert_eq!(e.context.user_agent.as_deref(), Some("UA"));
        assert_eq!(e.context.extra["campaign"]["source"], "x");
        assert_eq!((e.timestamp, e.user_id), (Some(5), None));
        assert_eq!(e.integrations.unwrap()["All"], false);
        let page = Event::from_json_text(r#"{"type":"page","name":"Home","timestamp":1.5e3}"#).unwrap();
        assert_eq!((page.kind, page.timestamp), (MessageType::Page, Some(1500)));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| Event::from_json_text(t).unwrap_err();
        assert!(err(r#"{"type":"track","evnt":"x"}"#).contains("unknown field `evnt`"));
        assert!(err(r#"{"event":"x"}"#).contains("event.type"));
        assert!(err(r#"{"type":"tack"}"#).starts_with("event.type: must be one of"));
        assert_eq!(
            err(r#"{"type":"track","properties":[1]}"#),
            "event.properties: expected an object, got an array"
        );
        assert!(err(r#"{"type":"track","timestamp":-1}"#).contains("event.timestamp"));
        assert!(err(r#"{"type":"track","context":{"ip":4}}"#).starts_with("event.context.ip:"));
        assert!(err("{").starts_with("event: unexpected end of input"));
    }
}
