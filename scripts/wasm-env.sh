#!/usr/bin/env bash
# Prints how to build for wasm32-unknown-unknown on this machine, as shell assignments to eval:
#   eval "$(scripts/wasm-env.sh)"; $WASM_CARGO build $WASM_BUILD_FLAGS -p footfall-wasm ...
# Uses the rustup target when it is installed; otherwise Debian's rustc-web toolchain in /usr/bin
# (apt-get install rustc-web cargo-web rust-web-src lld) building std from source with
# -Zbuild-std, because `rustup target add` cannot download here. The fallback uses its own
# target dir (target/wasm-debian) so it never mixes artifacts with the rustup toolchain.
# FOOTFALL_WASM_TARGET_DIR overrides the target dir (engineers building at the same time).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "export WASM_TOOLCHAIN=rustup"
  echo "export WASM_CARGO=cargo"
  echo "export WASM_BUILD_FLAGS='--target wasm32-unknown-unknown'"
  echo "export WASM_TARGET_DIR='${FOOTFALL_WASM_TARGET_DIR:-$root/target}'"
elif [[ -x /usr/bin/cargo && -x /usr/bin/rustc && -d /usr/lib/rustlib/src/rust/library ]] && command -v wasm-ld >/dev/null 2>&1; then
  echo "export WASM_TOOLCHAIN=debian"
  echo "export WASM_CARGO='env PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld CARGO_TARGET_DIR=${FOOTFALL_WASM_TARGET_DIR:-$root/target/wasm-debian} /usr/bin/cargo'"
  echo "export WASM_BUILD_FLAGS='--target wasm32-unknown-unknown -Zbuild-std=std,panic_abort'"
  echo "export WASM_TARGET_DIR='${FOOTFALL_WASM_TARGET_DIR:-$root/target/wasm-debian}'"
else
  echo "wasm-env: no wasm32 toolchain. Install one: apt-get install rustc-web cargo-web rust-web-src lld" >&2
  exit 1
fi
