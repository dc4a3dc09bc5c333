use super::*;

#[test]
fn parses_and_writes_every_kind() {
    let text =
        r#"{"s":"a\"b\\c\n\u00e9\ud83d\ude00","n":[0,-1.5e3,12,1E+2],"t":true,"f":false,"z":null,"o":{}}"#;
    let v = parse(text).unwrap();
    assert_eq!(v["s"], "a\"b\\c\né😀");
    assert_eq!(v["n"][1].as_number().unwrap().as_str(), "-1.5e3");
    assert_eq!(v["t"], true);
    assert!(v["z"].is_null() && v["missing"].is_null());
    let written = v.to_json();
    assert_eq!(
        written,
        r#"{"s":"a\"b\\c\né😀","n":[0,-1.5e3,12,1E+2],"t":true,"f":false,"z":null,"o":{}}"#
    );
    assert_eq!(parse(&written).unwrap(), v);
}

#[test]
fn rejects_what_is_not_json() {
    for bad in [
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "01",
        "1.",
        "-",
        "1e",
        "\"\u{1}\"",
        "\"\\x\"",
        "tru",
        "{} x",
        "\"\\ud800\"",
        "{1:2}",
        "[1 2]",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
    assert_eq!(
        parse("[1,").unwrap_err().message(),
        "unexpected end of input at byte 3"
    );
}

#[test]
fn escapes_control_characters_like_serde_json() {
    let mut out = String::new();
    write_str(&mut out, "a\u{0}\u{1f}\u{8}\u{c}\t\u{7f}/é");
    assert_eq!(out, "\"a\\u0000\\u001f\\b\\f\\t\u{7f}/é\"");
}

#[test]
fn numbers_convert() {
    let n = |t: &str| Number::from_text(t).unwrap();
    assert_eq!(n("0").as_u64(), Some(0));
    assert_eq!(n("18446744073709551615").as_u64(), Some(u64::MAX));
    assert_eq!(n("18446744073709551616").as_u64(), None);
    assert_eq!(n("1.0").as_u64(), None);
    assert_eq!(n("-3").as_u64(), None);
    for (t, f) in [
        ("5", 5.0),
        ("0.05", 0.05),
        ("-1.5e3", -1500.0),
        ("1800", 1800.0),
        ("86400.5", 86400.5),
    ] {
        assert_eq!(n(t).as_f64(), f, "{t}");
    }
    assert!((n("1.2345678901234567890123e-5").as_f64() - 1.2345678901234567e-5).abs() < 1e-18);
    assert!(n("1e400").as_f64().is_infinite());
    assert_eq!(n("1e-400").as_f64(), 0.0);
    assert!(Number::from_text("1.").is_none() && Number::from_text(" 1").is_none());
    assert_eq!(Value::from(-42i64).to_json(), "-42");
}

#[cfg(feature = "serde")]
#[test]
fn agrees_with_serde_json() {
    let text = r#"{"a":[1,2.5,-0.0,1e21,"x\u0001y"],"b":{"c":null,"d":true},"e":"é\"/"}"#;
    let ours = parse(text).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::Value::from(ours.clone()), theirs);
    assert_eq!(
        Value::from(theirs.clone()),
        parse(&serde_json::to_string(&theirs).unwrap()).unwrap()
    );
    let mut s = String::new();
    write_str(&mut s, "x\u{1}\u{1f}\"\\\n\r\t\u{8}\u{c}é");
    assert_eq!(
        s,
        serde_json::to_string("x\u{1}\u{1f}\"\\\n\r\t\u{8}\u{c}é").unwrap()
    );
}
