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
//!
//! # Layout
//! [`Number`] is here, [`Value`] and its conversions from plain values in `value.rs`, the
//! writer ([`write`](fn@write), [`write_str`] and the small text helpers every message uses) in
//! `writer.rs`, the parser in `parse.rs`, typed reading with error paths in [`read`], and the
//! `serde_json` conversions (feature `serde`) in `serde_impls.rs`.

use std::fmt;

mod parse;
pub mod read;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(test)]
mod tests;
mod value;
mod writer;

pub use crate::map::NameMap;
pub use parse::{ParseError, parse};
pub use value::Value;
pub use writer::{
    cat, push_all, push_i64, push_u64, u64_text, write, write_bool_map, write_members, write_str,
};

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
