//! The golden fixtures parse into `Message`, pass the shape check, and serialize back to the same
//! JSON (nothing lost, nothing renamed).
use footfall::message::{Batch, Message, MessageType};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_message_type_round_trips() {
    for (name, kind) in [
        ("track", MessageType::Track),
        ("page", MessageType::Page),
        ("screen", MessageType::Screen),
        ("identify", MessageType::Identify),
        ("group", MessageType::Group),
        ("alias", MessageType::Alias),
    ] {
        let json = fixture(name);
        let msg: Message = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(msg.kind, kind, "{name}");
        msg.check_shape().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json,
            "{name} did not round-trip"
        );
    }
}

#[test]
fn batch_round_trips() {
    let json = fixture("batch");
    let batch: Batch = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(batch.batch.len(), 6);
    assert_eq!(serde_json::to_value(&batch).unwrap(), json);
}

#[test]
fn shape_check_names_the_missing_field() {
    let mut msg: Message = serde_json::from_value(fixture("track")).unwrap();
    msg.event = None;
    assert_eq!(
        msg.check_shape().unwrap_err().to_string(),
        "`event` is required for this message type"
    );
    let mut msg: Message = serde_json::from_value(fixture("alias")).unwrap();
    msg.previous_id = Some(String::new());
    assert!(msg.check_shape().unwrap_err().to_string().contains("previousId"));
    let mut msg: Message = serde_json::from_value(fixture("page")).unwrap();
    msg.anonymous_id = None;
    assert!(msg.check_shape().is_err());
}

#[test]
fn consent_category_defaults_to_analytics_and_necessary_is_always_granted() {
    let track: Message = serde_json::from_value(fixture("track")).unwrap();
    assert_eq!(track.consent_category(), "analytics");
    let consent = track.context.consent.unwrap();
    assert!(consent.grants("analytics") && consent.grants("necessary") && !consent.grants("marketing"));
    let alias: Message = serde_json::from_value(fixture("alias")).unwrap();
    assert_eq!(alias.consent_category(), "necessary");
}
