//! The dashboard format: the example and the seed's YAML load; bad input gives errors naming the
//! dashboard, the widget (index and title) and the field; stored JSON round-trips.

mod dashboard_support;

use footfall_engine::dashboard::alert::{AlertCondition, Subject};
use footfall_engine::dashboard::model::{ChartType, WidgetKind};
use footfall_engine::dashboard::{parse_dashboard, parse_dashboards};

/// The seed's dashboard configuration, verbatim (map form keyed by id, `widget_id`, filters
/// with start/end dates and bare property names, `order_by: count DESC` on a count_distinct).
const SEED: &str = r#"
dashboards:
  overview:
    name: "Product Overview"
    widgets:
      - widget_id: "total_users"
        type: "metric"
        title: "Total Users"
        filters:
          start_date: "30_days_ago"
          end_date: "today"
        metrics:
          - type: "count_distinct"
            field: "user_id"
        trend: "7_days"
      
      - widget_id: "active_users"
        type: "metric"
        title: "Active Users (7d)"
        filters:
          start_date: "7_days_ago"
          end_date: "today"
        metrics:
          - type: "count_distinct"
            field: "user_id"
        trend: "7_days"
      
      - widget_id: "feature_adoption"
        type: "chart"
        title: "Feature Adoption"
        chart_type: "bar"
        filters:
          start_date: "30_days_ago"
          end_date: "today"
          event_type: "feature_used"
        dimensions:
          - "properties.feature_name"
        metrics:
          - type: "count_distinct"
            field: "user_id"
        group_by:
          - "properties.feature_name"
        order_by:
          - "count DESC"
      
      - widget_id: "signup_funnel"
        type: "funnel"
        title: "Signup Funnel"
        funnel_steps:
          - name: "Page View"
            event_type: "page_view"
            filters:
              page_name: "signup"
          - name: "Click Signup"
            event_type: "click"
            filters:
              element_id: "signup_button"
          - name: "Submit Form"
            event_type: "submit"
            filters:
              form_name: "signup"
          - name: "Sign Up"
            event_type: "sign_up"
"#;

#[test]
fn seed_yaml_loads_verbatim() {
    let ds = parse_dashboards(SEED).unwrap();
    assert_eq!(ds.len(), 1);
    let d = &ds[0];
    assert_eq!(d.id.as_deref(), Some("overview"));
    assert_eq!(d.name, "Product Overview");
    assert_eq!(d.widgets.len(), 4);
    let kinds: Vec<WidgetKind> = d.widgets.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        [
            WidgetKind::Metric,
            WidgetKind::Metric,
            WidgetKind::Chart,
            WidgetKind::Funnel
        ]
    );
    let chart = &d.widgets[2];
    assert_eq!(chart.effective_chart_type(), ChartType::Bar);
    assert_eq!(chart.all_dimensions(), ["properties.feature_name"]);
    // `count DESC` names the count_distinct metric, whose column is the query layer's name.
    assert_eq!(
        chart.order_term("count DESC").unwrap(),
        ("count_distinct_person".to_string(), true)
    );
    let r = d.widgets[1].own_range().unwrap();
    assert_eq!((r.from.as_str(), r.to.as_str()), ("7_days_ago", "today"));
    let step0 = &d.widgets[3].funnel_steps[0];
    assert_eq!(step0.filters.conditions[0].field, "properties.page_name");
    assert_eq!(d.widgets[0].metrics[0].name(), "count_distinct_person");
}

#[test]
fn example_yaml_loads_with_every_widget_type() {
    let ds = parse_dashboards(&dashboard_support::example_yaml()).unwrap();
    let d = &ds[0];
    assert_eq!(d.id.as_deref(), Some("product-overview"));
    let kinds: Vec<&str> = d.widgets.iter().map(|w| w.kind.as_str()).collect();
    for k in ["metric", "chart", "funnel", "table"] {
        assert!(kinds.contains(&k), "example lacks a {k} widget");
    }
    let line = d
        .widgets
        .iter()
        .find(|w| w.widget_id.as_deref() == Some("page_views_by_day"))
        .unwrap();
    assert_eq!(line.effective_chart_type(), ChartType::Line);
    assert_eq!(
        &footfall_engine::dashboard::example_dashboards(),
        &ds,
        "the embedded copy is the file"
    );
    let dau = &d.widgets[0];
    assert!(dau.own_range().unwrap().fixed);
    assert_eq!(dau.trend.unwrap().to_string(), "7_days");
}

