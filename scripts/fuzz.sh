#!/usr/bin/env bash
# Property tests of the untrusted-input entry points (tests/fuzz.rs) with
# many more cases than the test command runs: ODIS_FUZZ_CASES per property
# (default 20000). A failure is shrunk and saved in
# tests/fuzz.proptest-regressions: commit it, fix the bug, and it is replayed
# on every test run after.
set -euo pipefail
cd "$(dirname "$0")/.."
export ODIS_FUZZ_CASES="${ODIS_FUZZ_CASES:-20000}"
exec cargo test --locked --test fuzz -- --include-ignored "$@"
