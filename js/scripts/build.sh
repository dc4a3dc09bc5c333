#!/usr/bin/env bash
# Builds the npm package into js/dist (also `npm run build`):
#   1. the bindings crate (bindings/wasm) for wasm32-unknown-unknown with the `wasm-release` profile
#      (opt-level z, LTO, panic=abort), using the toolchain scripts/wasm-env.sh picks (rustup target
#      when installed, else Debian's rustc-web with -Zbuild-std);
#   2. wasm-bindgen --target web, with the CLI version that matches Cargo.lock;
#   3. wasm-opt -Oz and a few size passes (binaryen 132 from the npm devDependency `binaryen`,
#      else Debian's binaryen 108), with the same wasm features rustc was told to emit;
#   4. esbuild bundles the TypeScript wrapper + glue as ESM (dist/footfall.js), as a classic
#      <script> build (dist/footfall.global.js, global `Footfall`), and for Node as ESM
#      (dist/footfall.node.js) and CommonJS (dist/footfall.cjs, for `require`); tsc emits the
#      .d.ts files.
# The .wasm ships in dist/ next to the JS and is loaded relative to it (no CDN).
set -euo pipefail
js="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$js/.." && pwd)"
cd "$js"

# Wasm features, given once to rustc and to wasm-opt so both agree. reference-types and
# multivalue are turned off: Debian's binaryen 108 (the fallback below) corrupts wasm-bindgen's
# externref table (it rewrites it as `anyref`), and without them wasm-bindgen keeps JS values in
# a JS-side heap, which works everywhere (with binaryen 132, reference-types work but cost
# 126 bytes gz: the glue's externref table setup, and no JS heap left to save). The rest is
# supported by every browser with WebAssembly bulk memory (Chrome 75, Firefox 79, Safari 15).
rust_features="+bulk-memory,+nontrapping-fptoint,+sign-ext,+mutable-globals,-multivalue,-reference-types"
opt_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --disable-multivalue --disable-reference-types)

"$root/scripts/install-wasm-bindgen.sh"
export PATH="$HOME/.cargo/bin:$PATH"
[[ -d node_modules ]] || npm ci --no-audit --no-fund

eval "$("$root/scripts/wasm-env.sh")"
echo "build: footfall-wasm for wasm32 ($WASM_TOOLCHAIN toolchain)"
# LLVM's inliner at cost threshold 8 instead of opt-level z's 5: a few more small helpers inlined
# lets LLVM drop their argument shuffling and bounds checks. Measured on the gzipped .wasm with
# the Debian toolchain's settings below (every function cross-crate inlinable): 6-10 all give the
# same module, −32 bytes against 5; 11-15 +1 934 (a step, not a slope), 25 +3 863. (Without
# cross-crate inlining, as with a rustup toolchain, 8-10 and 11-15 are 11 bytes apart.)
rustflags="-C target-feature=$rust_features -C llvm-args=-inline-threshold=8"
size_flags=()
if [[ "$WASM_TOOLCHAIN" == debian ]]; then
  # std is built from source here anyway: also drop panic messages and locations, make `{:?}`
  # print nothing, and pick std's size-optimized code paths (sorting, ...).
  rustflags+=" -Zlocation-detail=none -Zfmt-debug=none"
  # Every function's MIR is available to the crates that call it (as if each were `#[inline]`),
  # so each crate's optimizer sees std's and our other crate's functions where they are used,
  # before LTO (measured on the gzipped .wasm: −842 bytes against rustc's default, which does
  # this only for small leaf functions, with the inline threshold at 12; −2 776 at 8, see
  # above; `never` +231).
  rustflags+=" -Zcross-crate-inline-threshold=always"
  size_flags=(-Zbuild-std-features=panic_immediate_abort,optimize_for_size)
  # std's crates are optimized on their own before LTO optimizes everything at opt-level z:
  # `core` at opt-level 2 gives a smaller module after LTO and wasm-opt (measured on the gzipped
  # .wasm against all at z, with the two settings above: −25 bytes; before them −177, where 3
  # gave −170, 1 −30, "s" −25, `alloc` at "s" −16 more and at 2 +2 079, every dependency at 2
  # +2 274, footfall at "s" +2 493, footfall-wasm at "s" +1 593).
  size_flags+=(--config 'profile.wasm-release.package.core.opt-level=2')
