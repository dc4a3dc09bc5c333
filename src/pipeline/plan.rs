//! Step 2: the tracking plan (`analytics.events`), applied to `track` events by name.
//!
//! With no plan (empty `events`) everything passes. Otherwise: an event whose spec says
//! `enabled: false` is dropped (`disabled`); properties the spec does not list are removed, or,
//! with `tracking.strict`, the event is dropped (`not_in_plan`); an event the plan does not list
//! passes unchanged, or is dropped (`not_in_plan`) when strict. A spec's `category` becomes the
//! event's consent category unless the caller set one.

use super::Rejected;
use crate::config::EventSpec;
use crate::event::Event;
use crate::map::NameMap;
use crate::message::MessageType;
use crate::stats::DropReason;

fn detail(parts: &[&str]) -> String {
    crate::json::cat(parts)
}

/// Applies `plan` to `event`.
pub fn apply_plan(event: &mut Event, plan: &NameMap<EventSpec>, strict: bool) -> Result<(), Rejected> {
    if plan.is_empty() || event.kind != MessageType::Track {
        return Ok(());
    }
    let name = event.event.as_deref().unwrap_or("");
    let Some(spec) = plan.get(name) else {
        if strict {
            return Err(Rejected::new(
                DropReason::NotInPlan,
                detail(&["event `", name, "` is not in the tracking plan"]),
            ));
        }
        return Ok(());
    };
    if !spec.enabled {
        return Err(Rejected::new(
            DropReason::Disabled,
            detail(&["event `", name, "` is disabled by the tracking plan"]),
        ));
    }
    if let Some(allowed) = &spec.properties {
        let is_allowed = |k: &str| allowed.iter().any(|a| a == k);
        if strict {
            if let Some(k) = event.properties.keys().find(|k| !is_allowed(k)) {
                return Err(Rejected::new(
                    DropReason::NotInPlan,
                    detail(&["property `", k, "` of `", name, "` is not in the tracking plan"]),
                ));
            }
        } else {
            event.properties.retain(|k, _| is_allowed(k));
        }
    }
    if event.category.is_none() {
        // (A plain clone: `clone_from` is one more function in the browser bundle, and there is
        // no allocation to reuse.)
        event.category = spec.category.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NameMap<EventSpec> {
        let mut p = NameMap::new();
        let props = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
        p.insert(
            "page_view".into(),
            EventSpec {
                properties: props(&["url", "referrer"]),
                ..Default::default()
            },
        );
        p.insert(
            "old".into(),
            EventSpec {
                enabled: false,
                ..Default::default()
            },
        );
        p.insert(
            "ad_click".into(),
            EventSpec {
                category: Some("marketing".into()),
                ..Default::default()
            },
        );
        p
    }

    #[test]
    fn no_plan_passes_everything() {
        let mut e = Event::track("anything").property("x", 1u8);
        apply_plan(&mut e, &NameMap::new(), true).unwrap();
        assert!(e.properties.contains_key("x"));
    }

    #[test]
    fn disabled_events_are_dropped() {
        let err = apply_plan(&mut Event::track("old"), &plan(), false).unwrap_err();
        assert_eq!(err.reason, DropReason::Disabled);
    }

    #[test]
    fn unlisted_properties_are_removed_or_rejected_when_strict() {
        let e = Event::track("page_view")
            .property("url", "u")
            .property("secret", 1u8);
        let mut lax = e.clone();
        apply_plan(&mut lax, &plan(), false).unwrap();
        assert_eq!(lax.properties.keys().collect::<Vec<_>>(), ["url"]);
        let err = apply_plan(&mut e.clone(), &plan(), true).unwrap_err();
        assert_eq!(err.reason, DropReason::NotInPlan);
        assert!(err.detail.contains("secret"));
    }

    #[test]
    fn unplanned_events_pass_unless_strict() {
        apply_plan(&mut Event::track("new_thing"), &plan(), false).unwrap();
        let err = apply_plan(&mut Event::track("new_thing"), &plan(), true).unwrap_err();
        assert_eq!(err.reason, DropReason::NotInPlan);
        // Only track events are subject to the plan.
        apply_plan(&mut Event::identify("u"), &plan(), true).unwrap();
    }

    #[test]
    fn plan_category_is_the_default_category() {
        let mut e = Event::track("ad_click");
        apply_plan(&mut e, &plan(), false).unwrap();
        assert_eq!(e.category.as_deref(), Some("marketing"));
        let mut e = Event::track("ad_click").category("necessary");
        apply_plan(&mut e, &plan(), false).unwrap();
        assert_eq!(e.category.as_deref(), Some("necessary"));
    }
}
