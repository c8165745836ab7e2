//! `--dedup minhash`: MinHash LSH near duplicates (`near_duplicates`), at
//! FineWeb's settings unless `--dedup-spec` says otherwise. Pass 1 keeps
//! each document's signature at 8 bits a value, packed into bytes (32 bits
//! with `--dedup-spec datatrove`, datatrove's signatures and rules).

use odis_udfs::dedup::minhash::MinHashSpec;

use std::sync::Arc;

use crate::select::dedup::mode::DedupMode;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinHash(pub MinHashSpec);

/// Signatures are kept at 8 bits a value.
const BITS: &str = "bits=8";

impl Default for MinHash {
    fn default() -> Self {
        MinHash(MinHashSpec::parse(BITS).expect("a valid spec"))
    }
}

pub(super) fn make(spec: &str) -> Result<Arc<dyn DedupMode>, String> {
    // datatrove's signatures keep 32 bits a value.
    let given = MinHashSpec::parse(spec)?;
    Ok(Arc::new(MinHash(if given.datatrove { given } else { MinHashSpec::parse(&format!("{BITS},{spec}"))? })))
}

impl DedupMode for MinHash {
    fn name(&self) -> &'static str {
        "minhash"
    }

    /// The threshold stays out of the key: another threshold reuses pass 1.
    fn key(&self, text: &str) -> Option<String> {
        let m = &self.0;
        if m.datatrove {
            // Its spec names no threshold.
            return Some(format!("minhash_pack(text_minhash({text}, '{m}'))"));
        }
        Some(format!(
            "minhash_pack(text_minhash({text}, 'ngram={},bands={},rows={},seed={},bits={}'))",
            m.ngram, m.bands, m.rows, m.seed, m.bits
        ))
    }

    fn finder(&self, table: &str) -> String {
        format!("near_duplicates('{table}', 'odis_id', 'odis_dedup', '{}')", self.0)
    }

    fn describe(&self) -> String {
        format!("minhash ({})", self.0)
    }
}
