//! `--dedup none`: every document is kept.

use crate::select::dedup::mode::DedupMode;

#[derive(Debug, Clone, Copy, Default)]
pub struct NoDedup;

impl DedupMode for NoDedup {
    fn name(&self) -> &'static str {
        "none"
    }

    /// Over a key that is NULL everywhere, exact dedup finds no duplicate.
    fn finder(&self, table: &str) -> String {
        format!("near_duplicates('{table}', 'odis_id', 'odis_dedup', 'exact')")
    }
}
