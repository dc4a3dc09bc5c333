//! Reading typed fields out of parsed JSON, with errors that name where the problem is
//! (`privacy.anonymize_ip: expected a boolean, got a string`). Used for the configuration,
//! events from JavaScript, persisted state and collector answers.
//!
//! Objects are read with [`fields`]: a table of `(name, Slot)` pairs, each slot a typed place to
//! store the member into. One small loop serves every object the core reads (instead of a
//! hand-written match per struct, which the browser bundle would carry once per struct), nested
//! objects included: a [`Slot::Fields`] is read by the same loop, one level down, and a
//! [`Slot::Each`] hands every member of a name-keyed object to a reader, so a whole document
//! (the configuration, the privacy settings) is one table and one pass, with no intermediate
//! values and error paths built only for errors.

use super::{Map, Value};

/// A field that is missing, unknown or of the wrong type: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path (`analytics.tracking.batch_size`); empty for the root.
    pub path: String,
    pub problem: String,
}

impl FieldError {
    /// `"<path>: <problem>"` (`config` for the root).
    pub fn message(&self) -> String {
        let path = if self.path.is_empty() {
            "config"
        } else {
            &self.path
        };
        crate::json::cat(&[path, ": ", &self.problem])
    }

    /// The same error one level down: `prefix.<path>` (`prefix` when the path is empty).
    pub fn under(mut self, prefix: &str) -> FieldError {
        self.path = if self.path.is_empty() {
            prefix.to_string()
        } else {
            join(prefix, &self.path)
        };
        self
    }
}

impl From<FieldError> for String {
    fn from(e: FieldError) -> String {
        e.message()
    }
}

/// Result of reading a field.
pub type Read<T> = Result<T, FieldError>;

/// `path.key` (or `key` at the root).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_string();
    }
    crate::json::cat(&[path, ".", key])
}

/// The error `problem` at `path`.
pub fn problem(path: &str, problem: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        problem: problem.to_string(),
    }
}

fn expected(path: &str, what: &str, got: &Value) -> FieldError {
    FieldError {
        path: path.to_string(),
        problem: crate::json::cat(&["expected ", what, ", got ", got.kind()]),
    }
}

