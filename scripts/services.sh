#!/usr/bin/env bash
# Starts PostgreSQL 15 and ClickHouse 18.16 (Debian's packages, installed by scripts/install-deps.sh)
# on 127.0.0.1 for the storage tests, with all data under $repo/.services (gitignored).
#
#   scripts/services.sh start   # start both (idempotent) and print `export ...` lines
#   scripts/services.sh env     # print the `export ...` lines of the running services
#   scripts/services.sh stop    # stop both and delete .services/
#   scripts/services.sh status  # say what runs
#   FOOTFALL_SERVICES_DIR=DIR scripts/services.sh instance ACTION SERVICE
#                               # a PRIVATE instance in DIR for outage tests (see `instance`)
#
# Usage: eval "$(scripts/services.sh start)"   → FOOTFALL_TEST_POSTGRES_URL, FOOTFALL_TEST_CLICKHOUSE_URL
#
# Ports are picked free at first start (PostgreSQL from 15432, ClickHouse HTTP from 18123 and TCP
# from 19000 upwards) and kept in .services/ports. PostgreSQL refuses to run as root: when run as
# root, the server runs as the `postgres` system user (created by the Debian package). ClickHouse
# runs as the calling user. Authentication is `trust` for PostgreSQL (user footfall) and the
# passwordless `default` user for ClickHouse, both on loopback only: these are test services.
# Everything diagnostic goes to stderr; stdout carries only the export lines.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${FOOTFALL_SERVICES_DIR:-$root/.services}"
pg_dir="$dir/postgres"
# See start_postgres: a link to /tmp when postgres cannot traverse the checkout's parents.
[[ -L "$pg_dir" ]] && pg_dir="$(readlink "$pg_dir")"
ch_dir="$dir/clickhouse"
ports_file="$dir/ports"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pg_bin() {
  local b
  for b in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x "$b/pg_ctl" ]] && { echo "$b"; return; }
  done
  die "PostgreSQL not found (run scripts/install-deps.sh)"
}

ch_bin() {
  local b
  for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse; do
    [[ -x "$b" ]] && { echo "$b"; return; }
  done
  die "clickhouse-server not found (run scripts/install-deps.sh)"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p=$1
  while port_in_use "$p" || grep -qw "$p" "$ports_file.tmp" 2>/dev/null; do p=$((p + 1)); done
  echo "$p" >>"$ports_file.tmp"
  echo "$p"
}

# Runs a command as the PostgreSQL server user (postgres when we are root, else ourselves).
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(head -1 "$1")" 2>/dev/null; }

