//! Loading dashboards from YAML or JSON with errors that say where the problem is.
//!
//! Accepted shapes (JSON is accepted wherever YAML is):
//!
//! ```yaml
//! dashboards:            # a list ...
//!   - name: Product Overview
//!     widgets: [...]
//! ```
//!
//! ```yaml
//! dashboards:            # ... or the seed's map keyed by dashboard id
//!   overview:
//!     name: Product Overview
//!     widgets: [...]
//! ```
//!
//! The API also takes a single dashboard object (`{name, widgets}`).
//!
//! Each dashboard is deserialized on its own through `serde_path_to_error`, so an error reads
//! `dashboard "Product Overview", widgets[2] ("Signup Funnel"), field `funnel_steps[1]`: missing
//! field `event_type``.

use serde_json::Value;

use super::DashboardError;
use super::model::Dashboard;

/// Parses a dashboards file (YAML or JSON): every dashboard, validated, with ids assigned.
pub fn parse_dashboards(text: &str) -> Result<Vec<Dashboard>, DashboardError> {
    let root: Value = serde_norway::from_str(text)
        .map_err(|e| DashboardError::Invalid(format!("not valid YAML/JSON: {e}")))?;
    let Value::Object(mut top) = root else {
        return Err(DashboardError::Invalid(
            "expected a map with a `dashboards:` key".into(),
        ));
    };
    let list = top
        .remove("dashboards")
        .ok_or_else(|| DashboardError::Invalid("missing the top-level `dashboards:` key".into()))?;
    if let Some(extra) = top.keys().next() {
        return Err(DashboardError::Invalid(format!(
            "unknown top-level key `{extra}`; expected `dashboards`"
        )));
    }
    let entries: Vec<(Option<String>, Value)> = match list {
        Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
        Value::Object(map) => map.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        _ => {
            return Err(DashboardError::Invalid(
                "`dashboards` must be a list or a map".into(),
            ));
        }
    };
    if entries.is_empty() {
        return Err(DashboardError::Invalid("`dashboards` is empty".into()));
    }
    let mut out: Vec<Dashboard> = Vec::with_capacity(entries.len());
    for (i, (key, v)) in entries.into_iter().enumerate() {
        let label = key.clone().unwrap_or_else(|| format!("#{i}"));
        let mut d = parse_dashboard_labeled(&v, &label)?;
        if d.id.is_none() {
            d.id = key;
        }
        out.push(d);
    }
    assign_ids(&mut out)?;
    Ok(out)
}

/// Parses and validates one dashboard object (as the HTTP API receives it).
pub fn parse_dashboard(v: &Value) -> Result<Dashboard, DashboardError> {
    parse_dashboard_labeled(v, "(request body)")
}

fn parse_dashboard_labeled(v: &Value, fallback_label: &str) -> Result<Dashboard, DashboardError> {
    let name = v.get("name").and_then(Value::as_str).unwrap_or(fallback_label);
    let d: Dashboard = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = path_string(e.path());
        DashboardError::Invalid(describe(name, v, &path, &e.inner().to_string()))
    })?;
    if d.name.trim().is_empty() {
        return Err(DashboardError::Invalid(format!(
            "dashboard {fallback_label}: field `name` is empty"
        )));
    }
    if let Some(id) = &d.id {
        check_id(id)
            .map_err(|m| DashboardError::Invalid(format!("dashboard \"{}\": field `id`: {m}", d.name)))?;
    }
    if let Some(tz) = &d.time_zone {
        crate::query::time::Zone::parse(Some(tz)).map_err(|e| {
            DashboardError::Invalid(format!("dashboard \"{}\": field `time_zone`: {e}", d.name))
        })?;
    }
    if let Some(r) = &d.date_range {
        r.check().map_err(|m| {
            DashboardError::Invalid(format!("dashboard \"{}\": field `date_range`: {m}", d.name))
        })?;
    }
    let mut seen = Vec::new();
    for (i, w) in d.widgets.iter().enumerate() {
        w.check().map_err(|fe| {
            DashboardError::Invalid(describe(
                &d.name,
                v,
                &format!("widgets[{i}].{}", fe.field),
                &fe.message,
            ))
        })?;
        if let Some(wid) = &w.widget_id {
            if seen.contains(wid) {
                let at = format!("widgets[{i}].widget_id");
                return Err(DashboardError::Invalid(describe(
                    &d.name,
                    v,
                    &at,
                    &format!("duplicate id `{wid}`"),
                )));
            }
            seen.push(wid.clone());
        }
    }
    Ok(d)
}

/// `dashboard "X", widgets[2] ("Title"), field `a.b`: message`.
fn describe(dashboard: &str, raw: &Value, path: &str, message: &str) -> String {
    let mut out = format!("dashboard \"{dashboard}\"");
    let rest = if let Some(after) = path.strip_prefix("widgets[") {
        let (idx, tail) = after.split_once(']').unwrap_or((after, ""));
        let title = idx.parse::<usize>().ok().and_then(|i| {
            raw.get("widgets")?
                .get(i)?
                .get("title")?
                .as_str()
                .map(str::to_string)
        });
        out.push_str(&format!(", widgets[{idx}]"));
        if let Some(t) = title {
            out.push_str(&format!(" (\"{t}\")"));
        }
        tail.trim_start_matches('.').to_string()
    } else {
        path.to_string()
    };
    if !rest.is_empty() {
        out.push_str(&format!(", field `{rest}`"));
    }
    out.push_str(": ");
    out.push_str(message);
    out
}

fn path_string(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in p.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    s
}

/// Ids are 1–64 characters of `a-z`, `0-9`, `-`, `_`.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("`{id}` must be 1-64 characters of a-z, 0-9, - and _"))
    }
}

/// `Product Overview!` → `product-overview`.
pub fn slugify(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s: String = s.trim_end_matches('-').chars().take(64).collect();
    if s.is_empty() {
        "dashboard".into()
    } else {
        s.trim_end_matches('-').to_string()
    }
}

/// Gives every dashboard without an id one derived from its name, unique in `list`.
fn assign_ids(list: &mut [Dashboard]) -> Result<(), DashboardError> {
    let mut taken: Vec<String> = list.iter().filter_map(|d| d.id.clone()).collect();
    for (i, id) in taken.iter().enumerate() {
        if taken[..i].contains(id) {
            return Err(DashboardError::Invalid(format!(
                "two dashboards have the id `{id}`"
            )));
        }
    }
    for d in list.iter_mut().filter(|d| d.id.is_none()) {
        let id = unique_id(&slugify(&d.name), |c| taken.iter().any(|t| t == c));
        taken.push(id.clone());
        d.id = Some(id);
    }
    Ok(())
}

/// `base`, else `base-2`, `base-3`... the first that `taken` rejects not.
pub fn unique_id(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let keep = base.len().min(64 - suffix.len());
            format!("{}{suffix}", &base[..keep])
        })
        .find(|c| !taken(c))
        .unwrap_or_default()
}
