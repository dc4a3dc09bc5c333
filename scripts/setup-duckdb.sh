#!/usr/bin/env bash
# Fetch the prebuilt libduckdb.so (DuckDB 1.5.6) that the engine links against, into .duckdb/lib.
# It ships inside the npm package @duckdb/node-bindings-linux-x64, which the npm registry serves
# here; compiling DuckDB's C++ (`--features footfall-engine/bundled`) takes 30+ minutes on 2 cores.
# .cargo/config.toml points DUCKDB_LIB_DIR at .duckdb/lib; engine/build.rs and collector/build.rs
# bake that directory into the binaries' rpath, so nothing needs LD_LIBRARY_PATH at run time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="@duckdb/node-bindings-linux-x64@1.5.6-r.1"
dest="$root/.duckdb/lib"
if [[ -f "$dest/libduckdb.so" ]]; then exit 0; fi
case "$(uname -m)" in
  x86_64) ;;
  *) echo "setup-duckdb: only linux-x64 is scripted; build with --features footfall-engine/bundled" >&2; exit 1 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$dest"
cp "$tmp/package/libduckdb.so" "$dest/libduckdb.so"
echo "setup-duckdb: libduckdb.so (DuckDB 1.5.6) in $dest"
