#!/usr/bin/env bash
# Collector throughput benchmark: accepted events/s with durable acks and p50/p99 latency per
# storage backend, side by side with the same server on a no-op sink (the ceiling), in one run.
#
#   scripts/bench-collector.sh                 # noop, duckdb, and postgres/clickhouse when available
#   DURATION=30 BACKENDS="noop duckdb" scripts/bench-collector.sh
#   FOOTFALL_BIN=path/to/release/footfall scripts/bench-collector.sh   # skip the build
#   ROUNDS=3 BACKENDS="noop duckdb" scripts/bench-collector.sh          # interleaved rounds + medians
#
# Load: Debian's `wrk` (installed by this script when missing) on loopback, a Lua script that
# POSTs /v1/batch bodies of 100 realistic track messages with unique messageIds, 64 connections.
# PostgreSQL and ClickHouse: FOOTFALL_TEST_POSTGRES_URL / FOOTFALL_TEST_CLICKHOUSE_URL, else
# scripts/services.sh starts them (and stops them at the end). Prints a Markdown table for the
# "Collector" section of BENCHMARKS.md. Every run stops by itself (wrk -d).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
BATCH=100
BACKENDS="${BACKENDS:-noop duckdb postgres clickhouse}"
ROUNDS="${ROUNDS:-1}"
export RUST_LOG="${RUST_LOG:-warn}"

log() { printf 'bench: %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q wrk >/dev/null 2>&1 || {
    $sudo_cmd apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q wrk >/dev/null
  }
fi

./scripts/setup-duckdb.sh
if [[ -n "${FOOTFALL_BIN:-}" ]]; then
  bin="$FOOTFALL_BIN" # a prebuilt release binary
else
  log "building the collector (release)"
  cargo build --release -q -p footfall-collector --bin footfall
  bin="${CARGO_TARGET_DIR:-$root/target}/release/footfall"
fi

work="$(mktemp -d)"
started_services=""
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n "$started_services" ]] && ./scripts/services.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

run_id="$(date +%s)-$$"
cat >"$work/batch.lua" <<EOF
-- One /v1/batch body of $BATCH track messages per request, each with a unique messageId.
local counter = 0
local thread_id = 0
local run = "$run_id"
local ts = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
local ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
local template = '{"type":"track","messageId":"%s","anonymousId":"anon-%d","userId":"user-%d","event":"%s",'
  .. '"timestamp":"' .. ts .. '","sentAt":"' .. ts .. '",'
  .. '"properties":{"plan":"pro","amount":%d.5,"currency":"EUR","path":"/checkout/step-%d","items":[{"sku":"sku_%d","quantity":1}]},'
  .. '"context":{"library":{"name":"footfall-bench","version":"0.1.0"},"sessionId":"s-%d","locale":"en-US",'
  .. '"userAgent":"' .. ua .. '","consent":{"categoryPreferences":{"necessary":true,"analytics":true}}}}'
local events = {"page_view", "click", "feature_used", "purchase", "sign_in"}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic YmVuY2g6" -- "bench:"
end

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, $BATCH do
    local n = counter * $BATCH + i
    parts[i] = string.format(template, run .. "-" .. thread_id .. "-" .. n, n % 5000, n % 2000,
      events[(n % 5) + 1], n % 200, n % 7, n % 50, counter % 300)
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end
EOF

if [[ " $BACKENDS " == *" postgres "* || " $BACKENDS " == *" clickhouse "* ]] &&
  [[ -z "${FOOTFALL_TEST_POSTGRES_URL:-}" || -z "${FOOTFALL_TEST_CLICKHOUSE_URL:-}" ]]; then
  log "starting PostgreSQL and ClickHouse (scripts/services.sh)"
  eval "$(./scripts/services.sh start)"
  started_services=1
fi

location_for() {
  case "$1" in
    noop) echo noop ;;
    duckdb) echo "$work/duckdb-data-$round" ;;
    postgres) echo "$FOOTFALL_TEST_POSTGRES_URL" ;;
    clickhouse) echo "$FOOTFALL_TEST_CLICKHOUSE_URL" ;;
    *) log "unknown backend $1"; exit 1 ;;
  esac
}