fi
# The profile strips symbols; keep the target_features section for wasm-bindgen (wasm-opt strips
# everything afterwards).
(cd "$root" && CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$rustflags" \
  CARGO_PROFILE_WASM_RELEASE_STRIP=false \
  $WASM_CARGO build -p footfall-wasm --lib --profile wasm-release $WASM_BUILD_FLAGS "${size_flags[@]}")
raw="$WASM_TARGET_DIR/wasm32-unknown-unknown/wasm-release/footfall_wasm.wasm"

rm -rf pkg dist
mkdir -p pkg dist
# --encode-into always: every browser with WebAssembly bulk memory has TextEncoder#encodeInto,
# so the glue's fallback encoder is left out; --omit-default-module-path: src/index.ts always
# passes the .wasm URL, so the glue's own default is dead code.
wasm-bindgen --target web --encode-into always --omit-default-module-path --out-dir pkg --out-name footfall "$raw"
# Glue code this package never runs (the old `initSync` convention, compiling bytes in `initSync`,
# strings passed without `realloc`, `FootfallHost#free`) is cut: scripts/trim-glue.mjs.
node scripts/trim-glue.mjs pkg/footfall.js
# Passes chosen by measuring the gzipped result (what a page downloads), not the raw size:
# - flatten + rereloop before -Oz restructure the control flow LLVM emitted so -Oz finds more to
#   merge and gzip more repeats; simplify-locals-nonesting between them (binaryen 132: −41 bytes
#   gz) sinks the flat IR's single-use locals without un-flattening it;
# - --one-caller-inline-max-function-size=20: -Oz would inline every function that has one
#   caller, whatever its size; kept out of line, the bodies stay similar to each other (gzip -9
#   -2.5 % though the raw file grows). Re-checked with binaryen 132 and LLVM's threshold 12:
#   10 +73 bytes gz, 15 +38, 25 +29, 30 +15, 35 +44, 50 +164;
# - --low-memory-unused: constant offsets fold into loads and stores (`x + C` → `offset=C`); the
#   two differ only when `x + C` wraps around 4 GiB into the low 1 KiB, which Rust code never
#   does (the memory is a few MiB).
# - --converge: repeat the passes while the module still shrinks.
# - --minify-imports-and-exports-and-modules (binaryen 132 only: 108 prints the names in another
#   form): the module's imports and exports get one-letter names (`__wbg_env_8d516e74de313cb7`,
#   `__wbindgen_add_to_stack_pointer`, "./footfall_bg.js", ... are in the .wasm and the glue, and
#   hashes do not compress: −265 bytes gz of wasm, −149 of JS); wasm-opt prints the new names
#   (pkg/names.json), scripts/rename-glue.mjs gives them to the glue and fails the build on a
#   glue it cannot rename completely. With the fallback the names stay as wasm-bindgen made them.
# binaryen 132 (npm devDependency, wasm-opt compiled to JS) optimizes better than Debian's 108
# (−269 bytes gz on the same input, with --converge); Debian's stays as the fallback when
# node_modules lacks it (the line below says which one ran).
wasm_opt=(node node_modules/binaryen/bin/wasm-opt)
minify=(--minify-imports-and-exports-and-modules)
[[ -f node_modules/binaryen/bin/wasm-opt ]] || { wasm_opt=(wasm-opt); minify=(); }
echo "build: $("${wasm_opt[@]}" --version)"
"${wasm_opt[@]}" --flatten --simplify-locals-nonesting --rereloop -Oz -Oz --converge --low-memory-unused \
  --one-caller-inline-max-function-size=20 \
  "${opt_features[@]}" --strip-debug --strip-producers --strip-target-features "${minify[@]}" \
  pkg/footfall_bg.wasm -o dist/footfall_bg.wasm >pkg/names.json
if [[ ${#minify[@]} -gt 0 ]]; then
  node scripts/rename-glue.mjs pkg/footfall.js pkg/names.json dist/footfall_bg.wasm
fi

esbuild=node_modules/.bin/esbuild
# --mangle-props: one- or two-letter names for the properties only our own code uses (the
# driver's private members in src/host.ts, the wrapper's private helpers in src/index.ts, the
# glue's `__wbg_ptr`/`__wrap`): minified code keeps property names (−130 bytes gz). A name goes in
# this list only when nothing outside the bundle reads it and no object literal, JSON or DOM
# property of the same name exists in the bundle: not `url`, `on`, `get`, `flush`, `reset`,
# `destroy`, `unregister` (public methods or DOM/JSON names) — esbuild renames every property of
# a listed name, wherever it appears.
private_props='^(timerAt|inFlight|commitQueued|waiters|stopped|calls|known|keyQuery|adoptSoon|fetchSettings|timer|prefix|drain|hide|pump|settle|after|watch|listen|off|send|run|typed|queue|unlock|letGo|__wbg_ptr|__wrap)$'
common=(--bundle --minify --target=es2020 --legal-comments=none --log-level=warning "--mangle-props=$private_props")
browser=("${common[@]}" --define:NODE=false)
"$esbuild" src/index.ts "${browser[@]}" --format=esm --outfile=dist/footfall.js
# (import.meta is unused there: global.ts passes the .wasm URL from document.currentScript)
"$esbuild" src/global.ts "${browser[@]}" --format=iife --log-override:empty-import-meta=silent \
  --outfile=dist/footfall.global.js
# The builds Node loads (`NODE`: a DOM there is an emulator, jsdom or happy-dom, in unit tests):
# ESM for `import` (the `node` export condition: SSR, Vitest) and CommonJS for `require` (CommonJS
# servers, Jest, Node without require(esm)). import.meta is unused in CommonJS: cjs.ts sets the
# .wasm URL. cjs-globals.ts: Jest's jsdom has no TextDecoder/TextEncoder, which the glue creates
# at load.
"$esbuild" src/index.ts "${common[@]}" --define:NODE=true --format=esm --outfile=dist/footfall.node.js
"$esbuild" src/cjs.ts "${common[@]}" --define:NODE=true --format=cjs --platform=neutral \
  --log-override:empty-import-meta=silent --inject:src/cjs-globals.ts --outfile=dist/footfall.cjs
node_modules/.bin/tsc -p tsconfig.json
rm -f dist/host.d.ts # internal (the driver behind `Footfall`): no public types
# The same types for `require` (TypeScript's node16/nodenext resolution reads the .d.ts of this
# "type": "module" package as ESM, which a CommonJS file may not import): .d.cts copies.
for f in index types; do sed "s#'./types.js'#'./types.cjs'#g" "dist/$f.d.ts" >"dist/$f.d.cts"; done

printf 'build: dist/ ready: %s\n' "$(cd dist && ls | tr '\n' ' ')"
