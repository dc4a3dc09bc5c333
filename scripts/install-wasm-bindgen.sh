#!/usr/bin/env bash
# Installs wasm-bindgen-cli (wasm-bindgen, wasm-bindgen-test-runner) at exactly the version of the
# `wasm-bindgen` crate in Cargo.lock: the CLI refuses to process a .wasm produced by another version.
# Idempotent: does nothing when the right version is already on PATH. The CLI is built with the
# machine's default (rustup) toolchain, which is fine: only the .wasm must come from Rust 1.85.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"
if [[ -z "$version" ]]; then
  echo "install-wasm-bindgen: no wasm-bindgen entry in Cargo.lock" >&2
  exit 1
fi
export PATH="$HOME/.cargo/bin:$PATH"
if command -v wasm-bindgen >/dev/null 2>&1 && [[ "$(wasm-bindgen --version)" == "wasm-bindgen $version" ]] \
  && command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
  exit 0
fi
echo "install-wasm-bindgen: cargo install wasm-bindgen-cli --version $version"
# --locked first (the CLI's own lockfile); when a locked dependency is yanked or missing from the
# registry, fall back to a fresh resolution (only the CLI's build dependencies differ).
cargo install wasm-bindgen-cli --version "$version" --locked --force \
  || cargo install wasm-bindgen-cli --version "$version" --force
