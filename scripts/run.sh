#!/usr/bin/env bash
# The main job: set everything up, build odis, and run it on the bundled
# default corpus. Extra arguments go to `odis` (default: -f sql/demo.sql).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/odis/target}
echo "run: building odis (release; the first build takes a while)" >&2
cargo build --release --locked --bin odis
odis=$CARGO_TARGET_DIR/release/odis
if [ $# -eq 0 ]; then
    set -- -f sql/demo.sql
fi
exec "$odis" "$@"
