//! `--annotations DIR`: every input document's fate, one row each, for the
//! team that tunes a budget or mixes sources and needs more than the
//! selected rows: the filter's verdict, the duplicate it was removed for,
//! its raw ratings and components, its size, and whether and where it was
//! selected.
//!
//! The rows come from the work directory's tables (pass 1's shards, the
//! duplicates, the projection, the selection), joined on the id: no text
//! is read again. One Parquet file per input shard (`part-NNNNN.parquet`,
//! the shard's number), rows in id order; the directory is written under a
//! staging name and replaces an earlier one only when every file is
//! written. docs/annotations.md documents the schema.

use crate::engine::Engine;
use crate::error::{OdisError, Result};
use crate::output::StagedOutput;
use crate::script_vars::escape_string as quote;
use crate::select::work_dir::WorkDir;

/// The columns of an annotation file, from pass 1's shard `r` and the work
/// tables `duplicates` (d), `projected` (p) and `selected` (s).
const COLUMNS: &str = "r.odis_id AS id, \
     r.odis_rule IS NULL AS passed_filter, \
     r.odis_rule AS filter_rule, \
     d.odis_duplicate_of AS duplicate_of, \
     d.odis_similarity AS duplicate_similarity, \
     r.odis_raw AS ratings, \
     p.odis_pc AS components, \
     r.odis_tokens AS tokens, \
     r.odis_bytes AS bytes, \
     s.odis_id IS NOT NULL AS selected, \
     s.odis_dim, \
     s.odis_rank, \
     s.odis_score";

/// Writes the annotations of every shard of `work` into `dir` (a local
/// directory or an object store prefix); returns the rows written.
pub(crate) async fn write_annotations(engine: &Engine, work: &WorkDir, dir: &str) -> Result<u64> {
    let target = format!("{}/", dir.trim_end_matches('/'));
    let staged = StagedOutput::new(&engine.context().state(), &target, false, true)?
        .ok_or_else(|| OdisError::Internal(format!("the annotations directory '{target}' was not staged")))?;
    let staging = staged.staging_location().trim_end_matches('/').to_string();
    let mut rows = 0;
    for shard in 0..work.shards() {
        let name = format!("part-{shard:05}.parquet");
        let from = quote(&work.shards_dir().join(&name).display().to_string());
        let to = quote(&format!("{staging}/{name}"));
        let batches = engine
            .sql(&format!(
                "COPY (SELECT {COLUMNS} FROM '{from}' r \
                 LEFT JOIN duplicates d ON d.odis_id = r.odis_id \
                 LEFT JOIN projected p ON p.odis_id = r.odis_id \
                 LEFT JOIN selected s ON s.odis_id = r.odis_id \
                 ORDER BY r.odis_id) TO '{to}' STORED AS PARQUET OPTIONS ('format.max_row_group_size' '65536')"
            ))
            .await?;
        rows += crate::select::query::first_count(&batches)?;
    }
    staged.commit().await?;
    Ok(rows)
}
