#!/usr/bin/env bash
# The main job: set everything up, build odis, and select 10% of the bundled
# default corpus along 4 orthogonal components (out/selected.parquet and
# out/report.html). Extra arguments go to `odis` instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/odis/target}
echo "run: building odis (release; the first build takes a while)" >&2
cargo build --release --locked --bin odis
odis=$CARGO_TARGET_DIR/release/odis
if [ $# -eq 0 ]; then
    mkdir -p out
    set -- select --input sql/data/corpus.parquet --text-column text --budget 10% --components 4 \
        --out out/selected.parquet
fi
exec "$odis" "$@"
