#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (idempotent; quick when everything is there).
# Debian packages: PostgreSQL 15, ClickHouse 18.16, Chromium, the rustc-web wasm toolchain (and its clippy),
# lld (wasm-ld) and binaryen (wasm-opt). Plus the prebuilt libduckdb, wasm-bindgen-cli and the
# npm dev dependencies of js/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

apt_pkgs=(postgresql clickhouse-server clickhouse-client chromium chromium-driver rustc-web cargo-web rust-web-src rust-web-clippy lld binaryen)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -q "${missing[@]}" >/tmp/footfall-apt.log 2>&1 || {
    $sudo_cmd apt-get update -q >/dev/null 2>&1
    $sudo_cmd apt-get install -y -q "${missing[@]}" >/tmp/footfall-apt.log 2>&1 || { tail -30 /tmp/footfall-apt.log; exit 1; }
  }
fi

"$root/scripts/setup-duckdb.sh"

# Browser SDK: wasm-bindgen-cli at the Cargo.lock version, and js/'s npm dev dependencies
# (playwright-core drives the Debian chromium above; no browser download).
"$root/scripts/install-wasm-bindgen.sh"
if [[ ! -d "$root/js/node_modules" || "$root/js/package-lock.json" -nt "$root/js/node_modules/.package-lock.json" ]]; then
  (cd "$root/js" && npm ci --no-audit --no-fund --loglevel=error)
fi

# Dashboard browser test rig (engine/tests/ui): playwright-core drives the Debian chromium above.
if [[ ! -d "$root/engine/tests/ui/node_modules" || "$root/engine/tests/ui/package-lock.json" -nt "$root/engine/tests/ui/node_modules/.package-lock.json" ]]; then
  (cd "$root/engine/tests/ui" && npm ci --no-audit --no-fund --loglevel=error)
fi

# Privacy settings page browser test rig (collector/tests/ui): the same playwright-core.
if [[ ! -d "$root/collector/tests/ui/node_modules" || "$root/collector/tests/ui/package-lock.json" -nt "$root/collector/tests/ui/node_modules/.package-lock.json" ]]; then
  (cd "$root/collector/tests/ui" && npm ci --no-audit --no-fund --loglevel=error)
fi
