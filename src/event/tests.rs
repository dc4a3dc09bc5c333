use super::*;
use crate::json::{Value, parse};

#[test]
fn typed_events_have_exact_names_and_properties() {
    let items = parse(r#"[{"sku": "a"}]"#).unwrap();
    let cases = [
        (
            Event::page_view("https://x/", Some("https://r/"), Some("Home")),
            "page_view",
            vec!["url", "referrer", "page_name"],
        ),
        (
            Event::click("buy", "button", Some("Buy")),
            "click",
            vec!["element_id", "element_type", "element_text"],
        ),
        (Event::submit("signup"), "submit", vec!["form_name"]),
        (Event::sign_up(), "sign_up", vec![]),
        (Event::sign_in(), "sign_in", vec![]),
        (Event::sign_out(), "sign_out", vec![]),
        (
            Event::feature_used("export", Some("2")),
            "feature_used",
            vec!["feature_name", "feature_version"],
        ),
        (
            Event::purchase("o1", Value::from(95u32), "EUR", items),
            "purchase",
            vec!["purchase_id", "amount", "currency", "items"],
        ),
        (
            Event::error("TypeError", "x is undefined", Some("at f()")),
            "error",
            vec!["error_type", "error_message", "stack_trace"],
        ),
    ];
    for (event, name, props) in cases {
        assert_eq!(event.kind, MessageType::Track);
        assert_eq!(event.event.as_deref(), Some(name));
        let keys: Vec<&str> = event.properties.keys().map(String::as_str).collect();
        assert_eq!(keys, props, "{name}: in the documented order");
    }
    assert!(
        !Event::page_view("u", None, None)
            .properties
            .contains_key("referrer")
    );
}

#[test]
fn typed_by_name_fills_the_catalogue_from_positional_arguments() {
    let args = vec![Value::from("buy"), Value::from("button"), Value::Null];
    let click = Event::typed("click", args).unwrap();
    assert_eq!(
        click,
        Event::click("buy", "button", None),
        "the same event either way"
    );
    assert!(
        !click.properties.contains_key("element_text"),
        "optional and absent: left out"
    );
    let short = Event::typed("submit", Vec::new()).unwrap();
    assert_eq!(
        short.properties["form_name"],
        Value::Null,
        "required and absent: null"
    );
    let extra = Event::typed("sign_up", vec![Value::from("ignored")]).unwrap();
    assert!(extra.properties.is_empty());
    for (name, _) in TYPED_EVENTS {
        assert_eq!(
            Event::typed(name, Vec::new()).unwrap().event.as_deref(),
            Some(name)
        );
    }
    assert!(Event::typed("clik", Vec::new()).is_none());
}

#[cfg(feature = "serde")]
#[test]
fn the_native_builder_takes_anything_serialize() {
    let e = Event::purchase("o1", 9.5, "EUR", serde_json::json!([{"sku": "a"}]))
        .property("count", 3u8)
        .trait_value("tags", vec!["a", "b"]);
    assert_eq!(e.properties["amount"].as_number().unwrap().as_str(), "9.5");
    assert_eq!(e.properties["items"][0]["sku"], "a");
    assert_eq!(e.properties["count"].as_u64(), Some(3));
    assert_eq!(e.traits["tags"].to_json(), r#"["a","b"]"#);
}

#[test]
fn explicit_identity_rules() {
    assert!(!Event::track("a").is_explicit());
    assert!(Event::track("a").user_id("u").is_explicit());
    assert!(!Event::identify("u").is_explicit());
    assert!(Event::identify("u").anonymous_id("a").is_explicit());
    assert!(!Event::alias("u", None).is_explicit());
}

#[cfg(feature = "serde")]
#[test]
fn unserializable_values_mark_the_event_invalid() {
    let mut map = std::collections::HashMap::new();
    map.insert(vec![1u8], 2);
    let e = Event::track("a").property("bad", map);
    assert!(e.invalid.as_deref().unwrap().contains("bad"));
}
