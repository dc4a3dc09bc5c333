//! The JSON parser: text → [`Value`], strict RFC 8259 (what `serde_json` accepts, minus its
//! extensions), with a nesting limit ([`MAX_DEPTH`]) so hostile input cannot exhaust the stack.

use std::fmt;

use super::{MAX_DEPTH, Map, Number, Value, push_u64};

/// Text that is not JSON: what is wrong and where (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub what: &'static str,
    pub offset: usize,
}

impl ParseError {
    /// `"<what> at byte <offset>"`.
    pub fn message(&self) -> String {
        let mut s = String::from(self.what);
        s.push_str(" at byte ");
        push_u64(&mut s, self.offset as u64);
        s
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ParseError {}

/// Length of the JSON number at the start of `b`, if one starts there.
pub(super) fn number_len(b: &[u8]) -> Option<usize> {
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    /// The error `what` at the current position (not generic over the `Ok` type: one copy).
    fn err(&self, what: &'static str) -> ParseError {
        let end = self.pos >= self.text.len() && what != "trailing characters";
        ParseError {
            what: if end { "unexpected end of input" } else { what },
            offset: self.pos,
        }
    }

    fn skip_ws(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\n' | b'\r' | b'\t') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.container(true),
            Some(b'[') => self.container(false),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => match number_len(&self.text.as_bytes()[self.pos..]) {
                Some(n) => {
                    let text = &self.text[self.pos..self.pos + n];
                    self.pos += n;
                    Ok(Value::Number(Number(text.into())))
                }
                None => Err(self.err("expected a value")),
            },
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.pos += 1;
        Ok(())
    }

    /// An array (`object` false) or an object: one loop for both.
    fn container(&mut self, object: bool) -> Result<Value, ParseError> {
        self.enter()?;
        let (mut items, mut map) = (Vec::new(), Map::new());
        let close = if object { b'}' } else { b']' };
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                if object {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.expect(b':', "expected `:`")?;
                    let value = self.value()?;
                    map.insert(key, value);
                } else {
                    items.push(self.value()?);
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(c) if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ if object => return Err(self.err("expected `,` or `}`")),
                    _ => return Err(self.err("expected `,` or `]`")),
                }
            }
        }
        self.depth -= 1;
        Ok(if object {
            Value::Object(map)
        } else {
            Value::Array(items)
        })
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.text.as_bytes().get(self.pos..self.pos + 4);
        let Some(digits) = digits else {
            return Err(self.err("invalid \\u escape"));
        };
        let mut n = 0;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            n = n * 16 + u32::from(v);
        }
        self.pos += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // the opening quote
        let b = self.text.as_bytes();
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            let Some(&c) = b.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    out.push_str(&self.text[start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[start..self.pos]);
                    self.pos += 1;
                    let Some(&e) = b.get(self.pos) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    // The one-character escapes through one `push` (a call each cost more).
                    let simple = match e {
                        b'"' | b'\\' | b'/' => e,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        _ => 0,
                    };
                    match e {
                        _ if simple != 0 => out.push(char::from(simple)),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                if !self.text[self.pos..].starts_with("\\u") {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            match char::from_u32(code) {
                                Some(ch) => out.push(ch),
                                None => return Err(self.err("lone surrogate in \\u escape")),
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    }
                    start = self.pos;
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => self.pos += 1,
            }
        }
    }
}

/// Parses JSON text (one value, surrounded by optional whitespace).
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(value)
}
