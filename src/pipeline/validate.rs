//! Step 1: validation. Names and ids must be usable; values must have converted to JSON.

use super::Rejected;
use crate::event::Event;
use crate::message::MessageType;
use crate::stats::DropReason;

/// The longest event (or page/screen) name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

fn invalid(what: &str, problem: &str) -> Rejected {
    Rejected::new(DropReason::Invalid, crate::json::cat(&[what, problem]))
}

fn check_name(what: &str, name: &str) -> Result<(), Rejected> {
    if crate::text::blank(name) {
        return Err(invalid(what, " must not be empty"));
    }
    // Characters: the bytes that do not continue a UTF-8 sequence.
    let mut chars = 0;
    for &b in name.as_bytes() {
        chars += usize::from(b & 0xC0 != 0x80);
    }
    if chars > MAX_NAME_CHARS {
        let mut detail = String::from(" is ");
        crate::json::push_u64(&mut detail, chars as u64);
        detail.push_str(" characters, the limit is 200");
        return Err(invalid(what, &detail));
    }
    Ok(())
}

fn check_id(what: &str, id: Option<&str>, required: bool) -> Result<(), Rejected> {
    match id {
        Some(id) if crate::text::blank(id) => Err(invalid(what, " must not be empty")),
        None if required => Err(invalid(what, " is required")),
        _ => Ok(()),
    }
}

/// Checks the event's shape for its type. Property values are JSON by construction; a value the
/// builder could not convert was recorded and fails here.
pub fn validate(event: &Event) -> Result<(), Rejected> {
    if let Some(problem) = &event.invalid {
        return Err(Rejected::new(DropReason::Invalid, problem.clone()));
    }
    match event.kind {
        MessageType::Track => check_name("event name", event.event.as_deref().unwrap_or(""))?,
        MessageType::Page | MessageType::Screen => {
            if let Some(name) = &event.name {
                check_name("name", name)?;
            }
        }
        MessageType::Group => check_id("groupId", event.group_id.as_deref(), true)?,
        MessageType::Identify | MessageType::Alias => {}
    }
    // (Each id checked once, in the order the checks always had.)
    let alias = event.kind == MessageType::Alias;
    check_id("userId", event.user_id.as_deref(), alias)?;
    if alias {
        check_id("previousId", event.previous_id.as_deref(), false)?;
    }
    check_id("anonymousId", event.anonymous_id.as_deref(), false)?;
    if let Some(category) = &event.category {
        check_name("category", category)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: &Event) -> Option<DropReason> {
        validate(e).err().map(|r| r.reason)
    }

    #[test]
    fn event_names_must_be_non_empty_and_at_most_200_chars() {
        assert_eq!(reason(&Event::track("ok")), None);
        assert_eq!(reason(&Event::track("")), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::track("   ")), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::track("é".repeat(200))), None);
        let err = validate(&Event::track("x".repeat(201))).unwrap_err();
        assert!(err.detail.contains("201"), "{}", err.detail);
        assert_eq!(reason(&Event::new(MessageType::Track)), Some(DropReason::Invalid));
    }

    #[test]
    fn ids_are_required_where_the_type_needs_them() {
        assert_eq!(reason(&Event::group("")), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::new(MessageType::Group)), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::new(MessageType::Alias)), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::alias("u", Some(""))), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::identify("u")), None);
        assert_eq!(reason(&Event::new(MessageType::Identify)), None);
        assert_eq!(reason(&Event::track("a").user_id(" ")), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::track("a").category("")), Some(DropReason::Invalid));
        assert_eq!(reason(&Event::page(None)), None);
    }
}
