//! Evaluating alert rules and the scheduler task that does it periodically.
//!
//! [`evaluate_alerts`] is a plain async function of `now`: it evaluates every enabled rule of a
//! project that is due (never evaluated, or last evaluated at least `interval` ago), computes the
//! metric over `[now − window, now)` (and the window before it for `change` conditions) through
//! the query layer, and on a transition into firing POSTs the JSON below to the rule's webhook
//! and appends an `alert.fired` entry to the audit log. A failed webhook POST is logged
//! (`alert.webhook_failed` in the audit log) and retried at the next due evaluation; the rule
//! counts as fired only once a POST succeeded. Leaving the firing state writes `alert.resolved`
//! (and POSTs `"status": "resolved"` when `notify_resolved`).
//!
//! ```json
//! {"type": "footfall.alert", "status": "firing", "project": "default",
//!  "alert": {"id": "purchases-drop", "name": "Purchases dropped", "condition": "change < -20%",
//!            "window": "1_hours", "metric": "count"},
//!  "value": 40.0, "previous_value": 80.0, "change": -40.0, "change_pct": -50.0,
//!  "window": {"from": "...", "to": "..."}, "evaluated_at": "...",
//!  "message": "Purchases dropped: count = 40 over the last 1_hours (previous 80, change -50.0%); condition change < -20%"}
//! ```
//!
//! [`AlertScheduler`] wakes every `tick` (default 30 s) and evaluates each project. Several
//! collectors sharing one backend should run it in one process only (two would each notify).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::DashboardError;
use super::alert::{AlertRule, AlertState};
use super::crud::{AlertStore, load_alert_state, save_alert_state};
use super::data::trend_numbers;
use super::period::ms_to_rfc3339;
use super::translate;
use crate::query::QueryContext;
use crate::store::{AuditEntry, Store};

/// Audit-log actor of the evaluator.
pub const ALERT_ACTOR: &str = "alert-evaluator";
/// Webhook request timeout.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to one rule in one evaluation round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertOutcome {
    pub alert_id: String,
    /// False when the rule is disabled or not due.
    pub evaluated: bool,
    pub value: Option<f64>,
    pub previous_value: Option<f64>,
    /// Whether the condition held.
    pub firing: bool,
    /// Whether a webhook POST succeeded in this round.
    pub notified: bool,
    pub error: Option<String>,
}

/// The HTTP client used for webhooks (timeout [`WEBHOOK_TIMEOUT`]).
pub fn webhook_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Evaluates the due rules of `project` at `now_ms` (see the module doc).
pub async fn evaluate_alerts(
    store: &dyn Store,
    project: &str,
    now_ms: i64,
) -> Result<Vec<AlertOutcome>, DashboardError> {
    evaluate_alerts_with(store, project, now_ms, &webhook_client()).await
}

/// [`evaluate_alerts`] with a given HTTP client.
pub async fn evaluate_alerts_with(
    store: &dyn Store,
    project: &str,
    now_ms: i64,
    client: &reqwest::Client,
) -> Result<Vec<AlertOutcome>, DashboardError> {
    let rules = AlertStore::new(store, project).list().await?;
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        out.push(evaluate_one(store, project, &rule, now_ms, client).await?);
    }
    Ok(out)
}

