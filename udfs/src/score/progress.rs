//! Scoring progress, for the CLI to show while a query runs.
//!
//! One relaxed atomic add per scored chunk: cheap enough to leave on.

use std::sync::atomic::{AtomicU64, Ordering};

static ROWS_SCORED: AtomicU64 = AtomicU64::new(0);
/// Rows the running statement will score, when known (else u64::MAX).
static EXPECTED: AtomicU64 = AtomicU64::new(u64::MAX);

/// A statement starts; it will score `rows` rows, if known.
pub fn start_statement(rows: Option<u64>) {
    EXPECTED.store(rows.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Rows the running statement will score, when known.
pub fn expected_rows() -> Option<u64> {
    Some(EXPECTED.load(Ordering::Relaxed)).filter(|&n| n != u64::MAX)
}

/// Counts rows scored by odis_score.
pub fn add_scored(rows: u64) {
    ROWS_SCORED.fetch_add(rows, Ordering::Relaxed);
}

/// Rows scored by odis_score in this process so far.
pub fn rows_scored() -> u64 {
    ROWS_SCORED.load(Ordering::Relaxed)
}