metric() { # metric NAME URL -> value
  curl -s "$2/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

cpu_ticks() { # user + system CPU of process $1, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

results=()
declare -A rates=() ratios=()
for round in $(seq 1 "$ROUNDS"); do
noop_rate=""
for backend in $BACKENDS; do
  location="$(location_for "$backend")"
  "$bin" serve --listen 127.0.0.1:0 --store "$location" --write-key bench --admin-token bench-admin \
    >"$work/$backend.out" 2>"$work/$backend.err" &
  server_pid=$!
  for _ in $(seq 1 600); do
    grep -q "listening on" "$work/$backend.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$backend.err" >&2; exit 1; }
    sleep 0.1
  done
  url="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/$backend.out" | head -1)"
  log "$backend: $url, ${DURATION}s, $CONNECTIONS connections, batches of $BATCH"
  before="$(metric footfall_messages_accepted_total "$url")"
  cpu_before="$(cpu_ticks "$server_pid")"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s --latency -s "$work/batch.lua" "$url" >"$work/$backend.wrk"
  after="$(metric footfall_messages_accepted_total "$url")"
  # The embedded store acknowledges after its intake log's fsync and loads DuckDB behind it:
  # wait until the log is empty, so the CPU column includes that deferred work too.
  drain="-"
  if [[ "$backend" == duckdb ]]; then
    t0="$(date +%s.%N)"
    for _ in $(seq 1 600); do
      compgen -G "$location/intake/*.log" >/dev/null || break
      sleep 0.1
    done
    drain="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
  fi
  cpu_after="$(cpu_ticks "$server_pid")"
  rejected="$(curl -s "$url/metrics" | awk '/^footfall_requests_rejected_total/ { s += $2 } END { print s + 0 }')"
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  p50="$(awk '$1 == "50%" { print $2 }' "$work/$backend.wrk")"
  p99="$(awk '$1 == "99%" { print $2 }' "$work/$backend.wrk")"
  non2xx="$(awk '/Non-2xx/ { print $NF }' "$work/$backend.wrk")"
  rate="$(awk -v a="$after" -v b="$before" -v d="$DURATION" 'BEGIN { printf "%.0f", (a - b) / d }')"
  # Collector CPU (all threads, the store's included) per accepted event: less sensitive than
  # events/s to what else runs on the machine.
  cpu_us="$(awk -v c="$((cpu_after - cpu_before))" -v t="$(getconf CLK_TCK)" -v a="$after" -v b="$before" \
    'BEGIN { if (a > b) printf "%.1f", c / t * 1e6 / (a - b); else print "-" }')"
  [[ "$backend" == noop ]] && noop_rate="$rate"
  ratio="-"
  [[ -n "$noop_rate" && "$noop_rate" != 0 ]] && ratio="$(awk -v r="$rate" -v n="$noop_rate" 'BEGIN { printf "%.0f%%", 100 * r / n }')"
  rates[$backend]+="$rate "
  [[ "$ratio" != "-" ]] && ratios[$backend]+="${ratio%\%} "
  label="$backend"; [[ "$ROUNDS" -gt 1 ]] && label="$backend (round $round)"
  results+=("| $label | $rate | $p50 | $p99 | $ratio | $cpu_us | $drain | ${non2xx:-0} non-2xx, $rejected refused/shed |")
  log "$backend: $rate events/s, p50 $p50, p99 $p99, collector CPU $cpu_us µs/event, backlog loaded $drain after the run"
done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo
echo "Collector, $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on loopback, batches of $BATCH track messages, durable acks:"
echo
echo "| sink | accepted events/s | p50 latency | p99 latency | vs no-op ceiling | collector CPU µs/event | store backlog loaded after the run | errors |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
if [[ "$ROUNDS" -gt 1 ]]; then
  echo
  echo "Medians over $ROUNDS rounds (each round: every sink once, in order; ratio = the sink / the round's no-op):"
  echo
  for backend in $BACKENDS; do
    r="$(echo "${ratios[$backend]:-}" | median)"
    echo "- $backend: $(echo "${rates[$backend]}" | median) events/s${r:+, $r % of the no-op ceiling}"
  done
fi
