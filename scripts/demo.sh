#!/usr/bin/env bash
# The main job: the collector (`footfall serve --demo`) with the embedded DuckDB store, a demo
# project seeded with two months of realistic events, the example dashboards, the privacy settings
# page and the browser example page (served at /example/, sending to the same collector).
#
#   ./scripts/demo.sh                      # http://127.0.0.1:8080
#   FOOTFALL_LISTEN=0.0.0.0:9000 ./scripts/demo.sh
#   ./scripts/demo.sh --admin-token s3cret # extra flags go to `footfall serve`
#
# Data lives in target/demo-data (FOOTFALL_DEMO_DATA to change); seeding is skipped when the demo
# project already has events. Ctrl-C stops the server gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./js/scripts/build.sh >/dev/null   # the browser SDK the example page loads
data="${FOOTFALL_DEMO_DATA:-$PWD/target/demo-data}"
cargo build -p footfall-collector --bin footfall
exec "${CARGO_TARGET_DIR:-target}/debug/footfall" serve --demo --data "$data" --listen "${FOOTFALL_LISTEN:-127.0.0.1:8080}" \
  --example-dir examples/browser --example-dir js/dist "$@"
