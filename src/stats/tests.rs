use super::*;

#[cfg(feature = "serde")]
#[test]
fn drop_reasons_serialize_snake_case_and_match_as_str() {
    for reason in DropReason::ALL {
        assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
    }
    let mut stats = Stats::default();
    stats.count_drop(DropReason::QueueFull, 2);
    stats.count_drop(DropReason::Consent, 0);
    assert_eq!(
        serde_json::to_value(&stats).unwrap()["dropped"],
        serde_json::json!({"queue_full": 2})
    );
    assert_eq!(stats.dropped_total(), 2);
    stats.remember_rejection(Rejection {
        message_id: "m\"1".into(),
        reason: "bad".into(),
    });
    stats.warnings.push("w".into());
    let ours: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
    assert_eq!(
        ours,
        serde_json::to_value(&stats).unwrap(),
        "to_json and serde agree"
    );
}

#[test]
fn recent_rejections_keep_the_newest() {
    let mut stats = Stats::default();
    for i in 0..RECENT_REJECTIONS + 3 {
        stats.remember_rejection(Rejection {
            message_id: i.to_string(),
            reason: "bad".into(),
        });
    }
    assert_eq!(stats.recent_rejections.len(), RECENT_REJECTIONS);
    assert_eq!(stats.recent_rejections[0].message_id, "3");
}

#[test]
fn log_events_render_one_line() {
    let e = LogEvent::Dropped {
        message_id: Some("m1"),
        reason: DropReason::TooLarge,
        detail: "40000 bytes",
    };
    assert_eq!(e.to_string(), "dropped m1 (too_large): 40000 bytes");
    assert_eq!(e.level(), LogLevel::Info);
}
