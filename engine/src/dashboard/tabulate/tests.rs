use super::*;
use serde_json::json;

#[test]
fn funnel_breakdowns_read_across_their_steps() {
    let step = |name: &str, persons: u64| json!({"name": name, "persons": persons, "step": 1});
    let funnel = json!({"kind": "funnel", "conversion_rate": 0.1, "steps": [step("view", 30), step("buy", 3)],
        "breakdown": [{"value": "Chrome", "conversion_rate": 0.1, "steps": [step("view", 20), step("buy", 2)]},
                      {"value": "Safari", "conversion_rate": 0.1, "steps": [step("view", 10), step("buy", 1)]}]});
    let t = to_table(&funnel);
    assert_eq!(t.columns, ["value", "conversion_rate", "view", "buy"]);
    assert_eq!(t.rows[1], vec![json!("Safari"), json!(0.1), json!(10), json!(1)]);
}

#[test]
fn paths_read_across_a_column_per_step() {
    let t = to_table(&json!({"kind": "paths", "persons": 9, "paths": [
        {"steps": ["/", "click", "sign_up"], "persons": 5},
        {"steps": ["/docs"], "persons": 4},
    ]}));
    assert_eq!(t.columns, ["persons", "steps 1", "steps 2", "steps 3"]);
    assert_eq!(
        t.rows,
        vec![
            vec![json!(5), json!("/"), json!("click"), json!("sign_up")],
            vec![json!(4), json!("/docs"), Value::Null, Value::Null],
        ]
    );
    assert_eq!(
        t.notes,
        vec![
            ("kind".to_string(), json!("paths")),
            ("persons".to_string(), json!(9))
        ]
    );
    // A list of texts in only some rows stays a cell.
    let t = to_table(&json!([{"tags": ["a"]}, {"tags": 1}]));
    assert_eq!(t.columns, ["tags"]);
}

#[test]
fn time_series_are_a_row_per_bucket() {
    let trends = json!({"kind": "trends", "interval": "day", "buckets": ["2026-11-01", "2026-11-02"],
        "series": [{"breakdown": "click", "total": 5, "values": [2, 3]},
                   {"breakdown": null, "total": 1, "values": [1, 0]}]});
    let t = to_table(&trends);
    assert_eq!(t.columns, ["bucket", "click", "series 2"]);
    assert_eq!(
        t.rows,
        vec![
            vec![json!("2026-11-01"), json!(2), json!(1)],
            vec![json!("2026-11-02"), json!(3), json!(0)],
            vec![json!("total"), json!(5), json!(1)],
        ]
    );
    assert!(t.notes.contains(&("interval".to_string(), json!("day"))));
    assert_eq!(
        t.to_csv(),
        "bucket,click,series 2\r\n2026-11-01,2,1\r\n2026-11-02,3,0\r\ntotal,5,1\r\n"
    );
    let one = json!({"buckets": ["w1"], "series": [{"breakdown": null, "total": 4, "values": [4]}]});
    assert_eq!(to_table(&one).columns, ["bucket", "value"]);
    let lifecycle = json!({"kind": "lifecycle", "buckets": ["a", "b"], "new": [1, 2], "dormant": [-3, -4]});
    let t = to_table(&lifecycle);
    assert_eq!(t.columns, ["bucket", "dormant", "new"]);
    assert_eq!(t.rows[1], vec![json!("b"), json!(-4), json!(2)]);
    assert_eq!(t.rows.len(), 2, "no totals row without totals");
}

#[test]
fn shapes() {
    let t = to_table(&json!({"columns": ["event", "count"], "rows": [["a", 2], ["b,c", 1]]}));
    assert_eq!(t.to_csv(), "event,count\r\na,2\r\n\"b,c\",1\r\n");
    let t = to_table(
        &json!({"steps": [{"name": "a", "persons": 3}, {"name": "b", "persons": 1}], "overall": 0.5}),
    );
    assert_eq!(t.columns, ["name", "persons"]);
    assert_eq!(t.notes, vec![("overall".to_string(), json!(0.5))]);
    let text = t.to_text();
    assert!(
        text.starts_with("name  persons\n----  -------\na           3\n"),
        "{text}"
    );
    assert!(text.ends_with("overall: 0.5\n"));
    let t = to_table(&json!({"a": {"b": 1}, "c": "x"}));
    assert_eq!(
        t.rows,
        vec![vec![json!("a.b"), json!(1)], vec![json!("c"), json!("x")]]
    );
    assert_eq!(to_table(&json!(7)).rows, vec![vec![json!(7)]]);
}

#[test]
fn csv_neutralizes_formulas_and_keeps_numbers() {
    let t = to_table(&json!({
        "columns": ["=HYPERLINK(\"http://x\")", "n"],
        "rows": [
            ["=cmd|' /C calc'!A0", -3.5],
            ["+1+1", 2],
            ["-2+3", -7],
            ["@SUM(A1)", 0],
            ["\tx", 1],
            ["\r=1", 1],
            ["-3.5", 1],
            ["+42", 1],
            ["-1e-3", 1],
            ["-inf", 1],
            ["plain", 1],
            ["a=b", 1],
            [null, true],
        ],
    }));
    let csv = t.to_csv();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "\"'=HYPERLINK(\"\"http://x\"\")\",n");
    assert_eq!(lines[1], "'=cmd|' /C calc'!A0,-3.5");
    assert_eq!(lines[2], "'+1+1,2");
    assert_eq!(lines[3], "'-2+3,-7");
    assert_eq!(lines[4], "'@SUM(A1),0");
    assert_eq!(lines[5], "'\tx,1");
    assert!(
        csv.contains("\r\n\"'\r=1\",1\r\n"),
        "CR cell quoted and neutralized: {csv:?}"
    );
    for kept in ["-3.5,1", "+42,1", "-1e-3,1", "plain,1", "a=b,1", ",true"] {
        assert!(lines.contains(&kept), "{kept} in {csv:?}");
    }
    assert!(lines.contains(&"'-inf,1"), "not a plain number: {csv:?}");
    // The text table (for terminals) and JSON keep the data as it is, but for control characters.
    assert!(t.to_text().contains("=cmd|' /C calc'!A0"));
}

#[test]
fn text_tables_escape_terminal_control_characters() {
    let t = to_table(&json!([{"event": "x\u{1b}]0;owned\u{7}\u{1b}[2J", "count": 1}]));
    let text = t.to_text();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("x\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{text}");
    let notes = to_table(&json!({"steps": [{"name": "a"}], "note\u{9b}": "v\u{1b}"})).to_text();
    assert!(notes.contains("note\\u{9b}: v\\u{1b}"), "{notes}");
}
