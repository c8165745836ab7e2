#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, sqllogictest files,
# CLI and S3 integration tests (against a local S3 server the tests start),
# doc tests; and checks that the benchmarks build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
# Build outputs live outside the clone so that repeated runs reuse them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/odis/target}
cargo test --workspace --locked "$@"
cargo test --workspace --locked --benches --no-run
