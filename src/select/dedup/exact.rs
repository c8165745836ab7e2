//! `--dedup exact`: the same text but for case, spacing and Unicode
//! composition (equal `text_fingerprint`s).

use crate::select::dedup::mode::DedupMode;

#[derive(Debug, Clone, Copy, Default)]
pub struct Exact;

impl DedupMode for Exact {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn key(&self, text: &str) -> Option<String> {
        Some(format!("text_fingerprint({text})"))
    }

    fn finder(&self, table: &str) -> String {
        format!("near_duplicates('{table}', 'odis_id', 'odis_dedup', 'exact')")
    }
}