#[test]
fn stored_json_round_trips() {
    for d in parse_dashboards(&dashboard_support::example_yaml())
        .unwrap()
        .into_iter()
        .chain(parse_dashboards(SEED).unwrap())
    {
        let json = serde_json::to_value(&d).unwrap();
        let back = parse_dashboard(&json).unwrap();
        assert_eq!(back, d, "{json:#}");
    }
}

fn error_of(yaml: &str) -> String {
    parse_dashboards(yaml).expect_err("must be refused").to_string()
}

fn widget_yaml(widget: &str) -> String {
    format!(
        "dashboards:\n  - name: Team\n    widgets:\n      - type: metric\n        title: Fine\n{}",
        widget.lines().map(|l| format!("      {l}\n")).collect::<String>()
    )
}

#[test]
fn errors_name_dashboard_widget_and_field() {
    let cases: &[(&str, &[&str])] = &[
        (
            "- type: pie\n  title: Share",
            &[
                "dashboard \"Team\"",
                "widgets[1]",
                "field `type`",
                "unknown variant `pie`",
                "metric",
            ],
        ),
        (
            "- type: chart\n  title: Views\n  dimensions: [day]\n  colour: red",
            &["widgets[1] (\"Views\")", "unknown field `colour`"],
        ),
        (
            "- type: table\n  title: Top\n  dimensions: [event]\n  metrics: [{type: average, field: amount}]",
            &[
                "widgets[1] (\"Top\")",
                "field `metrics[0]`",
                "unknown variant `average`",
            ],
        ),
        (
            "- type: paths\n  title: P\n  paths_steps: 1",
            &[
                "widgets[1] (\"P\")",
                "field `paths_steps`",
                "2 to 10 steps, found 1",
            ],
        ),
        (
            "- type: paths\n  title: P\n  limit: 500",
            &["widgets[1] (\"P\")", "field `limit`", "at most 100 paths"],
        ),
        (
            "- type: paths\n  title: P\n  paths_node: day",
            &["field `paths_node`", "`day` is a time bucket"],
        ),
        (
            "- type: paths\n  title: P\n  paths_start: {event_type: ' '}",
            &["field `paths_start.event_type`", "empty event name"],
        ),
        (
            "- type: paths\n  title: P\n  paths_start: {event_type: a}\n  paths_end: {event_type: b}",
            &["widgets[1] (\"P\")", "field `paths_end`", "not both"],
        ),
        (
            "- type: paths\n  title: P\n  metrics: [count]",
            &["field `metrics`", "not allowed on a paths widget"],
        ),
        (
            "- type: table\n  title: T\n  dimensions: [event]\n  paths_node: path",
            &[
                "widgets[1] (\"T\")",
                "field `paths_node`",
                "not allowed on a table widget",
            ],
        ),
        (
            "- type: funnel\n  title: F\n  funnel_steps: [{event_type: a}]",
            &["widgets[1] (\"F\")", "field `funnel_steps`", "2 to 32 steps"],
        ),
        (
            "- type: funnel\n  title: F\n  funnel_steps: [{event_type: a}, {name: b}]",
            &[
                "widgets[1] (\"F\")",
                "field `funnel_steps[1]`",
                "missing field `event_type`",
            ],
        ),
        (
            "- type: metric\n  title: Rev\n  metrics: [{type: sum}]",
            &[
                "widgets[1] (\"Rev\")",
                "field `metrics[0].field`",
                "numeric field",
            ],
        ),
        (
            "- type: table\n  title: T\n  dimensions: [event]\n  order_by: [\"revenue DESC\"]",
            &["widgets[1] (\"T\")", "field `order_by[0]`", "`revenue`"],
        ),
        (
            "- type: metric\n  title: M\n  trend: 7_fortnights",
            &["widgets[1] (\"M\")", "field `trend`", "unknown unit"],
        ),
        (
            "- type: chart\n  title: C\n  dimensions: [day]\n  trend: 7_days",
            &["widgets[1] (\"C\")", "field `trend`", "not allowed on a chart"],
        ),
        (
            "- type: chart\n  title: C",
            &["widgets[1] (\"C\")", "field `dimensions`", "needs a dimension"],
        ),
        (
            "- type: table\n  title: T\n  dimensions: [foo.bar]",
            &[
                "widgets[1] (\"T\")",
                "field `dimensions[0]`",
                "unknown field `foo.bar`",
            ],
        ),
        (
            "- type: table\n  title: T\n  limit: many",
            &["widgets[1] (\"T\")", "field `limit`", "invalid type"],
        ),
        (
            "- type: metric\n  title: M\n  filters: {amount: {between: 3}}",
            &[
                "widgets[1] (\"M\")",
                "field `filters`",
                "unknown operator `between`",
            ],
        ),
        (
            "- type: metric\n  title: M\n  date_range: {from: next_tuesday}",
            &["widgets[1] (\"M\")", "field `date_range`", "next_tuesday"],
        ),
        (
            "- type: chart\n  title: C\n  dimensions: [day]\n  chart_type: pie",
            &[
                "widgets[1] (\"C\")",
                "field `chart_type`",
                "unknown variant `pie`",
            ],
        ),
    ];
    for (widget, wants) in cases {
        let msg = error_of(&widget_yaml(widget));
        for want in *wants {
            assert!(
                msg.contains(want),
                "error for\n{widget}\nis\n{msg}\nwhich lacks {want:?}"
            );
        }
    }
}

