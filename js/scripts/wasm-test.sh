#!/usr/bin/env bash
# Runs the bindings crate's wasm-bindgen-test suites (bindings/wasm/tests) compiled to wasm32:
# once in Node and once in headless Chromium (Debian's chromium via /usr/bin/chromedriver, options
# in bindings/wasm/webdriver.json). Usage: js/scripts/wasm-test.sh [node|browser] (default both).
set -euo pipefail
js="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$js/.." && pwd)"
"$root/scripts/install-wasm-bindgen.sh"
export PATH="$HOME/.cargo/bin:$PATH"
eval "$("$root/scripts/wasm-env.sh")"
# Absolute path: the Debian toolchain command resets PATH.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$(command -v wasm-bindgen-test-runner)"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"
cd "$root/bindings/wasm"   # webdriver.json is read from the working directory
modes=("${@:-node browser}")
for mode in ${modes[*]}; do
  case "$mode" in
    node)
      echo "wasm-test: bindings/wasm tests in Node ($WASM_TOOLCHAIN toolchain)"
      $WASM_CARGO test -p footfall-wasm $WASM_BUILD_FLAGS
      ;;
    browser)
      echo "wasm-test: bindings/wasm tests in headless Chromium"
      CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" WASM_BINDGEN_USE_BROWSER=1 \
        $WASM_CARGO test -p footfall-wasm $WASM_BUILD_FLAGS
      ;;
    *) echo "wasm-test: unknown mode $mode (node|browser)" >&2; exit 2 ;;
  esac
done
