//! Scoring progress of one statement, for a caller to show while it runs.
//!
//! The engine puts a fresh [`ScoreProgress`] into each statement's config;
//! `odis_score` finds it there and counts the rows it scores. Two statements
//! running at once count apart. One relaxed atomic add per scored chunk:
//! cheap enough to leave on.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};

#[derive(Debug)]
struct Counters {
    scored: AtomicU64,
    /// Rows the statement will score, when known (else u64::MAX).
    expected: AtomicU64,
}

/// The scoring counters of one statement; clones share them.
#[derive(Debug, Clone)]
pub struct ScoreProgress(Arc<Counters>);

impl Default for ScoreProgress {
    fn default() -> Self {
        ScoreProgress(Arc::new(Counters { scored: AtomicU64::new(0), expected: AtomicU64::new(u64::MAX) }))
    }
}

impl ScoreProgress {
    /// The counters of the statement whose config this is, if it has any.
    pub fn of(config: &ConfigOptions) -> Option<&ScoreProgress> {
        config.extensions.get::<ScoreProgress>()
    }

    /// The statement will score `rows` rows, if known.
    pub fn set_expected(&self, rows: Option<u64>) {
        self.0.expected.store(rows.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Rows the statement will score, when known.
    pub fn expected_rows(&self) -> Option<u64> {
        Some(self.0.expected.load(Ordering::Relaxed)).filter(|&n| n != u64::MAX)
    }

    /// Counts rows scored by odis_score.
    pub fn add_scored(&self, rows: u64) {
        self.0.scored.fetch_add(rows, Ordering::Relaxed);
    }

    /// Rows scored by the statement so far.
    pub fn rows_scored(&self) -> u64 {
        self.0.scored.load(Ordering::Relaxed)
    }
}

impl ConfigExtension for ScoreProgress {
    const PREFIX: &'static str = "odis_progress";
}

/// Counters, not settings: nothing to set or list (and nothing travels to a
/// cluster's executors, whose rows are counted there).
impl ExtensionOptions for ScoreProgress {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, _value: &str) -> Result<()> {
        Err(DataFusionError::Configuration(format!("{}.{key}: scoring progress has no settings", Self::PREFIX)))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_count_apart() {
        let (a, b) = (ScoreProgress::default(), ScoreProgress::default());
        let mut config = ConfigOptions::new();
        config.extensions.insert(a.clone());
        ScoreProgress::of(&config).unwrap().add_scored(5);
        b.add_scored(1);
        assert_eq!((a.rows_scored(), b.rows_scored()), (5, 1));
        assert_eq!(a.expected_rows(), None);
        a.set_expected(Some(9));
        assert_eq!(ScoreProgress::of(&config).unwrap().expected_rows(), Some(9));
    }
}
