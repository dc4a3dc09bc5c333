//! Developer tool for query performance work: runs SQL files against a DuckDB database file with
//! the linked libduckdb (the engine's DuckDB version, not Python's), read-only.
//!
//! ```sh
//! perf_sql DB.duckdb 5 a.sql b.sql+c.sql   # wall and CPU ms (min, median of 5 runs); `+` joins files run in sequence
//! perf_sql DB.duckdb explain a.sql         # the plan
//! perf_sql DB.duckdb analyze a.sql         # EXPLAIN ANALYZE
//! perf_sql DB.duckdb profile a.sql         # JSON profile (per operator times) into /tmp/prof.json
//! perf_sql DB.duckdb exec a.sql            # executes the files read-write (e.g. to build test tables)
//! ```
//!
//! The engine's SQL is logged by `tracing` at debug level (target `footfall::query`).
use std::time::Instant;
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let db = &args[1];
    let mode = &args[2];
    if mode == "exec" {
        let conn = duckdb::Connection::open(db).unwrap();
        for f in &args[3..] {
            let t = Instant::now();
            conn.execute_batch(&std::fs::read_to_string(f).unwrap()).unwrap();
            println!("{f}: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
        return;
    }
    let conn = duckdb::Connection::open_with_flags(
        db,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap();
    for f in &args[3..] {
        let sqls: Vec<String> = f
            .split('+')
            .map(|x| {
                std::fs::read_to_string(x)
                    .unwrap()
                    .trim()
                    .trim_end_matches(';')
                    .to_string()
            })
            .collect();
        let sql = sqls[0].as_str();
        if mode == "profile" {
            conn.execute_batch("PRAGMA enable_profiling='json'; PRAGMA profiling_output='/tmp/prof.json';")
                .unwrap();
            let mut st = conn.prepare(sql).unwrap();
            let mut rows = st.query([]).unwrap();
            while rows.next().unwrap().is_some() {}
            continue;
        }
        if mode == "explain" || mode == "analyze" {
            let q = if mode == "explain" {
                format!("EXPLAIN {sql}")
            } else {
                format!("EXPLAIN ANALYZE {sql}")
            };
            let mut st = conn.prepare(&q).unwrap();
            let mut rows = st.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let s: String = r.get(1).unwrap();
                println!("{s}");
            }
        } else {
            let n: usize = mode.parse().unwrap_or(3);
            let mut ts = Vec::new();
            let mut cs = Vec::new();
            let mut first = String::new();
            for _ in 0..n {
                let t = Instant::now();
                let c = cpu_ms();
                for sql in &sqls {
                    let mut st = conn.prepare(sql).unwrap();
                    let mut rows = st.query([]).unwrap();
                    let mut k = 0;
                    while let Some(r) = rows.next().unwrap() {
                        if k < 3 && first.len() < 200 {
                            first.push_str(&format!("{:?} ", r.get::<_, duckdb::types::Value>(0).unwrap()));
                        }
                        k += 1;
                    }
                }
                ts.push(t.elapsed().as_secs_f64() * 1000.0);
                cs.push(cpu_ms() - c);
            }
            ts.sort_by(f64::total_cmp);
            cs.sort_by(f64::total_cmp);
            let f = f.rsplit('/').next().unwrap_or(f);
            println!(
                "{f:40} wall min {:6.0} med {:6.0}  cpu min {:6.0} med {:6.0} ms  {}",
                ts[0],
                ts[ts.len() / 2],
                cs[0],
                cs[cs.len() / 2],
                &first[..first.len().min(60)]
            );
        }
    }
}