#[test]
fn file_level_errors() {
    assert!(error_of("widgets: []").contains("dashboards"));
    assert!(error_of("dashboards: []").contains("empty"));
    assert!(
        error_of("dashboards:\n  - name: A\n    widgets: []\n    colour: red")
            .contains("unknown field `colour`")
    );
    assert!(error_of("dashboards:\n  - widgets: []").contains("missing field `name`"));
    assert!(
        error_of("dashboards: [{id: x, name: A, widgets: []}, {id: x, name: B, widgets: []}]")
            .contains("`x`")
    );
    assert!(error_of("dashboards: [{id: Bad Id, name: A, widgets: []}]").contains("field `id`"));
    assert!(error_of("dashboards: [{name: A, time_zone: Mars/Base, widgets: []}]").contains("time_zone"));
    assert!(error_of("dashboards: [name: A").contains("not valid YAML"));
}

#[test]
fn ids_are_derived_from_names_and_unique() {
    let ds = parse_dashboards(
        "dashboards:\n  - {name: Sales & Growth!, widgets: []}\n  - {name: sales growth, widgets: []}",
    )
    .unwrap();
    assert_eq!(ds[0].id.as_deref(), Some("sales-growth"));
    assert_eq!(ds[1].id.as_deref(), Some("sales-growth-2"));
}

#[test]
fn alert_conditions_parse_and_evaluate() {
    let c = AlertCondition::parse("> 100").unwrap();
    assert_eq!((c.subject, c.threshold), (Subject::Value, 100.0));
    assert!(c.holds(101.0, None) && !c.holds(100.0, None));
    let c = AlertCondition::parse("change > 20%").unwrap();
    assert_eq!(c.subject, Subject::ChangePercent);
    assert!(c.holds(121.0, Some(100.0)) && !c.holds(119.0, Some(100.0)));
    assert!(
        !c.holds(5.0, Some(0.0)),
        "a change from zero is undefined, so never fires"
    );
    let c = AlertCondition::parse("change < -20%").unwrap();
    assert!(c.holds(70.0, Some(100.0)) && !c.holds(90.0, Some(100.0)));
    let c = AlertCondition::parse("change >= 50").unwrap();
    assert_eq!(c.subject, Subject::Change);
    assert!(c.holds(150.0, Some(100.0)));
    assert_eq!(AlertCondition::parse("<= 5").unwrap().to_string(), "<= 5");
    for bad in ["100", "> x", "> 5%", "about 3", "change"] {
        assert!(AlertCondition::parse(bad).is_err(), "{bad} accepted");
    }
}
