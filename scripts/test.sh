#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the core's wasm build, the Rust test suites
# (with PostgreSQL and ClickHouse started on loopback for the shared storage suite) and the
# browser SDK's tests in headless Chromium. `.ci/run` installs what this needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "install what the tests need (idempotent: Debian packages, libduckdb, wasm-bindgen-cli, npm deps)"
./scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "core builds for wasm32-unknown-unknown (no default features); clippy on the wasm32 build"
./scripts/check-wasm-core.sh

step "PostgreSQL and ClickHouse on loopback"
eval "$(./scripts/services.sh start)"
trap './scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
# Backend suites fail (instead of skipping) when a server is missing.
export FOOTFALL_REQUIRE_BACKENDS=1
# The dashboard UI test (headless Chromium) fails instead of skipping when its rig is missing.
export FOOTFALL_REQUIRE_BROWSER=1

step "Rust tests"
cargo test --workspace

step "browser SDK: build the npm package (wasm + wasm-bindgen + wasm-opt)"
./js/scripts/build.sh

step "browser SDK: wasm-bindgen tests, Chromium end-to-end, packed tarball, SSR"
cargo build -p footfall-collector --bin footfall
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export FOOTFALL_BIN="${target_dir%/}/debug/footfall"
(cd js && npm test)
