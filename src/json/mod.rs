//! JSON for the core, by hand: a [`Value`] tree, a parser and a writer.
//!
//! The core parses configuration, events from JavaScript, persisted state and collector answers,
//! and writes every message it sends. It does this with this module rather than `serde_json`
//! because the browser bundle must stay small (a serde deserializer is instantiated per type,
//! float parsing and formatting bring large tables), and because the two things the core does
//! most — copying a caller's values onto the wire and escaping strings — are simple:
//!
//! - numbers are kept as their JSON text ([`Number`]): a number goes from `JSON.stringify` (or
//!   the native builder) to the wire byte for byte, and never through a float conversion;
//! - objects are [`NameMap`]s (insertion order, so properties travel in the order they were set);
//! - strings are escaped exactly as `serde_json` escapes them (`"`, `\`, control characters), so
//!   the core's output matches what `serde_json` writes for the same value.
//!
//! With the `serde` feature, [`Value`] converts to and from `serde_json::Value` and implements
//! `Serialize`/`Deserialize`, and [`IntoJson`] accepts anything `Serialize` (the native builder API:
//! `Event::track("x").property("total", 49.9)`).

use std::fmt;

mod parse;
pub mod read;

pub use crate::map::NameMap;
pub use parse::{ParseError, parse};

/// A JSON object: names to values, in insertion order.
pub type Map = NameMap<Value>;

/// How deeply arrays and objects may nest in parsed text.
pub const MAX_DEPTH: usize = 128;

/// A JSON number, kept as its (validated) text.
#[derive(Clone, PartialEq, Eq)]
pub struct Number(Box<str>);

impl Number {
    /// `text` as a number, if it is one in JSON's grammar (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`).
    pub fn from_text(text: &str) -> Option<Number> {
        (parse::number_len(text.as_bytes()) == Some(text.len())).then(|| Number(text.into()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a `u64`, when it is a non-negative integer written without fraction or
    /// exponent that fits.
    pub fn as_u64(&self) -> Option<u64> {
        crate::text::decimal(&self.0)
    }

    /// The value as an `f64`: exact for up to 15 significant digits and exponents within ±22
    /// (every duration or amount a configuration holds), within a few ulps otherwise. The core
    /// only needs floats for configuration; what travels on the wire stays text.
    pub fn as_f64(&self) -> f64 {
        let text = self.as_str();
        let (mantissa, exponent) = match text.as_bytes().iter().position(|&b| b | 0x20 == b'e') {
            Some(i) => {
                let e = &text[i + 1..];
                let (negative, digits) = match e.as_bytes().first() {
                    Some(b'-') => (true, &e[1..]),
                    Some(b'+') => (false, &e[1..]),
                    _ => (false, e),
                };
                // Beyond ±400 every f64 is 0 or infinite.
                let size = crate::text::decimal(digits).map_or(400, |n| n.min(400)) as i32;
                (&text[..i], if negative { -size } else { size })
            }
            None => (text, 0),
        };
        let mut digits = 0u64;
        let mut scale = exponent;
        let mut after_point = false;
        for &b in mantissa.as_bytes() {
            match b {
                b'.' => after_point = true,
                b'0'..=b'9' if digits < (1 << 60) / 10 => {
                    digits = digits * 10 + u64::from(b - b'0');
                    scale -= i32::from(after_point);
                }
                b'0'..=b'9' => scale += i32::from(!after_point),
                _ => {}
            }
        }
        let m = digits as f64;
        let v = if scale >= 0 {
            m * pow10(scale.unsigned_abs())
        } else {
            m / pow10(scale.unsigned_abs())
        };
        if text.starts_with('-') { -v } else { v }
    }
}

fn pow10(mut e: u32) -> f64 {
    let (mut result, mut base) = (1.0f64, 10.0f64);
    while e > 0 {
        if e & 1 == 1 {
            result *= base;
        }
        base *= base;
        e >>= 1;
    }
    result
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! number_from {
    ($($t:ty => $push:ident),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number {
                let mut s = String::new();
                $push(&mut s, n as _);
                Number(s.into())
            }
        }
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(n.into())
            }
        }
    )*};
}
number_from!(u8 => push_u64, u16 => push_u64, u32 => push_u64, u64 => push_u64, usize => push_u64,
    i8 => push_i64, i16 => push_i64, i32 => push_i64, i64 => push_i64, isize => push_i64);

/// A JSON value (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

static NULL: Value = Value::Null;

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// The member `key` of an object (`None` for other values).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// The JSON text of this value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write(&mut out, self);
        out
    }

    /// A name for the kind of value, for error messages (`"a string"`, `"an object"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The member `key`, or `null` (like `serde_json`).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}
impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// The concatenation of `parts` (one small function for every message the core builds,
/// instead of a `format!` or a `concat` instantiated per call site).
pub fn cat(parts: &[&str]) -> String {
    let mut len = 0;
    for p in parts {
        len += p.len();
    }
    let mut out = String::with_capacity(len);
    push_all(&mut out, parts);
    out
}

