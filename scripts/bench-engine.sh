#!/usr/bin/env bash
# Analytics-engine benchmark: our query layer on the embedded DuckDB store versus hand-written
# SQL on DuckDB (Python `duckdb`) and on ClickHouse (Python `chdb`: windowFunnel / retention),
# same data, same run. Prints medians and ratios (ours / peer; < 1 means we are faster).
#
#   scripts/bench-engine.sh            # 1,000,000 events
#   scripts/bench-engine.sh --10m      # 10,000,000 events
#   RUNS=7 scripts/bench-engine.sh     # timed rounds (default 5, after one warm-up round)
#
# Data: engine/src/generate/ (seed 42), stored in $BENCH_DIR/<N>/ (default
# $CARGO_TARGET_DIR/bench-engine, else target/bench-engine; reused by later runs). The peers read
# the same rows: Python duckdb a copy of our database file (DuckDB lets one process open a file
# that another one writes), chdb a Parquet export loaded into a MergeTree table ordered by
# (anonymous_id, ts). Every peer resolves persons at query time with the same identities join.
# (A Parquet export from before the paths query lacks `message_id`: delete $work/events.parquet
# and $work/chdb to rebuild them.)
#
# The machine is shared and its load varies by 2x within minutes, so the sides are interleaved:
# each round runs every query once on ours (a `bench_queries --serve` process kept open), then
# on the DuckDB peer, then on chdb; medians are over the rounds, and the load average is printed
# at the start and the end.
# Python packages go into a venv under target/ (needs PyPI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

events=1000000
[[ "${1:-}" == "--10m" ]] && events=10000000
runs="${RUNS:-5}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="${BENCH_DIR:-$target/bench-engine}/$events"
venv="$root/target/bench-venv"
mkdir -p "$work"

./scripts/setup-duckdb.sh
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import duckdb, chdb" 2>/dev/null ||
  "$venv/bin/pip" install -q duckdb chdb >/dev/null

echo "==> building and preparing our engine (embedded DuckDB store), $events events" >&2
# LTO off: the work happens in DuckDB's C++, a fat-LTO release build only costs minutes.
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  cargo build -q --release -p footfall-engine --example bench_queries
bin="$target/release/examples/bench_queries"
"$bin" --events "$events" --dir "$work/duckdb" --prepare
# The peer's copy (refreshed when ours is newer).
mkdir -p "$work/peer"
if [[ ! -f "$work/peer/footfall.duckdb" || "$work/duckdb/footfall.duckdb" -nt "$work/peer/footfall.duckdb" ]]; then
  cp "$work/duckdb/footfall.duckdb" "$work/peer/footfall.duckdb"
fi

echo "==> interleaved rounds: ours, DuckDB hand-written, ClickHouse (chdb)" >&2
"$venv/bin/python" - "$work" "$runs" "$bin" "$events" <<'PY'
import json, os, statistics, subprocess, sys, time
import duckdb, chdb
from chdb import session as chs

work, runs, binary, events = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
S = 1790812800000          # 2026-10-01T00:00:00Z
D = 86400000
E = S + 30 * D
W = 14 * D
load_start = os.getloadavg()

