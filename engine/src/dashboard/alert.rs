//! Alert rules: a metric over a window, a condition, an evaluation interval and a webhook.
//!
//! ```yaml
//! id: purchases-drop           # default: derived from the name
//! name: Purchases dropped
//! filters: {event_type: purchase}
//! metric: count                # or {type: count_distinct, field: user_id}; default count
//! condition: change < -20%     # > 100 | >= 1 | < 5 | <= 5 | == 0 | != 0 | change > 20% | change > 50
//! window: 1_hours              # the metric is computed over [now - window, now); default 1_hours
//! interval: 15_minutes         # evaluated at most this often (alias schedule); default 15_minutes
//! webhook: https://hooks.example.com/footfall
//! notify_resolved: false       # also POST when it stops firing; default false
//! enabled: true                # default true
//! ```
//!
//! `change` compares the window with the window just before it: `change > 20%` is a relative
//! change in percent (undefined, so not firing, when the previous value is 0), `change > 50`
//! an absolute difference. A rule notifies when it starts firing, not again while it keeps
//! firing; its state lives in a separate `alert_state` document so user edits and the evaluator
//! never overwrite each other.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::filters::{Field, Filters};
use super::model::MetricSpec;
use super::period::Period;

/// A stored alert rule (document kind `alert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Same rules as a dashboard id; default derived from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Which events count (same forms as a widget's filters; no dates: the window sets them).
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
    /// Default `count`.
    #[serde(default = "MetricSpec::count")]
    pub metric: MetricSpec,
    pub condition: AlertCondition,
    /// Default `1_hours`.
    #[serde(default = "one_hour")]
    pub window: Period,
    /// Default `15_minutes`.
    #[serde(default = "quarter_hour", alias = "schedule", alias = "every")]
    pub interval: Period,
    /// http(s) URL receiving a JSON POST when the alert fires.
    pub webhook: String,
    /// Default false.
    #[serde(default)]
    pub notify_resolved: bool,
}

fn yes() -> bool {
    true
}
fn one_hour() -> Period {
    Period::parse("1_hours").unwrap_or(Period {
        n: 1,
        unit: super::period::Unit::Hours,
    })
}
fn quarter_hour() -> Period {
    Period::parse("15_minutes").unwrap_or(Period {
        n: 15,
        unit: super::period::Unit::Minutes,
    })
}

impl AlertRule {
    /// Checks what serde cannot: the metric's field, the filters, the webhook URL.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("field `name` is empty".into());
        }
        if self.filters.start_date.is_some() || self.filters.end_date.is_some() {
            return Err(
                "field `filters`: no start_date/end_date in an alert, the `window` sets the range".into(),
            );
        }
        let m = &self.metric;
        match (&m.field, super::model::needs_numeric_field(m.agg)) {
            (None, true) => return Err(format!("field `metric`: `{}` needs a field", m.agg.name())),
            (Some(f), _) => {
                Field::parse(f).map_err(|e| format!("field `metric.field`: {e}"))?;
            }
            _ => {}
        }
        let url = self.webhook.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(format!("field `webhook`: `{url}` is not an http(s) URL"));
        }
        Ok(())
    }
}

/// What the condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The metric over the window.
    Value,
    /// Window minus previous window.
    Change,
    /// (Window − previous) / previous × 100.
    ChangePercent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Eq => "==",
            Cmp::Neq => "!=",
        }
    }

    pub fn holds(self, x: f64, threshold: f64) -> bool {
        match self {
            Cmp::Gt => x > threshold,
            Cmp::Gte => x >= threshold,
            Cmp::Lt => x < threshold,
            Cmp::Lte => x <= threshold,
            Cmp::Eq => x == threshold,
            Cmp::Neq => x != threshold,
        }
    }
}

/// `> 100`, `change < -20%`: parsed from and written as a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertCondition {
    pub subject: Subject,
    pub cmp: Cmp,
    pub threshold: f64,
}

/// Re-exported under the shorter name in [`super`].
pub type Condition = AlertCondition;

impl AlertCondition {
    pub fn parse(s: &str) -> Result<AlertCondition, String> {
        let t = s.trim();
        let (change, rest) = match t.strip_prefix("change") {
            Some(r) => (true, r.trim_start()),
            None => (false, t),
        };
        let ops = [
            (">=", Cmp::Gte),
            ("<=", Cmp::Lte),
            ("==", Cmp::Eq),
            ("!=", Cmp::Neq),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
            ("=", Cmp::Eq),
        ];
        let (cmp, num) = ops
            .iter()
            .find_map(|(sym, c)| rest.strip_prefix(sym).map(|n| (*c, n.trim())))
            .ok_or_else(|| format!("condition `{t}`: expected `> 100`, `< 5` or `change > 20%`"))?;
        let (num, percent) = match num.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (num, false),
        };
        if percent && !change {
            return Err(format!("condition `{t}`: `%` only applies to `change`"));
        }
        let threshold: f64 = num
            .parse()
            .map_err(|_| format!("condition `{t}`: `{num}` is not a number"))?;
        if !threshold.is_finite() {
            return Err(format!("condition `{t}`: threshold must be finite"));
        }
        let subject = match (change, percent) {
            (false, _) => Subject::Value,
            (true, false) => Subject::Change,
            (true, true) => Subject::ChangePercent,
        };
        Ok(AlertCondition {
            subject,
            cmp,
            threshold,
        })
    }

    /// Whether the rule needs the previous window's value.
    pub fn needs_previous(&self) -> bool {
        self.subject != Subject::Value
    }

    /// The compared quantity, or `None` when undefined (a % change from zero).
    pub fn subject_value(&self, value: f64, previous: Option<f64>) -> Option<f64> {
        match self.subject {
            Subject::Value => Some(value),
            Subject::Change => previous.map(|p| value - p),
            Subject::ChangePercent => previous
                .filter(|p| *p != 0.0)
                .map(|p| (value - p) / p.abs() * 100.0),
        }
    }

    /// Whether the condition holds (false when the subject is undefined).
    pub fn holds(&self, value: f64, previous: Option<f64>) -> bool {
        self.subject_value(value, previous)
            .is_some_and(|x| self.cmp.holds(x, self.threshold))
    }
}

impl std::fmt::Display for AlertCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = if self.subject == Subject::Value {
            ""
        } else {
            "change "
        };
        let pct = if self.subject == Subject::ChangePercent {
            "%"
        } else {
            ""
        };
        write!(f, "{prefix}{} {}{pct}", self.cmp.symbol(), self.threshold)
    }
}

impl Serialize for AlertCondition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AlertCondition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AlertCondition::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The evaluator's memory of a rule (document kind `alert_state`, same id as the rule).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// `ok` or `firing`.
    #[serde(default)]
    pub firing: bool,
    /// ms since the epoch.
    #[serde(default)]
    pub last_evaluated_at: Option<i64>,
    #[serde(default)]
    pub last_value: Option<f64>,
    #[serde(default)]
    pub last_previous_value: Option<f64>,
    #[serde(default)]
    pub last_fired_at: Option<i64>,
    /// The last webhook or query failure, cleared by the next success.
    #[serde(default)]
    pub last_error: Option<String>,
}