/// Appends every part of `parts` to `out`.
pub fn push_all(out: &mut String, parts: &[&str]) {
    for p in parts {
        out.push_str(p);
    }
}

/// Appends `n` in decimal.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// `n` in decimal.
pub fn u64_text(n: u64) -> String {
    let mut s = String::new();
    push_u64(&mut s, n);
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal, escaped exactly like `serde_json` does.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.push_str(&s[start..i]);
        start = i + 1;
        // The short escape's letter (one code path for all of them), else `\u00XX`.
        let letter = match b {
            b'"' | b'\\' => b,
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            _ => 0,
        };
        if letter != 0 {
            out.push('\\');
            out.push(char::from(letter));
        } else {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends the members of `map` as `"key":value` pairs separated by commas (no braces).
pub fn write_members(out: &mut String, map: &Map, mut first: bool) -> bool {
    for (k, v) in map {
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, k);
        out.push(':');
        write(out, v);
    }
    first
}

/// Appends a map of booleans (consent choices and preferences) as a JSON object.
pub fn write_bool_map<'a>(out: &mut String, map: impl IntoIterator<Item = (&'a String, &'a bool)>) {
    out.push('{');
    for (i, (key, on)) in map.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push_str(if *on { ":true" } else { ":false" });
    }
    out.push('}');
}

/// Appends `value` as compact JSON.
pub fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(n.as_str()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            write_members(out, map, true);
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Turning caller values into JSON

/// A value the builder API accepts as a property, trait or context value. With the `serde`
/// feature: anything `Serialize` (converting may fail, e.g. a map with non-string keys).
/// Without it: [`Value`], [`Map`], strings, booleans, integers, `Vec<Value>` and `Option`s of
/// these.
pub trait IntoJson {
    fn into_json(self) -> Result<Value, String>;
}

#[cfg(feature = "serde")]
impl<T: serde::Serialize> IntoJson for T {
    fn into_json(self) -> Result<Value, String> {
        serde_json::to_value(&self)
            .map(Value::from)
            .map_err(|e| e.to_string())
    }
}

#[cfg(not(feature = "serde"))]
mod to_json_plain {
    use super::{IntoJson, Map, Value};
    macro_rules! via_into {
        ($($t:ty),*) => {$(
            impl IntoJson for $t {
                fn into_json(self) -> Result<Value, String> {
                    Ok(self.into())
                }
            }
        )*};
    }
    via_into!(
        Value,
        Map,
        Vec<Value>,
        &str,
        String,
        bool,
        u8,
        u16,
        u32,
        u64,
        usize,
        i8,
        i16,
        i32,
        i64,
        isize
    );
    impl IntoJson for &String {
        fn into_json(self) -> Result<Value, String> {
            Ok(Value::String(self.clone()))
        }
    }
    impl<T: IntoJson> IntoJson for Option<T> {
        fn into_json(self) -> Result<Value, String> {
            self.map_or(Ok(Value::Null), IntoJson::into_json)
        }
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::{Map, Number, Value};

    impl From<serde_json::Value> for Value {
        fn from(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(Number(n.to_string().into())),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
                serde_json::Value::Object(m) => Value::Object(m.into()),
            }
        }
    }

    impl From<serde_json::Map<String, serde_json::Value>> for Map {
        fn from(m: serde_json::Map<String, serde_json::Value>) -> Map {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.push_unchecked(k, v.into());
            }
            out
        }
    }

    impl From<Value> for serde_json::Value {
        fn from(v: Value) -> serde_json::Value {
            match v {
                Value::Null => serde_json::Value::Null,
                Value::Bool(b) => serde_json::Value::Bool(b),
                Value::Number(n) => n
                    .as_str()
                    .parse::<serde_json::Number>()
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                Value::String(s) => serde_json::Value::String(s),
                Value::Array(a) => serde_json::Value::Array(a.into_iter().map(Into::into).collect()),
                Value::Object(m) => serde_json::Value::Object(m.into()),
            }
        }
    }

    impl From<Map> for serde_json::Map<String, serde_json::Value> {
        fn from(m: Map) -> Self {
            m.into_iter().map(|(k, v)| (k, v.into())).collect()
        }
    }

    impl serde::Serialize for Number {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if let Some(n) = self.as_u64() {
                return s.serialize_u64(n);
            }
            if let Ok(n) = self.as_str().parse::<i64>() {
                return s.serialize_i64(n);
            }
            s.serialize_f64(self.as_str().parse::<f64>().unwrap_or(f64::NAN))
        }
    }

    impl serde::Serialize for Value {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Value::Null => s.serialize_unit(),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Number(n) => n.serialize(s),
                Value::String(v) => s.serialize_str(v),
                Value::Array(a) => a.serialize(s),
                Value::Object(m) => m.serialize(s),
            }
        }
    }

    impl<'de> serde::Deserialize<'de> for Value {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
            serde_json::Value::deserialize(d).map(Value::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_every_kind() {
        let text = r#"{"s":"a\"b\\c\n\u00e9\ud83d\ude00","n":[0,-1.5e3,12,1E+2],"t":true,"f":false,"z":null,"o":{}}"#;
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
}
