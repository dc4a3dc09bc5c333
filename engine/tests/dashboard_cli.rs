//! The CLI helpers: `footfall query SPEC [--from --to] [--format]` and `footfall dashboard render`.

mod dashboard_support;

use dashboard_support::{PROJECT, store_with_data};
use footfall_engine::dashboard::cli::{OutputFormat, render_report_file, report_data, run_query_file};
use footfall_engine::query::{EventsQuery, Metric, QueryContext, query_events};
use serde_json::{Value, json};

#[tokio::test]
async fn query_files_in_every_format() {
    let (store, _) = store_with_data().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("events.yaml");
    std::fs::write(
        &yaml,
        "kind: events\ndimensions: [event]\nmetrics: [count]\norder_by: [count DESC]\n",
    )
    .unwrap();
    let json_path = dir.path().join("funnel.json");
    std::fs::write(
        &json_path,
        json!({"kind": "funnel", "steps": ["page_view", "click", "sign_up"], "window": 1}).to_string(),
    )
    .unwrap();

    let out = run_query_file(store.as_ref(), PROJECT, &yaml, None, None, OutputFormat::Json)
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut q = EventsQuery::new(&["event"], vec![Metric::count()]);
    q.order_by = vec!["count DESC".into()];
    let direct = query_events(store.as_ref(), &QueryContext::new(PROJECT), &q)
        .await
        .unwrap();
    assert_eq!(v["rows"], serde_json::to_value(&direct.rows).unwrap());

    let csv = run_query_file(store.as_ref(), PROJECT, &yaml, None, None, OutputFormat::Csv)
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("event,count"));
    let first = &direct.rows[0];
    assert_eq!(
        lines.next().unwrap(),
        format!("{},{}", first[0].as_str().unwrap(), first[1])
    );
    assert_eq!(csv.lines().count(), direct.rows.len() + 1);

    let table = run_query_file(store.as_ref(), PROJECT, &yaml, None, None, OutputFormat::Table)
        .await
        .unwrap();
    assert!(table.starts_with("event"), "{table}");
    assert!(table.lines().nth(2).unwrap().contains(first[0].as_str().unwrap()));

    // A range from the command line overrides the spec's: nothing happened in 2001.
    let old = run_query_file(
        store.as_ref(),
        PROJECT,
        &yaml,
        Some("2001-01-01"),
        Some("2001-01-31"),
        OutputFormat::Csv,
    )
    .await
    .unwrap();
    assert_eq!(old, "event,count\r\n");

    let funnel = run_query_file(store.as_ref(), PROJECT, &json_path, None, None, OutputFormat::Csv)
        .await
        .unwrap();
    let header = funnel.lines().next().unwrap();
    assert!(header.starts_with("step,name,event,persons"), "{header}");
    assert_eq!(funnel.lines().count(), 4);
    assert!(
        funnel.lines().nth(3).unwrap().contains(",sign_up,16,"),
        "{funnel}"
    );

    // Errors: a missing file, a bad spec, a bad date.
    let missing = dir.path().join("nope.yaml");
    assert!(
        run_query_file(store.as_ref(), PROJECT, &missing, None, None, OutputFormat::Json)
            .await
            .unwrap_err()
            .to_string()
            .contains("nope.yaml")
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: events\nmetrics: [total]\n").unwrap();
    let e = run_query_file(store.as_ref(), PROJECT, &bad, None, None, OutputFormat::Json)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("metrics") && e.contains("total"), "{e}");
    let e = run_query_file(
        store.as_ref(),
        PROJECT,
        &yaml,
        Some("soonish"),
        None,
        OutputFormat::Json,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("soonish"), "{e}");
}

#[tokio::test]
async fn static_report_embeds_the_dashboard_data() {
    let (store, _) = store_with_data().await;
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/dashboards.yaml"
    ));
    let report = render_report_file(store.as_ref(), PROJECT, path, None, None)
        .await
        .unwrap();
    assert!(report.widget_errors.is_empty(), "{:?}", report.widget_errors);
    let html = &report.html;
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<title>Product overview · Footfall</title>"));
    // The embedded config holds the same data as report_data.
    let start = html
        .find("<script type=\"application/json\" id=\"ff-config\">")
        .unwrap();
    let rest = &html[start..];
    let json_text = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    let cfg: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(cfg["mode"], json!("static"));
    let yaml = std::fs::read_to_string(path).unwrap();
    let data = report_data(store.as_ref(), PROJECT, &yaml, None, None)
        .await
        .unwrap();
    let mut want = serde_json::to_value(&data).unwrap();
    let mut got = cfg["reports"].clone();
    // generated_at differs between the two runs.
    for v in [&mut want, &mut got] {
        for r in v.as_array_mut().unwrap() {
            r["generated_at"] = Value::Null;
        }
    }
    assert_eq!(got, want);
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "dashboards: [{name: X, widgets: [{type: pie}]}]").unwrap();
    let e = render_report_file(store.as_ref(), PROJECT, bad.path(), None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("pie") && e.contains("widgets[0]"), "{e}");
}