load_ports() {
  [[ -f "$ports_file" ]] || return 1
  # shellcheck disable=SC1090
  source "$ports_file"
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }
ch_ready() { [[ "$(curl_get "http://127.0.0.1:$CH_HTTP_PORT/ping")" == Ok* ]]; }

# curl may be missing on minimal machines; bash's /dev/tcp is enough for a GET.
curl_get() {
  if command -v curl >/dev/null; then
    curl -s --max-time 2 "$1" || true
  else
    local hostport="${1#http://}" path
    path="/${hostport#*/}"
    hostport="${hostport%%/*}"
    (
      exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || exit 0
      printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
      timeout 2 cat <&3 | tail -1
    ) 2>/dev/null || true
  fi
}

wait_for() {
  local what=$1 check=$2 log_file=$3 i
  for i in $(seq 1 120); do
    $check && return 0
    sleep 0.25
  done
  log "$what did not become ready; last log lines ($log_file):"
  tail -30 "$log_file" >&2 || true
  return 1
}

start_postgres() {
  local bin
  bin="$(pg_bin)"
  if pid_alive "$pg_dir/data/postmaster.pid" && pg_ready; then
    return 0
  fi
  mkdir -p "$pg_dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$pg_dir"
    if ! runuser -u postgres -- test -w "$pg_dir"; then
      # A parent of the checkout is not traversable by postgres (e.g. under /root): keep the
      # cluster in /tmp and point .services/postgres at it.
      local real
      real="$(mktemp -d /tmp/footfall-postgres.XXXXXX)"
      chown postgres: "$real"
      rm -rf "$pg_dir"
      ln -s "$real" "$pg_dir"
      log "postgres cannot reach $dir; its data lives in $real (linked from $pg_dir)"
      pg_dir="$real"
    fi
  fi
  if [[ ! -f "$pg_dir/data/PG_VERSION" ]]; then
    as_pg "$bin/initdb" -D "$pg_dir/data" -U footfall --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$pg_dir/initdb.log" 2>&1 || { tail -20 "$pg_dir/initdb.log" >&2; die "initdb failed"; }
  fi
  mkdir -p "$pg_dir/run"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$pg_dir/run"
  # Many parallel tests each open a pool: allow plenty of connections.
  as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $pg_dir/run -c max_connections=400 -c shared_buffers=128MB" \
    >/dev/null || { tail -30 "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start"; }
  wait_for PostgreSQL pg_ready "$pg_dir/postgres.log"
  if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U footfall -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'footfall'" | grep -q 1; then
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U footfall footfall
  fi
  log "PostgreSQL on 127.0.0.1:$PG_PORT (data $pg_dir/data)"
}

write_clickhouse_config() {
  mkdir -p "$ch_dir/data" "$ch_dir/tmp" "$ch_dir/user_files" "$ch_dir/format_schemas" "$ch_dir/log"
  cat >"$ch_dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/services.sh: a loopback-only test server with its data under .services. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$ch_dir/log/clickhouse-server.log</log>
        <errorlog>$ch_dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>200</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$ch_dir/data/</path>
    <tmp_path>$ch_dir/tmp/</tmp_path>
    <user_files_path>$ch_dir/user_files/</user_files_path>
    <format_schema_path>$ch_dir/format_schemas/</format_schema_path>
    <users_config>$ch_dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
  cat >"$ch_dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start_clickhouse() {
  local bin
  bin="$(ch_bin)"
  if pid_alive "$ch_dir/clickhouse.pid" && ch_ready; then
    return 0
  fi
  write_clickhouse_config
  # setsid: the server must not die with the calling shell (tests run after this script returns).
  setsid "$bin" --config-file="$ch_dir/config.xml" >"$ch_dir/log/stdout.log" 2>&1 </dev/null &
  echo $! >"$ch_dir/clickhouse.pid"
  wait_for ClickHouse ch_ready "$ch_dir/log/clickhouse-server.err.log" || {
    tail -20 "$ch_dir/log/stdout.log" >&2 || true
    stop_pid_file "$ch_dir/clickhouse.pid" ClickHouse
    die "ClickHouse did not start"
  }
  # The server writes its own pid into data/status (the authoritative one if setsid forked).
  sed -n 's/^PID: //p' "$ch_dir/data/status" >"$ch_dir/clickhouse.pid"
  log "ClickHouse $(curl_get "http://127.0.0.1:$CH_HTTP_PORT/?query=SELECT%20version()") on 127.0.0.1:$CH_HTTP_PORT (data $ch_dir/data)"
}

print_env() {
  echo "export FOOTFALL_TEST_POSTGRES_URL=postgres://footfall@127.0.0.1:$PG_PORT/footfall"
  echo "export FOOTFALL_TEST_CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT/default"
}

# Loads the ports of $dir, or picks free ones from $1 (PostgreSQL), $2 (ClickHouse HTTP) and
# $3 (ClickHouse TCP) upwards and keeps them there.
pick_ports() {
  mkdir -p "$dir"
  if ! load_ports; then
    rm -f "$ports_file.tmp"
    PG_PORT=$(free_port "$1")
    CH_HTTP_PORT=$(free_port "$2")
    CH_TCP_PORT=$(free_port "$3")
    rm -f "$ports_file.tmp"
    printf 'PG_PORT=%s\nCH_HTTP_PORT=%s\nCH_TCP_PORT=%s\n' "$PG_PORT" "$CH_HTTP_PORT" "$CH_TCP_PORT" >"$ports_file"
  fi
}

start() {
  pick_ports 15432 18123 19000
  start_postgres
  start_clickhouse
  print_env
}

stop_pid_file() {
  local file=$1 name=$2 pid i
  pid_alive "$file" || return 0
  pid="$(head -1 "$file")"
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }
    sleep 0.25
  done
  log "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      stop_pid_file "$pg_dir/data/postmaster.pid" PostgreSQL
    log "PostgreSQL stopped"
  fi
  stop_pid_file "$ch_dir/clickhouse.pid" ClickHouse
  [[ -L "$dir/postgres" ]] && rm -rf "$pg_dir"
  rm -rf "$dir"
}

status() {
  load_ports || { echo "not started"; return 0; }
  if pid_alive "$pg_dir/data/postmaster.pid" && pg_ready; then echo "postgres: running on $PG_PORT"; else echo "postgres: down"; fi
  if pid_alive "$ch_dir/clickhouse.pid" && ch_ready; then echo "clickhouse: running on $CH_HTTP_PORT"; else echo "clickhouse: down"; fi
}

# Processes of the server: its main process and that process's children (PostgreSQL's backends).
server_pids() {
  local pid=$1 f rest
  echo "$pid"
  for f in /proc/[0-9]*/stat; do
    rest="$(cat "$f" 2>/dev/null)" || continue
    rest="${rest##*) }" # after the command name, which may hold spaces: "S PPID ..."
    rest="${rest#* }"
    [[ "${rest%% *}" == "$pid" ]] && { f="${f#/proc/}"; echo "${f%/stat}"; }
  done
  return 0
}

main_pid() {
  case "$1" in
    postgres) [[ -f "$pg_dir/data/postmaster.pid" ]] && head -1 "$pg_dir/data/postmaster.pid" ;;
    clickhouse) [[ -f "$ch_dir/clickhouse.pid" ]] && head -1 "$ch_dir/clickhouse.pid" ;;
  esac
}

