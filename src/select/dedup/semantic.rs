//! `--dedup semantic`: SemDeDup over the embeddings pass 1 keeps with
//! `--embed` (`semantic_duplicates`).

use odis_udfs::dedup::semantic_duplicates::SemDedupSpec;

use std::sync::Arc;

use crate::select::dedup::mode::DedupMode;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Semantic(pub SemDedupSpec);

pub(super) fn make(spec: &str) -> Result<Arc<dyn DedupMode>, String> {
    Ok(Arc::new(Semantic(SemDedupSpec::parse(spec)?)))
}

impl DedupMode for Semantic {
    fn name(&self) -> &'static str {
        "semantic"
    }

    fn finder(&self, table: &str) -> String {
        format!("semantic_duplicates('{table}', 'odis_id', 'odis_embedding', '{}')", self.0)
    }

    fn needs_embeddings(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("semantic ({})", self.0)
    }
}
