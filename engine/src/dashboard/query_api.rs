//! `POST /v1/query` and `footfall query`: any query-layer spec (`{"kind": ..., ...}`) run with an
//! optional range override, errors naming the spec's field.

use serde_json::Value;

use super::DashboardError;
use crate::query::{Query, QueryContext, run_query};
use crate::store::Store;

/// Runs any query spec (`{"kind": ..., ...}`, JSON or YAML-parsed) with an optional range
/// override; the query layer's output as JSON.
pub async fn run_spec(
    store: &dyn Store,
    ctx: &QueryContext,
    spec: &Value,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Value, DashboardError> {
    let mut spec = spec.clone();
    if let Value::Object(m) = &mut spec {
        for (k, v) in [("from", from), ("to", to)] {
            if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
                m.insert(k.into(), Value::String(v.to_string()));
            }
        }
    }
    let q = parse_query(spec)?;
    let out = run_query(store, ctx, &q).await?;
    serde_json::to_value(out).map_err(|e| DashboardError::Query(e.to_string()))
}

/// Parses a query spec, naming the field of an error (`metrics[0]`): the spec's own struct is
/// deserialized directly, since serde loses the path inside a tagged enum.
pub fn parse_query(mut spec: Value) -> Result<Query, DashboardError> {
    fn de<T: serde::de::DeserializeOwned>(v: Value, kind: &str) -> Result<T, DashboardError> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let at = e.path().to_string();
            let at = if at == "." {
                String::new()
            } else {
                format!(", field `{at}`")
            };
            DashboardError::Invalid(format!("invalid {kind} query{at}: {}", e.inner()))
        })
    }
    let kind = match spec.as_object_mut().map(|m| m.remove("kind")) {
        Some(Some(Value::String(k))) => k,
        Some(_) => {
            return Err(DashboardError::Invalid(format!(
                "a query spec needs `kind`, one of {}",
                KINDS.join(", ")
            )));
        }
        None => {
            return Err(DashboardError::Invalid(
                "a query spec is a map with a `kind`".into(),
            ));
        }
    };
    Ok(match kind.as_str() {
        "events" => Query::Events(de(spec, &kind)?),
        "trends" => Query::Trends(de(spec, &kind)?),
        "funnel" => Query::Funnel(de(spec, &kind)?),
        "retention" => Query::Retention(de(spec, &kind)?),
        "user_metrics" => Query::UserMetrics(de(spec, &kind)?),
        "feature_adoption" => Query::FeatureAdoption(de(spec, &kind)?),
        "segment" => Query::Segment(de(spec, &kind)?),
        "lifecycle" => Query::Lifecycle(de(spec, &kind)?),
        "stickiness" => Query::Stickiness(de(spec, &kind)?),
        "paths" => Query::Paths(de(spec, &kind)?),
        "raw_events" => Query::RawEvents(de(spec, &kind)?),
        other => {
            return Err(DashboardError::Invalid(format!(
                "unknown query kind `{other}`, expected one of {}",
                KINDS.join(", ")
            )));
        }
    })
}

/// The query kinds of [`Query`].
pub const KINDS: [&str; 11] = [
    "events",
    "trends",
    "funnel",
    "retention",
    "user_metrics",
    "feature_adoption",
    "segment",
    "lifecycle",
    "stickiness",
    "paths",
    "raw_events",
];