# A private PostgreSQL or ClickHouse in $FOOTFALL_SERVICES_DIR that a test starts, stops, kills,
# pauses and resumes while a collector uses it (collector/tests/db_outage.rs):
#
#   FOOTFALL_SERVICES_DIR=DIR scripts/services.sh instance ACTION postgres|clickhouse
#
#   check   exit 0 when the server's binaries are installed (nothing else)
#   start   start it (first time: create it, pick free ports; later: same ports and data);
#           prints its URL on stdout
#   stop    graceful stop, data kept (PostgreSQL: pg_ctl -m fast; ClickHouse: SIGTERM, SIGKILL
#           after 15 s — 18.16 does not finish its shutdown while clients keep sending)
#   kill    SIGKILL of the main process (postmaster / clickhouse-server); PostgreSQL's orphaned
#           backends are waited for (they exit on postmaster death), so that `start` recovers
#   pause   SIGSTOP of the server and its children: connections stay open, nothing answers
#   resume  SIGCONT of the same
# Remove everything with `FOOTFALL_SERVICES_DIR=DIR scripts/services.sh stop`.
instance() {
  local action=${1:-} service=${2:-} pid pids i
  [[ -n "${FOOTFALL_SERVICES_DIR:-}" ]] || die "instance: set FOOTFALL_SERVICES_DIR to a private directory"
  case "$service" in
    postgres) [[ "$action" == check ]] && { (pg_bin) >/dev/null 2>&1; return; } ;;
    clickhouse) [[ "$action" == check ]] && { (ch_bin) >/dev/null 2>&1; return; } ;;
    *) die "instance: unknown service '$service' (postgres or clickhouse)" ;;
  esac
  case "$action" in
    start)
      # Other ranges than the shared services', so the two never race for a port; from a
      # random point of each range, so that two test runs on one machine (each stopping and
      # restarting its instances) do not take over each other's freed ports.
      local offset=$((RANDOM % 1900))
      pick_ports $((25000 + offset)) $((27000 + offset)) $((29000 + offset))
      if [[ $service == postgres ]]; then
        start_postgres
        print_env | sed -n 's/^export FOOTFALL_TEST_POSTGRES_URL=//p'
      else
        start_clickhouse
        print_env | sed -n 's/^export FOOTFALL_TEST_CLICKHOUSE_URL=//p'
      fi
      ;;
    stop)
      if [[ $service == postgres ]]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop >/dev/null
      else
        stop_pid_file "$ch_dir/clickhouse.pid" ClickHouse
      fi
      ;;
    kill)
      pid="$(main_pid "$service")" || die "instance: $service is not running"
      kill -9 "$pid"
      for i in $(seq 1 80); do
        pids="$(server_pids "$pid" | tail -n +2)"
        [[ -z "$pids" ]] && ! kill -0 "$pid" 2>/dev/null && return 0
        sleep 0.25
      done
      log "instance: children of $pid still alive after 20 s; killing them"
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null || true
      ;;
    pause | resume)
      pid="$(main_pid "$service")" || die "instance: $service is not running"
      # shellcheck disable=SC2046
      kill "-$([[ $action == pause ]] && echo STOP || echo CONT)" $(server_pids "$pid")
      ;;
    *) die "instance: unknown action '$action' (check|start|stop|kill|pause|resume)" ;;
  esac
}

case "${1:-}" in
  start) start ;;
  instance)
    shift
    instance "$@"
    ;;
  stop) stop ;;
  env)
    load_ports || die "not started (run: scripts/services.sh start)"
    print_env
    ;;
  status) status ;;
  *) die "usage: $0 start|stop|env|status|instance ACTION SERVICE" ;;
esac