async fn evaluate_one(
    store: &dyn Store,
    project: &str,
    rule: &AlertRule,
    now_ms: i64,
    client: &reqwest::Client,
) -> Result<AlertOutcome, DashboardError> {
    let id = rule.id.clone().unwrap_or_default();
    let mut outcome = AlertOutcome {
        alert_id: id.clone(),
        evaluated: false,
        value: None,
        previous_value: None,
        firing: false,
        notified: false,
        error: None,
    };
    let mut state = load_alert_state(store, project, &id).await?;
    let due = state
        .last_evaluated_at
        .is_none_or(|t| now_ms - t >= rule.interval.approx_ms());
    if !rule.enabled || !due {
        outcome.firing = state.firing;
        return Ok(outcome);
    }
    outcome.evaluated = true;
    state.last_evaluated_at = Some(now_ms);
    let to = now_ms;
    let from = rule.window.before(to);
    let measured = measure(store, project, rule, from, to).await;
    let (value, previous) = match measured {
        Ok(v) => v,
        Err(e) => {
            outcome.error = Some(e.to_string());
            state.last_error = outcome.error.clone();
            save_alert_state(store, project, &id, &state).await?;
            return Ok(outcome);
        }
    };
    outcome.value = value;
    outcome.previous_value = previous;
    state.last_value = value;
    state.last_previous_value = previous;
    state.last_error = None;
    let holds = value.is_some_and(|v| rule.condition.holds(v, previous));
    outcome.firing = holds;
    let payload = |status: &str| payload(project, rule, status, value, previous, from, to, now_ms);
    if holds && !state.firing {
        let body = payload("firing");
        match post(client, &rule.webhook, &body).await {
            Ok(()) => {
                outcome.notified = true;
                state.firing = true;
                state.last_fired_at = Some(now_ms);
                audit(store, project, &id, now_ms, "alert.fired", body).await?;
            }
            Err(e) => {
                tracing::warn!(project, alert = id, error = %e, "alert webhook failed");
                outcome.error = Some(e.clone());
                state.last_error = Some(e.clone());
                let details = json!({"webhook": rule.webhook, "error": e, "payload": body});
                audit(store, project, &id, now_ms, "alert.webhook_failed", details).await?;
            }
        }
    } else if !holds && state.firing {
        state.firing = false;
        let body = payload("resolved");
        if rule.notify_resolved {
            match post(client, &rule.webhook, &body).await {
                Ok(()) => outcome.notified = true,
                Err(e) => {
                    tracing::warn!(project, alert = id, error = %e, "alert webhook (resolved) failed");
                    outcome.error = Some(e.clone());
                    state.last_error = Some(e);
                }
            }
        }
        audit(store, project, &id, now_ms, "alert.resolved", body).await?;
    }
    save_alert_state(store, project, &id, &state).await?;
    Ok(outcome)
}

/// The metric over `[from, to)`, and over the window before when the condition needs it.
async fn measure(
    store: &dyn Store,
    project: &str,
    rule: &AlertRule,
    from: i64,
    to: i64,
) -> Result<(Option<f64>, Option<f64>), DashboardError> {
    let ctx = QueryContext::at(project, to);
    let value = translate::metric_value(store, &ctx, &rule.filters, &rule.metric, from, to).await?;
    let previous = if rule.condition.needs_previous() {
        translate::metric_value(
            store,
            &ctx,
            &rule.filters,
            &rule.metric,
            rule.window.before(from),
            from,
        )
        .await?
    } else {
        None
    };
    Ok((value, previous))
}

#[allow(clippy::too_many_arguments)]
fn payload(
    project: &str,
    rule: &AlertRule,
    status: &str,
    value: Option<f64>,
    previous: Option<f64>,
    from: i64,
    to: i64,
    now_ms: i64,
) -> Value {
    let (change, change_pct) = trend_numbers(value, previous);
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_else(|| "n/a".into());
    let mut message = format!(
        "{}: {} = {} over the last {}",
        rule.name,
        rule.metric.name(),
        num(value),
        rule.window
    );
    if rule.condition.needs_previous() {
        let pct = change_pct
            .map(|p| format!("{p:+.1}%"))
            .unwrap_or_else(|| "n/a".into());
        message.push_str(&format!(" (previous {}, change {pct})", num(previous)));
    }
    message.push_str(&format!("; condition {}", rule.condition));
    if status == "resolved" {
        message.push_str(" no longer holds");
    }
    json!({
        "type": "footfall.alert",
        "status": status,
        "project": project,
        "alert": {
            "id": rule.id, "name": rule.name, "condition": rule.condition.to_string(),
            "window": rule.window.to_string(), "metric": rule.metric.name(),
        },
        "value": value, "previous_value": previous, "change": change, "change_pct": change_pct,
        "window": {"from": ms_to_rfc3339(from), "to": ms_to_rfc3339(to)},
        "evaluated_at": ms_to_rfc3339(now_ms),
        "message": message,
    })
}

