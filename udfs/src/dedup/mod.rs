//! Redundancy, before selection: exact duplicates (`text_fingerprint`) and
//! near duplicates (MinHash signatures, `text_minhash`). Copies of a
//! document get (nearly) its ratings, so without this the top of a
//! component repeats one document.

use datafusion::logical_expr::DocSection;

pub mod minhash;
pub mod text_fingerprint;
pub mod text_minhash;

pub(crate) const DEDUP_SECTION: DocSection = DocSection {
    include: true,
    label: "Deduplication Functions",
    description: Some("Exact and near-duplicate detection of texts, before any selection."),
};
