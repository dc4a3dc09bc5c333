//! The engine links against the prebuilt libduckdb (scripts/setup-duckdb.sh) and finds it at run
//! time through the rpath that engine/build.rs bakes in.
#[test]
fn duckdb_links_and_has_json_functions() {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let v: String = conn
        .query_row("SELECT json_extract_string('{\"a\":\"b\"}', '$.a')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, "b");
    let version: String = conn.query_row("PRAGMA version", [], |r| r.get(0)).unwrap();
    assert!(version.starts_with("v1.5"), "{version}");
}
