//! Writing JSON: compact [`write`], strings escaped exactly like `serde_json` does
//! ([`write_str`]), and the decimal and concatenation helpers every message the core builds uses.

use super::{Map, Value};

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