/// Where [`fields`] stores a member, and what type it must have. `null` is accepted for the
/// optional kinds (and means absent); the others take their default only when the key is absent.
pub enum Slot<'a> {
    Bool(&'a mut bool),
    /// A non-negative integer that fits a `usize`.
    Size(&'a mut usize),
    /// A non-negative integer that fits a `u32`.
    U32(&'a mut u32),
    /// A non-negative integer.
    U64(&'a mut u64),
    /// Any number (seconds, as a float).
    Number(&'a mut f64),
    Str(&'a mut String),
    OptStr(&'a mut Option<String>),
    List(&'a mut Vec<String>),
    OptList(&'a mut Option<Vec<String>>),
    /// An object (`null` reads as `{}`).
    Object(&'a mut Map),
    OptObject(&'a mut Option<Map>),
    /// Any value, kept as it is.
    Any(&'a mut Value),
    /// A nested object (`null` reads as `{}`), read into its own table of names and slots.
    Fields(&'a mut Table<'a>),
    /// An object (`null` reads as `{}`) whose every member is handed to the reader, as
    /// `(name, value)`: name-keyed maps such as the tracking plan's events. A reader's error
    /// path is relative to the member.
    Each(&'a mut dyn Member),
}

/// The reader of [`Slot::Each`]: every closure `FnMut(&str, Value) -> Read<()>` is one. A trait
/// of its own rather than `dyn FnMut`: a `dyn FnMut`'s vtable also carries a `call_once` shim per
/// closure, which nothing calls but the bundle would ship.
pub trait Member {
    fn member(&mut self, name: &str, value: Value) -> Read<()>;
}

impl<F: FnMut(&str, Value) -> Read<()>> Member for F {
    fn member(&mut self, name: &str, value: Value) -> Read<()> {
        self(name, value)
    }
}

/// The names and slots of a nested object ([`Slot::Fields`]), behind one pointer: slots are
/// built at every call, so they stay small.
pub struct Table<'a>(pub &'static [&'static str], pub &'a mut [Slot<'a>]);

/// `value` as an object, or `null` as an empty one.
pub fn any_object(value: Value, path: &str) -> Read<Map> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        other => Err(expected(path, "an object", &other)),
    }
}

impl Slot<'_> {
    /// What the slot accepts, for the error message.
    fn expects(&self) -> &'static str {
        match self {
            Slot::Bool(_) => "a boolean",
            Slot::Size(_) | Slot::U32(_) | Slot::U64(_) => "a non-negative integer",
            Slot::Number(_) => "a number",
            Slot::Str(_) | Slot::OptStr(_) => "a string",
            Slot::List(_) | Slot::OptList(_) => "a list of strings",
            Slot::Object(_) | Slot::OptObject(_) | Slot::Fields(..) | Slot::Each(_) => "an object",
            Slot::Any(_) => "a value",
        }
    }
}

/// Stores `v` into `slot`; `Err(v)` gives the value back when its type does not fit.
fn store(slot: &mut Slot<'_>, v: Value) -> Result<(), Value> {
    let int = v.as_u64();
    match (slot, v) {
        (Slot::Bool(b), Value::Bool(x)) => **b = x,
        (Slot::Size(n), _) if int.is_some_and(|x| usize::try_from(x).is_ok()) => {
            **n = int.unwrap_or(0) as usize
        }
        (Slot::U32(n), _) if int.is_some_and(|x| x <= u64::from(u32::MAX)) => **n = int.unwrap_or(0) as u32,
        (Slot::U64(n), _) if int.is_some() => **n = int.unwrap_or(0),
        (Slot::Number(n), Value::Number(x)) => **n = x.as_f64(),
        (Slot::Str(s), Value::String(x)) => **s = x,
        (Slot::OptStr(s), Value::Null) => **s = None,
        (Slot::OptStr(s), Value::String(x)) => **s = Some(x),
        (Slot::OptList(l), Value::Null) => **l = None,
        (slot @ (Slot::List(_) | Slot::OptList(_)), Value::Array(mut items)) => {
            if !items.iter().all(|i| matches!(i, Value::String(_))) {
                return Err(Value::Array(items));
            }
            let mut list = Vec::with_capacity(items.len());
            for i in &mut items {
                if let Value::String(s) = i {
                    list.push(std::mem::take(s));
                }
            }
            match slot {
                Slot::List(l) => **l = list,
                Slot::OptList(l) => **l = Some(list),
                _ => {}
            }
        }
        (Slot::Object(m), Value::Null) => **m = Map::new(),
        (Slot::Object(m), Value::Object(x)) => **m = x,
        (Slot::OptObject(m), Value::Null) => **m = None,
        (Slot::OptObject(m), Value::Object(x)) => **m = Some(x),
        (Slot::Any(a), v) => **a = v,
        (_, v) => return Err(v),
    }
    Ok(())
}

/// Reads the object `value` (`null` reads as `{}`) into `slots`: member `names[i]` goes into
/// `slots[i]`. (Two arrays rather than one of pairs: the names are then a constant table, not
/// stored one by one at every call — which the browser bundle carried for ~100 fields.) A member
/// whose name is not in `names` goes into `rest` when given (at any depth), else is an error
/// naming it and the known names. Errors name `path.member`; the path is only built for errors.
pub fn fields(
    value: Value,
    path: &str,
    names: &[&str],
    slots: &mut [Slot<'_>],
    rest: Option<&mut Map>,
) -> Read<()> {
    read_object(value, names, slots, rest).map_err(|e| e.under(path))
}

/// [`fields`] with error paths relative to `value`.
fn read_object(value: Value, names: &[&str], slots: &mut [Slot<'_>], mut rest: Option<&mut Map>) -> Read<()> {
    debug_assert_eq!(names.len(), slots.len());
    for (key, v) in any_object(value, "")? {
        let Some(i) = names.iter().position(|name| *name == key) else {
            if let Some(rest) = rest.as_deref_mut() {
                rest.insert(key, v);
                continue;
            }
            let mut p = String::from("unknown field `");
            p.push_str(&key);
            p.push_str("`, expected one of ");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    p.push_str(", ");
                }
                p.push('`');
                p.push_str(name);
                p.push('`');
            }
            return Err(problem("", &p));
        };
        let read = match &mut slots[i] {
            Slot::Fields(Table(names, slots)) => read_object(v, names, slots, rest.as_deref_mut()),
            Slot::Each(read) => each(v, *read),
            slot => store(slot, v).map_err(|v| expected("", slot.expects(), &v)),
        };
        read.map_err(|e| e.under(&key))?;
    }
    Ok(())
}

/// Hands every member of the object `value` to `read` (see [`Slot::Each`]).
fn each(value: Value, read: &mut dyn Member) -> Read<()> {
    for (key, v) in any_object(value, "")? {
        read.member(&key, v).map_err(|e| e.under(&key))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn fields_read_typed_members_and_name_errors() {
        let (mut b, mut n, mut s, mut l, mut o) = (false, 0usize, None, Vec::new(), None);
        let v = parse(r#"{"b":true,"n":3,"s":null,"l":["x"],"o":{"k":1}}"#).unwrap();
        fields(
            v,
            "root",
            &["b", "n", "s", "l", "o"],
            &mut [
                Slot::Bool(&mut b),
                Slot::Size(&mut n),
                Slot::OptStr(&mut s),
                Slot::List(&mut l),
                Slot::OptObject(&mut o),
            ],
            None,
        )
        .unwrap();
        assert!(b && n == 3 && s.is_none() && l == ["x"] && o.unwrap()["k"].as_u64() == Some(1));

        let err = |text: &str| {
            let mut b = false;
            fields(
                parse(text).unwrap(),
                "root.sub",
                &["a"],
                &mut [Slot::Bool(&mut b)],
                None,
            )
            .unwrap_err()
            .message()
        };
        assert_eq!(
            err(r#"{"b":1}"#),
            "root.sub: unknown field `b`, expected one of `a`"
        );
        assert_eq!(
            err(r#"{"a":"x"}"#),
            "root.sub.a: expected a boolean, got a string"
        );
        assert_eq!(err("[]"), "root.sub: expected an object, got an array");
        let mut rest = Map::new();
        fields(parse(r#"{"x":1}"#).unwrap(), "", &[], &mut [], Some(&mut rest)).unwrap();
        assert_eq!(rest["x"].as_u64(), Some(1));
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a.x");
        assert_eq!(problem("", "p").message(), "config: p");
    }

    #[test]
    fn nested_tables_and_maps_read_in_one_pass_with_full_error_paths() {
        let read = |text: &str, rest: bool| {
            let (mut n, mut seen) = (0u32, Vec::new());
            let mut each = |name: &str, v: Value| -> Read<()> {
                let x = v.as_bool().ok_or_else(|| problem("", "expected a boolean"))?;
                seen.push((name.to_string(), x));
                Ok(())
            };
            let mut ignored = Map::new();
            let result = fields(
                parse(text).unwrap(),
                "root",
                &["a", "m"],
                &mut [
                    Slot::Fields(&mut Table(&["n"], &mut [Slot::U32(&mut n)])),
                    Slot::Each(&mut each),
                ],
                rest.then_some(&mut ignored),
            );
            result.map(|()| (n, seen, ignored.len())).map_err(|e| e.message())
        };
        let ok = read(r#"{"a":{"n":3},"m":{"x":true,"y":false}}"#, false).unwrap();
        assert_eq!(ok, (3, vec![("x".into(), true), ("y".into(), false)], 0));
        assert_eq!(read(r#"{"a":null,"m":null}"#, false).unwrap(), (0, vec![], 0));
        assert_eq!(
            read(r#"{"a":{"n":"3"}}"#, false).unwrap_err(),
            "root.a.n: expected a non-negative integer, got a string"
        );
        assert_eq!(
            read(r#"{"a":{"k":1}}"#, false).unwrap_err(),
            "root.a: unknown field `k`, expected one of `n`"
        );
        assert_eq!(
            read(r#"{"a":{"k":1},"z":2}"#, true).unwrap().2,
            2,
            "`rest` serves every level"
        );
        assert_eq!(
            read(r#"{"a":[]}"#, false).unwrap_err(),
            "root.a: expected an object, got an array"
        );
        assert_eq!(
            read(r#"{"m":{"x":1}}"#, false).unwrap_err(),
            "root.m.x: expected a boolean"
        );
        assert_eq!(
            read(r#"{"m":1}"#, false).unwrap_err(),
            "root.m: expected an object, got a number"
        );
    }
}
