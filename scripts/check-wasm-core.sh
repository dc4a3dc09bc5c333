#!/usr/bin/env bash
# Proves the core SDK builds for wasm32-unknown-unknown with no default features.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/wasm-env.sh)"
echo "check-wasm-core: building footfall for wasm32 ($WASM_TOOLCHAIN toolchain)"
$WASM_CARGO build -p footfall --no-default-features --lib $WASM_BUILD_FLAGS
