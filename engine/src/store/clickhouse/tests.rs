use super::http::{ch_value, server_error};
use super::*;

#[test]
fn full_disk_and_cancelled_queries_are_unavailable_syntax_errors_are_not() {
    use reqwest::StatusCode;
    let unavailable = |status, text| matches!(server_error(status, text), StoreError::Unavailable(_));
    let e500 = StatusCode::INTERNAL_SERVER_ERROR;
    assert!(unavailable(
        e500,
        "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space"
    ));
    assert!(unavailable(e500, "Code: 394. DB::Exception: Query was cancelled"));
    assert!(unavailable(e500, "Code: 236. DB::Exception: Aborted"));
    assert!(unavailable(StatusCode::BAD_GATEWAY, "<html>proxy</html>"));
    assert!(!unavailable(e500, "Code: 62. DB::Exception: Syntax error"));
    assert!(!unavailable(
        StatusCode::BAD_REQUEST,
        "Code: 243. DB::Exception: ..."
    ));
}

#[test]
fn escapes_literals() {
    assert_eq!(lit(r"a'b\c"), r"'a\'b\\c'");
}

#[test]
fn normalizes_values_by_type() {
    assert_eq!(ch_value("UInt64", Value::from("42")), Value::from(42));
    assert_eq!(ch_value("Nullable(Int64)", Value::Null), Value::Null);
    assert_eq!(
        ch_value("Array(Int64)", serde_json::json!(["1", "2"])),
        serde_json::json!([1, 2])
    );
    assert_eq!(
        ch_value("Decimal(9, 2)", serde_json::json!(1.5)),
        serde_json::json!(1.5)
    );
    assert_eq!(
        ch_value("Decimal(18, 0)", serde_json::json!(7)),
        serde_json::json!(7)
    );
    assert_eq!(
        ch_value("Tuple(String, UInt8)", serde_json::json!(["a", 1])),
        serde_json::json!(["a", 1])
    );
    assert_eq!(ch_value("Float64", Value::from("nan")), Value::Null);
    assert_eq!(
        ch_value("Date", Value::from("2026-01-02")),
        Value::from("2026-01-02")
    );
}

#[test]
fn parses_locations() {
    let s = ClickHouseStore::connect("http://u:p%40ss@127.0.0.1:8123/analytics?max_threads=2").unwrap();
    assert_eq!(s.database(), "analytics");
    assert_eq!(
        s.location(),
        "http://u:***@127.0.0.1:8123/analytics?max_threads=2"
    );
    let q: Vec<(String, String)> = s.base.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    assert!(q.contains(&("password".into(), "p@ss".into())), "{q:?}");
    assert_eq!(
        ClickHouseStore::connect("http://h:8123").unwrap().database(),
        "default"
    );
    assert!(ClickHouseStore::connect("http://h:8123/bad-name").is_err());
}

/// `timeout` / `query_timeout` are ours: parsed, not sent to the server as settings.
#[test]
fn takes_the_timeouts_off_the_settings() {
    let s = ClickHouseStore::connect("http://h:8123/db?timeout=3&max_threads=2&query_timeout=60").unwrap();
    assert_eq!(
        s.timeouts,
        Timeouts {
            operation: Duration::from_secs(3),
            query: Duration::from_secs(60)
        }
    );
    let keys: Vec<String> = s.base.query_pairs().map(|(k, _)| k.into()).collect();
    assert_eq!(keys, ["max_threads"]);
    assert_eq!(
        ClickHouseStore::connect("http://h:8123").unwrap().timeouts,
        Timeouts::default()
    );
    for bad in ["timeout=0", "timeout=x", "query_timeout=-1"] {
        assert!(
            ClickHouseStore::connect(&format!("http://h:8123/db?{bad}")).is_err(),
            "{bad}"
        );
    }
}

/// A server that accepts connections and never answers (a hung ClickHouse): calls fail as
/// unavailable after the timeout instead of waiting forever.
#[tokio::test]
async fn a_server_that_never_answers_is_unavailable() {
    let (addr, hold) = crate::store::silent_server().await;
    let s = ClickHouseStore::connect(&format!("http://{addr}/db?timeout=1&query_timeout=1")).unwrap();
    assert!(matches!(s.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        s.query("SELECT 1").await,
        Err(StoreError::Unavailable(_))
    ));
    hold.abort();
}
