//! Per-widget-type rules, checked after deserialization: which fields a type accepts, field names,
//! metric fields, order_by terms, periods and dates. Each failure names the offending field.

use super::filters::{Field, Filters};
use super::model::{Aggregation, ChartType, FunnelStep, Widget, WidgetKind, needs_numeric_field};
use super::period::{DateRange, Period};
use crate::query::paths::{MAX_PATHS, MAX_STEPS as MAX_PATH_STEPS};

/// A rule broken by a widget: the field (path inside the widget) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// Funnel modes understood by the query layer.
pub const FUNNEL_MODES: [&str; 3] = ["sequential", "strict", "any_order"];
/// At most this many funnel steps.
pub const MAX_FUNNEL_STEPS: usize = 32;

impl Widget {
    /// Dimensions then group_by, duplicates removed, in order.
    pub fn all_dimensions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.dimensions.iter().chain(&self.group_by) {
            let canon = Field::parse(d)
                .map(|f| f.canonical())
                .unwrap_or_else(|_| d.clone());
            if !out.contains(&canon) {
                out.push(canon);
            }
        }
        out
    }

    /// The chart type, defaulted: `line` over time, else `bar`.
    pub fn effective_chart_type(&self) -> ChartType {
        self.chart_type.unwrap_or_else(|| {
            let first = self.all_dimensions().into_iter().next().unwrap_or_default();
            match Field::parse(&first) {
                Ok(Field::Time(_)) => ChartType::Line,
                _ => ChartType::Bar,
            }
        })
    }

    /// The widget's own range: `date_range`, or the seed's `filters.start_date/end_date`.
    pub fn own_range(&self) -> Option<DateRange> {
        if let Some(r) = &self.date_range {
            return Some(r.clone());
        }
        match (&self.filters.start_date, &self.filters.end_date) {
            (None, None) => None,
            (from, to) => Some(DateRange {
                from: from.clone().unwrap_or_else(|| "30_days_ago".into()),
                to: to.clone().unwrap_or_else(|| "today".into()),
                fixed: false,
            }),
        }
    }

    /// Checks the rules of the widget's type.
    pub fn check(&self) -> Result<(), FieldError> {
        let kind = self.kind;
        let not_for = |field: &str, present: bool| -> Result<(), FieldError> {
            if present {
                err(
                    field,
                    format!("`{field}` is not allowed on a {} widget", kind.as_str()),
                )
            } else {
                Ok(())
            }
        };
        let dims = self.all_dimensions();
        let is_funnel = kind == WidgetKind::Funnel;
        not_for("funnel_steps", !is_funnel && !self.funnel_steps.is_empty())?;
        not_for("funnel_window", !is_funnel && self.funnel_window.is_some())?;
        not_for("funnel_mode", !is_funnel && self.funnel_mode.is_some())?;
        let is_paths = kind == WidgetKind::Paths;
        not_for("paths_start", !is_paths && self.paths_start.is_some())?;
        not_for("paths_end", !is_paths && self.paths_end.is_some())?;
        not_for("paths_steps", !is_paths && self.paths_steps.is_some())?;
        not_for("paths_node", !is_paths && self.paths_node.is_some())?;
        not_for("trend", kind != WidgetKind::Metric && self.trend.is_some())?;
        not_for(
            "chart_type",
            kind != WidgetKind::Chart && self.chart_type.is_some(),
        )?;
        not_for("columns", kind != WidgetKind::Table && !self.columns.is_empty())?;
        let grouped = matches!(kind, WidgetKind::Chart | WidgetKind::Table);
        not_for("dimensions", !grouped && !self.dimensions.is_empty())?;
        not_for("group_by", !grouped && !self.group_by.is_empty())?;
        not_for("order_by", !grouped && !self.order_by.is_empty())?;
        not_for("limit", !grouped && !is_paths && self.limit.is_some())?;
        not_for("metrics", (is_funnel || is_paths) && !self.metrics.is_empty())?;
        if self.date_range.is_some() && (self.filters.start_date.is_some() || self.filters.end_date.is_some())
        {
            return err(
                "date_range",
                "give the range once: date_range or filters.start_date/end_date",
            );
        }
        if let Some(r) = self.own_range() {
            r.check().or_else(|m| err("date_range", m))?;
        }
        check_filters(&self.filters, "filters")?;
        for (i, d) in self.dimensions.iter().chain(&self.group_by).enumerate() {
            let name = if i < self.dimensions.len() {
                format!("dimensions[{i}]")
            } else {
                format!("group_by[{}]", i - self.dimensions.len())
            };
            Field::parse(d).or_else(|m| err(name, m))?;
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let at = format!("metrics[{i}].field");
            match (&m.field, m.agg) {
                (None, a) if needs_numeric_field(a) => {
                    return err(
                        at,
                        format!("`{}` needs a numeric field such as properties.amount", a.name()),
                    );
                }
                (Some(f), Aggregation::Count) => {
                    return err(
                        at,
                        format!("`count` counts events and takes no field (found `{f}`)"),
                    );
                }
                (Some(f), a) => match Field::parse(f) {
                    Err(e) => return err(at, e),
                    Ok(Field::Time(_)) => return err(at, format!("`{f}` is a time bucket, not a field")),
                    Ok(Field::Property(_) | Field::Context(_) | Field::Trait(_)) => {}
                    Ok(_) if needs_numeric_field(a) => {
                        return err(
                            at,
                            format!("`{}` needs a numeric JSON field, `{f}` is text", a.name()),
                        );
                    }
                    Ok(_) => {}
                },
                (None, _) => {}
            }
        }
        match kind {
            WidgetKind::Metric if self.metrics.len() > 1 => {
                return err("metrics", "a metric widget shows one metric");
            }
            WidgetKind::Chart if dims.is_empty() => {
                return err(
                    "dimensions",
                    "a chart needs a dimension (day, event, properties.x...)",
                );
            }
            WidgetKind::Chart | WidgetKind::Table if dims.len() > 2 => {
                return err("dimensions", "at most two dimensions (an axis and a breakdown)");
            }
            WidgetKind::Funnel => self.check_funnel()?,
            WidgetKind::Paths => self.check_paths()?,
            _ => {}
        }
        for (i, o) in self.order_by.iter().enumerate() {
            self.order_term(o).or_else(|m| err(format!("order_by[{i}]"), m))?;
        }
        if self.limit == Some(0) {
            return err("limit", "limit must be at least 1");
        }
        let want = dims.len() + self.metrics.len().max(1);
        if !self.columns.is_empty() && self.columns.len() != want {
            return err(
                "columns",
                format!(
                    "{} labels given, the table has {want} columns",
                    self.columns.len()
                ),
            );
        }
        Ok(())
    }

    fn check_funnel(&self) -> Result<(), FieldError> {
        let n = self.funnel_steps.len();
        if !(2..=MAX_FUNNEL_STEPS).contains(&n) {
            return err(
                "funnel_steps",
                format!("a funnel needs 2 to {MAX_FUNNEL_STEPS} steps, found {n}"),
            );
        }
        for (i, s) in self.funnel_steps.iter().enumerate() {
            check_step(s, &format!("funnel_steps[{i}]"))?;
        }
        if let Some(w) = &self.funnel_window {
            Period::parse(w).or_else(|m| err("funnel_window", m))?;
        }
        if let Some(m) = self
            .funnel_mode
            .as_ref()
            .filter(|m| !FUNNEL_MODES.contains(&m.as_str()))
        {
            return err(
                "funnel_mode",
                format!("unknown mode `{m}`, expected sequential, strict or any_order"),
            );
        }
        Ok(())
    }

    fn check_paths(&self) -> Result<(), FieldError> {
        if let Some(n) = self
            .paths_steps
            .filter(|n| !(2..=MAX_PATH_STEPS as u32).contains(n))
        {
            return err(
                "paths_steps",
                format!("a path has 2 to {MAX_PATH_STEPS} steps, found {n}"),
            );
        }
        if let Some(l) = self.limit.filter(|l| *l as usize > MAX_PATHS) {
            return err("limit", format!("at most {MAX_PATHS} paths, found {l}"));
        }
        if let Some(s) = &self.paths_start {
            check_step(s, "paths_start")?;
        }
        if let Some(s) = &self.paths_end {
            if self.paths_start.is_some() {
                return err(
                    "paths_end",
                    "give paths_start or paths_end, not both: paths start at an event or lead to one",
                );
            }
            check_step(s, "paths_end")?;
        }
        if let Some(n) = &self.paths_node {
            match Field::parse(n) {
                Err(m) => return err("paths_node", m),
                Ok(Field::Time(_)) => {
                    return err("paths_node", format!("`{n}` is a time bucket, not a field"));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Parses an order_by term into (result column, descending).
    pub fn order_term(&self, term: &str) -> Result<(String, bool), String> {
        let mut parts = term.split_whitespace();
        let name = parts.next().ok_or("empty order_by term")?;
        let desc = match parts.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => return Err(format!("`{term}`: expected ASC or DESC, found `{other}`")),
        };
        if parts.next().is_some() {
            return Err(format!("`{term}`: expected `<column> [ASC|DESC]`"));
        }
        let metrics = if self.metrics.is_empty() {
            vec![super::model::MetricSpec::count()]
        } else {
            self.metrics.clone()
        };
        // Exact metric name, then aggregation type, then `count`/`value` for the first count-like
        // metric (the seed orders a count_distinct by `count DESC`), then a dimension.
        if let Some(m) = metrics.iter().find(|m| m.name() == name || m.agg.name() == name) {
            return Ok((m.name(), desc));
        }
        if matches!(name, "count" | "value" | "metric") {
            let m = metrics
                .iter()
                .find(|m| matches!(m.agg, Aggregation::Count | Aggregation::CountDistinct))
                .unwrap_or(&metrics[0]);
            return Ok((m.name(), desc));
        }
        let canon = Field::parse(name).map(|f| f.canonical()).unwrap_or_default();
        if self.all_dimensions().contains(&canon) {
            return Ok((canon, desc));
        }
        Err(format!(
            "`{name}` is neither a metric nor a dimension of this widget"
        ))
    }
}

/// A funnel step or a paths widget's start (`at`: where it is, for the error).
fn check_step(s: &FunnelStep, at: &str) -> Result<(), FieldError> {
    if s.event_type.trim().is_empty() {
        return err(format!("{at}.event_type"), "empty event name");
    }
    if s.filters.start_date.is_some() || s.filters.end_date.is_some() || !s.filters.events.is_empty() {
        return err(
            format!("{at}.filters"),
            "step filters are property filters; the step's event is `event_type`",
        );
    }
    check_filters(&s.filters, &format!("{at}.filters"))
}

fn check_filters(f: &Filters, at: &str) -> Result<(), FieldError> {
    for (i, g) in f.any.iter().enumerate() {
        if g.start_date.is_some() || g.end_date.is_some() {
            return err(format!("{at}.any[{i}]"), "dates cannot be inside `any`");
        }
        check_filters(g, &format!("{at}.any[{i}]"))?;
    }
    Ok(())
}