ours = subprocess.Popen([binary, "--serve", "--events", events, "--dir", os.path.join(work, "duckdb")],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ready = json.loads(ours.stdout.readline())
user = ready["busiest_user"]

def run_ours(name):
    ours.stdin.write(name + "\n"); ours.stdin.flush()
    r = json.loads(ours.stdout.readline())
    if "error" in r:
        sys.exit(f"{name}: {r['error']}")
    return r["ms"], r["answer"]

def timed(fn):
    t = time.perf_counter(); out = fn(); return (time.perf_counter() - t) * 1000, out

# ---- DuckDB, hand-written SQL over a copy of the same database file ----
con = duckdb.connect(os.path.join(work, "peer", "footfall.duckdb"), read_only=True)
EV = f"""(SELECT coalesce(e.user_id, i.user_id, e.anonymous_id) AS person, e.ts, e.event, e.properties, e.session_id, e.message_id
          FROM events e LEFT JOIN identities i ON i.project_id = e.project_id AND i.anonymous_id = e.anonymous_id
          WHERE e.project_id = 'bench' AND NOT e.is_bot AND e.ts >= {S} AND e.ts < {E})"""
duck = {
 "dau_trend_30d": f"SELECT ts // {D} AS d, count(DISTINCT person) FROM {EV} GROUP BY d ORDER BY d",
 "funnel_4_steps_14d": f"""WITH ev AS (SELECT person, ts,
      CASE WHEN event = 'page_view' AND json_extract_string(properties, '$.path') = '/pricing' THEN 1
           WHEN event = 'click' AND json_extract_string(properties, '$.element_id') = 'cta-signup' THEN 2
           WHEN event = 'sign_up' THEN 3 WHEN event = 'purchase' THEN 4 END AS step FROM {EV}),
    s1 AS (SELECT person, min(ts) AS t1 FROM ev WHERE step = 1 GROUP BY person),
    s2 AS (SELECT s1.person, t1, min(ev.ts) AS t2 FROM s1 JOIN ev ON ev.person = s1.person AND ev.step = 2 AND ev.ts > t1 AND ev.ts <= t1 + {W} GROUP BY ALL),
    s3 AS (SELECT s2.person, t1, min(ev.ts) AS t3 FROM s2 JOIN ev ON ev.person = s2.person AND ev.step = 3 AND ev.ts > t2 AND ev.ts <= t1 + {W} GROUP BY ALL),
    s4 AS (SELECT s3.person FROM s3 JOIN ev ON ev.person = s3.person AND ev.step = 4 AND ev.ts > t3 AND ev.ts <= t1 + {W} GROUP BY ALL)
    SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3), (SELECT count(*) FROM s4)""",
 "retention_weekly_5": f"""WITH ev AS (SELECT person, event, (ts // {D} + 3) // 7 AS w FROM {EV}),
    st AS (SELECT DISTINCT person, w FROM ev WHERE event = 'page_view'), act AS (SELECT DISTINCT person, w FROM ev)
    SELECT st.w, act.w - st.w AS k, count(*) FROM st JOIN act ON act.person = st.person AND act.w >= st.w AND act.w < st.w + 5
    GROUP BY ALL ORDER BY ALL""",
 "user_metrics": f"""SELECT count(*), count(DISTINCT ts // {D}), count(DISTINCT session_id), count(*) FILTER (event = 'page_view'),
    count(*) FILTER (event = 'click'), count(*) FILTER (event = 'purchase') FROM {EV} WHERE person = '{user}'""",
 "feature_adoption": f"""SELECT count(DISTINCT person) FILTER (event = 'feature_used' AND json_extract_string(properties, '$.feature_name') = 'export'),
    count(DISTINCT person), count(*) FILTER (event = 'feature_used' AND json_extract_string(properties, '$.feature_name') = 'export') FROM {EV}""",
 "paths_4_steps": f"""WITH ev AS (SELECT person, ts, message_id, (event = 'page_view')::INT AS s,
      coalesce(nullif(json_extract_string(properties, '$.path'), ''), event) AS node FROM {EV}),
    f AS (SELECT *, min(ts) FILTER (s = 1) OVER (PARTITION BY person) AS t0 FROM ev),
    k AS (SELECT *, lag(node) OVER (PARTITION BY person ORDER BY ts, 1 - s, message_id) AS prev FROM f WHERE ts >= t0),
    r AS (SELECT person, node, row_number() OVER (PARTITION BY person ORDER BY ts, 1 - s, message_id) AS rn FROM k
          WHERE prev IS NULL OR prev <> node)
    SELECT path, count(*) AS n FROM (SELECT person, list(node ORDER BY rn) AS path FROM r WHERE rn <= 4 GROUP BY person)
    GROUP BY path ORDER BY n DESC, path LIMIT 20""",
}

# ---- ClickHouse (chdb): windowFunnel / retention ----
pq_e, pq_i = os.path.join(work, "events.parquet"), os.path.join(work, "identities.parquet")
if not os.path.exists(pq_e):
    con.execute(f"COPY (SELECT anonymous_id, user_id, event, ts, session_id, properties, is_bot, message_id FROM events WHERE project_id = 'bench') TO '{pq_e}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT anonymous_id, user_id FROM identities WHERE project_id = 'bench') TO '{pq_i}' (FORMAT parquet)")
sess = chs.Session(os.path.join(work, "chdb"))
sess.query("CREATE DATABASE IF NOT EXISTS b")
if sess.query("EXISTS TABLE b.events", "CSV").bytes().strip() != b"1":
    sess.query(f"CREATE TABLE b.events ENGINE = MergeTree ORDER BY (anonymous_id, ts) AS SELECT ifNull(anonymous_id, '') AS anonymous_id, user_id, event, ts, session_id, properties, toUInt8(is_bot) AS is_bot, message_id FROM file('{pq_e}', Parquet)")
    sess.query(f"CREATE TABLE b.identities ENGINE = MergeTree ORDER BY anonymous_id AS SELECT anonymous_id, user_id FROM file('{pq_i}', Parquet)")
CEV = f"""(SELECT coalesce(e.user_id, nullIf(i.user_id, ''), e.anonymous_id) AS person, e.ts AS ts, e.event AS event, e.properties AS properties, e.session_id AS session_id,
                 e.message_id AS message_id
          FROM b.events AS e LEFT ANY JOIN b.identities AS i ON i.anonymous_id = e.anonymous_id
          WHERE e.is_bot = 0 AND e.ts >= {S} AND e.ts < {E})"""
weeks = [(S // D + 3) // 7 + k for k in range(5)]
ch = {
 "dau_trend_30d": f"SELECT intDiv(ts, {D}) AS d, uniqExact(person) FROM {CEV} GROUP BY d ORDER BY d",
 "funnel_4_steps_14d": f"""SELECT level, count() FROM (SELECT person, windowFunnel({W})(toUInt64(ts),
      event = 'page_view' AND JSONExtractString(properties, 'path') = '/pricing',
      event = 'click' AND JSONExtractString(properties, 'element_id') = 'cta-signup',
      event = 'sign_up', event = 'purchase') AS level FROM {CEV} GROUP BY person) GROUP BY level ORDER BY level""",
 "retention_weekly_5": f"""SELECT c, sumForEach(r) FROM (SELECT person, c, retention(w = c AND event = 'page_view', w = c + 1, w = c + 2, w = c + 3, w = c + 4) AS r
      FROM (SELECT person, event, intDiv(intDiv(ts, {D}) + 3, 7) AS w FROM {CEV}) ARRAY JOIN {weeks} AS c GROUP BY person, c) GROUP BY c ORDER BY c""",
 "user_metrics": f"""SELECT count(), uniqExact(intDiv(ts, {D})), uniqExact(session_id), countIf(event = 'page_view'), countIf(event = 'click'),
      countIf(event = 'purchase') FROM {CEV} WHERE person = '{user}'""",
 "feature_adoption": f"""SELECT uniqExactIf(person, event = 'feature_used' AND JSONExtractString(properties, 'feature_name') = 'export'), uniqExact(person),
      countIf(event = 'feature_used' AND JSONExtractString(properties, 'feature_name') = 'export') FROM {CEV}""",
 "paths_4_steps": f"""SELECT p, count() AS n FROM (
      SELECT arraySlice(arrayFilter((x, y, j) -> j = 1 OR x != y, t, arrayPushFront(arrayPopBack(t), ''), arrayEnumerate(t)), 1, 4) AS p FROM (
        SELECT arraySlice(arrayMap(x -> x.4, a), i) AS t FROM (
          SELECT arraySort(groupArray((ts, 1 - s, message_id, node))) AS a, arrayFirstIndex(x -> x.2 = 0, a) AS i FROM (
            SELECT person, ts, message_id, toUInt8(event = 'page_view') AS s,
                   if(JSONExtractString(properties, 'path') = '', event, JSONExtractString(properties, 'path')) AS node FROM {CEV})
          GROUP BY person HAVING i > 0)))
      GROUP BY p ORDER BY n DESC, p LIMIT 20""",
}

names = list(duck)
times = {side: {k: [] for k in names} for side in ("ours", "duck", "ch")}
answers = {}
for rnd in range(runs + 1):          # round 0 warms every side up and is not counted
    for k in names:
        ms_o, answers[k] = run_ours(k)
        ms_d, _ = timed(lambda: con.execute(duck[k]).fetchall())
        ms_c, _ = timed(lambda: sess.query(ch[k], "CSV").bytes())
        if rnd > 0:
            times["ours"][k].append(ms_o); times["duck"][k].append(ms_d); times["ch"][k].append(ms_c)
ours.stdin.close(); ours.wait()
fun = sess.query(ch["funnel_4_steps_14d"], "CSV").bytes().decode().strip()
load_end = os.getloadavg()
med = {side: {k: statistics.median(v) for k, v in t.items()} for side, t in times.items()}
json.dump({"events": int(events), "runs": runs, "busiest_user": user, "median_ms": med["ours"],
           "peer_median_ms": {"duckdb": med["duck"], "chdb": med["ch"]}, "answers": answers,
           "load_average": {"start": load_start, "end": load_end}},
          open(os.path.join(work, "ours.json"), "w"), indent=2)

print(f"\nAnalytics engine benchmark: {int(events):,} events, median of {runs} interleaved rounds (ms); ratio = ours / peer")
print(f"load average (1/5/15 min): start {load_start[0]:.1f}/{load_start[1]:.1f}/{load_start[2]:.1f}, end {load_end[0]:.1f}/{load_end[1]:.1f}/{load_end[2]:.1f}\n")
print(f"| query | ours (DuckDB store) | DuckDB hand-written | ratio | ClickHouse (chdb) | ratio |")
print(f"|---|---:|---:|---:|---:|---:|")
for k in names:
    o, d, c = med["ours"][k], med["duck"][k], med["ch"][k]
    print(f"| {k} | {o:.1f} | {d:.1f} | {o / d:.2f} | {c:.1f} | {o / c:.2f} |")
steps = [s["persons"] for s in answers["funnel_4_steps_14d"]["steps"]]
print(f"\nfunnel persons per step (ours): {steps}; windowFunnel level histogram (level,persons): {fun.splitlines()}")
top = [(p["steps"], p["persons"]) for p in answers["paths_4_steps"]["paths"][:3]]
print(f"top paths (ours): {top}; DuckDB peer: {con.execute(duck['paths_4_steps']).fetchall()[:3]}")
PY
