//! RFC 7386 JSON Merge Patch (how an update applies to the settings) and the changed leaves
//! between two documents (what the audit log records).

use serde_json::{Map, Value};

/// One changed field of an update: its JSON path and values (as the audit log records them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// RFC 7386 JSON Merge Patch of `patch` onto `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The changed leaves between two JSON documents (objects are walked; anything else is a leaf).
pub fn diff(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if old != new => out.push(Change {
            field: path.to_string(),
            old: old.clone(),
            new: new.clone(),
        }),
        _ => {}
    }
}
