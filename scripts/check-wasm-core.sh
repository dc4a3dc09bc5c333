#!/usr/bin/env bash
# Proves the core SDK builds for wasm32-unknown-unknown with no default features, and lints
# what only compiles there: the browser host (bindings/wasm/src/web, behind
# cfg(target_arch = "wasm32")) and the core as the browser gets it, with clippy -D warnings.
# The Debian fallback toolchain lints with its own clippy (apt-get install rust-web-clippy,
# the same version as rustc-web), whose lints differ a little from the rustup toolchain's.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/wasm-env.sh)"
echo "check-wasm-core: building footfall for wasm32 ($WASM_TOOLCHAIN toolchain)"
$WASM_CARGO build -p footfall --no-default-features --lib $WASM_BUILD_FLAGS
echo "check-wasm-core: clippy on the wasm32 build (core + browser host, and the host's tests)"
$WASM_CARGO clippy -p footfall -p footfall-wasm --no-default-features --lib $WASM_BUILD_FLAGS -- -D warnings
$WASM_CARGO clippy -p footfall-wasm --tests $WASM_BUILD_FLAGS -- -D warnings