/// POSTs `body` to `url`. The error names the webhook by scheme and host only: a webhook's path
/// or query is often its secret (Slack's `/services/T…/B…/XXXX`), and errors go to logs.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(), String> {
    let shown = webhook_origin(url);
    let res = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {shown}: {}", error_chain(&e.without_url())))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {shown}: HTTP {}", res.status()))
    }
}

/// `scheme://host[:port]/…` of a webhook URL (its path and query hidden).
fn webhook_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let hidden = if u.path() == "/" && u.query().is_none() {
                "/"
            } else {
                "/…"
            };
            format!("{}://{}{port}{hidden}", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// An error and its causes, `: `-joined (reqwest's own message is only "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn audit(
    store: &dyn Store,
    project: &str,
    alert_id: &str,
    now_ms: i64,
    action: &str,
    details: Value,
) -> Result<(), DashboardError> {
    let entry = AuditEntry {
        id: format!("{action}:{project}:{alert_id}:{now_ms}"),
        project_id: Some(project.to_string()),
        at: now_ms,
        actor: ALERT_ACTOR.to_string(),
        action: action.to_string(),
        target: format!("alert:{alert_id}"),
        details,
    };
    store.append_audit(&entry).await?;
    Ok(())
}

/// The background task that evaluates alerts every `tick` for a fixed list of projects.
pub struct AlertScheduler {
    store: Arc<dyn Store>,
    projects: Vec<String>,
    tick: Duration,
    client: reqwest::Client,
}

impl AlertScheduler {
    /// Default tick: 30 s (rules are still evaluated only as often as their own `interval`).
    pub fn new(store: Arc<dyn Store>, projects: Vec<String>) -> Self {
        AlertScheduler {
            store,
            projects,
            tick: Duration::from_secs(30),
            client: webhook_client(),
        }
    }

    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick.max(Duration::from_millis(10));
        self
    }

    /// One round over every project at the current time; errors are logged, never returned.
    pub async fn run_once(&self) -> Vec<AlertOutcome> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut all = Vec::new();
        for p in &self.projects {
            match evaluate_alerts_with(self.store.as_ref(), p, now, &self.client).await {
                Ok(mut o) => all.append(&mut o),
                Err(e) => tracing::warn!(project = p, error = %e, "alert evaluation failed"),
            }
        }
        all
    }

    /// Runs until `shutdown` completes: `tokio::spawn(scheduler.run(shutdown_signal))`.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => { self.run_once().await; }
            }
        }
    }
}

/// Unused state fields stay readable for the API (`GET /v1/alerts/{id}` shows them).
pub fn state_json(state: &AlertState) -> Value {
    serde_json::to_value(state).unwrap_or(Value::Null)
}

#[cfg(test)]
mod webhook_tests {
    use super::*;

    #[test]
    fn webhook_errors_hide_path_and_query() {
        assert_eq!(
            webhook_origin("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            webhook_origin("http://127.0.0.1:9000/h?token=s"),
            "http://127.0.0.1:9000/…"
        );
        assert_eq!(webhook_origin("https://example.com"), "https://example.com/");
        assert_eq!(webhook_origin("not a url"), "(invalid URL)");
    }

    #[tokio::test]
    async fn an_unreachable_webhook_is_named_by_host_with_its_cause() {
        // A port nothing listens on: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/services/s3cret");
        let e = post(&webhook_client(), &url, &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(e.starts_with(&format!("POST http://127.0.0.1:{port}/…: ")), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.to_lowercase().contains("refused"), "the cause is said: {e}");
    }
}
