//! What `odis select` reports, gathered from the statements' results and
//! the work tables.

use std::path::Path;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use odis_udfs::select::selection::{DimensionCost, DimensionReport};

use crate::engine::Engine;
use crate::error::{OdisError, Result};
use crate::script_vars::{escape_ident as ident, escape_string as quote};
use crate::select::options::{Progress, ScoreSource, SelectOptions};
use crate::select::publish::written;
use crate::select::query::{f64s, first_count, i64s, i64s_or_null, rows, text_at};

/// A document shown as an example of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub dim: i32,
    pub rank: i64,
    pub id: String,
    pub score: f64,
    pub text: String,
}

/// Documents the quality filter removed under one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterRemoval {
    pub rule: String,
    pub documents: u64,
    /// The start of one removed document (the one with the smallest id).
    pub example: String,
}

/// Vendi scores of the selection and of a uniform sample of the same size
/// of the documents that passed the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Diversity {
    pub selection: f64,
    pub random: f64,
}

/// Two texts dedup found to be copies.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicatePair {
    pub id: String,
    pub duplicate_of: String,
    /// Estimated Jaccard similarity of their shingle sets (1 for exact).
    pub similarity: f64,
    /// The start of the removed text, and of the one kept.
    pub text: String,
    pub original: String,
}

/// What dedup removed from the documents that passed the filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DedupRemoval {
    pub removed: u64,
    pub clusters: u64,
    /// Documents in the largest cluster (the one kept included).
    pub largest: u64,
    /// The pairs least alike, side by side: what the threshold lets through.
    pub pairs: Vec<DuplicatePair>,
}

/// How much text one component (or group) selected.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSize {
    pub dim: i32,
    pub rows: u64,
    /// NULL when pass 1 counted no tokens.
    pub tokens: Option<u64>,
    pub bytes: u64,
}

/// The selection's size, in rows, tokens and bytes, against the budget.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectionSize {
    pub components: Vec<ComponentSize>,
    /// How tokens were counted (`None`: not counted).
    pub tokenizer: Option<String>,
    /// Tokens and bytes of the documents that passed the filter and dedup:
    /// what any budget is spent from.
    pub available_tokens: Option<u64>,
    pub available_bytes: u64,
}

impl SelectionSize {
    pub fn tokens(&self) -> Option<u64> {
        self.components.iter().map(|c| c.tokens).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.components.iter().map(|c| c.bytes).sum()
    }
}

/// Everything `odis select` reports.
#[derive(Debug, Clone)]
pub struct SelectReport {
    pub rows_in: u64,
    /// Documents that passed the quality filter.
    pub rows_kept: u64,
    /// What the filter removed, most documents first.
    pub removed: Vec<FilterRemoval>,
    /// What dedup removed of the documents that passed the filter.
    pub dedup: DedupRemoval,
    pub rows_out: u64,
    /// Names of the raw dimensions (signal names, or dim0, dim1, ...).
    pub dimension_names: Vec<String>,
    pub explained_variance_ratio: Vec<f64>,
    /// components × dimensions.
    pub loadings: Vec<Vec<f64>>,
    pub dimensions: Vec<DimensionReport>,
    /// The first few documents of each component.
    pub examples: Vec<Example>,
    /// A sample of documents on the first two components: (pc1, pc2, the
    /// component that selected it, if any).
    pub scatter: Vec<(f64, f64, Option<i32>)>,
    /// (stage, wall time), in order.
    pub stages: Vec<(&'static str, Duration)>,
    pub total: Duration,
    pub diversity: Option<Diversity>,
    /// Rows, tokens and bytes per component.
    pub size: SelectionSize,
}

/// Rows in the selected-ids work file.
/// The dedup report's rows (sql/select.sql's `dedup_report`): counts on
/// every row, one row per example pair; none when nothing was removed.
fn dedup_removal(batches: &[RecordBatch]) -> Result<DedupRemoval> {
    let mut out = DedupRemoval::default();
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        let (removed, clusters, largest) = (i64s(batch.column(0))?, i64s(batch.column(1))?, i64s(batch.column(2))?);
        (out.removed, out.clusters, out.largest) = (removed[0] as u64, clusters[0] as u64, largest[0] as u64);
        let similarity = f64s(batch.column(5))?;
        for r in 0..batch.num_rows() {
            out.pairs.push(DuplicatePair {
                id: text_at(batch.column(3), r),
                duplicate_of: text_at(batch.column(4), r),
                similarity: similarity[r].unwrap_or(f64::NAN),
                text: text_at(batch.column(6), r),
                original: text_at(batch.column(7), r),
            });
        }
    }
    Ok(out)
}

/// The rows selected, and the mean UTF-8 bytes of text of one (0 for none).
pub(crate) async fn selected_size(engine: &Engine) -> Result<(u64, u64)> {
    let batches = rows(engine, "SELECT count(*), CAST(avg(odis_bytes) AS BIGINT) FROM selected").await?;
    let mean = batches.first().map(|b| i64s(b.column(1))).transpose()?.and_then(|v| v.first().copied()).unwrap_or(0);
    Ok((first_count(&batches)?, mean.max(0) as u64))
}

/// What the statements gathered, for the report.
pub(crate) struct Finished {
    pub(crate) started: Instant,
    pub(crate) stages: Vec<(&'static str, Duration)>,
    pub(crate) rows_in: u64,
    pub(crate) dims_len: usize,
    pub(crate) rows_kept: u64,
    pub(crate) report_rows: Vec<RecordBatch>,
    pub(crate) filter_rows: Vec<RecordBatch>,
    pub(crate) dedup_rows: Vec<RecordBatch>,
    /// The work directory.
    pub(crate) work: std::path::PathBuf,
}

pub(crate) async fn finish_report(engine: &Engine, options: &SelectOptions, progress: &impl Progress, done: Finished) -> Result<SelectReport> {
    let Finished { started, mut stages, rows_in, dims_len, rows_kept, report_rows, filter_rows, dedup_rows, work } = done;
    let dedup = dedup_removal(&dedup_rows)?;
    // Passed the filter: those kept for the PCA and the duplicates removed.
    let rows_kept = rows_kept + dedup.removed;
    let on_stage = |stage: &str| progress.stage(stage);
    on_stage("writing the report");
    let report_start = Instant::now();
    let mut dimensions = Vec::new();
    for batch in &report_rows {
        let dim = i64s(batch.column(0))?;
        let quota = i64s(batch.column(1))?;
        let selected = i64s(batch.column(2))?;
        let threshold = f64s(batch.column(3))?;
        let overlap = i64s(batch.column(4))?;
        let ratio = f64s(batch.column(5))?;
        let (cost_quota, selected_cost) = (i64s_or_null(batch.column(6))?, i64s_or_null(batch.column(7))?);
        let (overlap_cost, overlap_cost_ratio) = (i64s_or_null(batch.column(8))?, f64s(batch.column(9))?);
        for r in 0..batch.num_rows() {
            let cost = cost_quota[r].map(|quota| DimensionCost {
                quota: quota as u64,
                selected: selected_cost[r].unwrap_or(0) as u64,
                overlap: overlap_cost[r].unwrap_or(0) as u64,
                overlap_ratio: overlap_cost_ratio[r],
            });
            dimensions.push(DimensionReport {
                dim: dim[r] as usize,
                quota: quota[r] as u64,
                selected: selected[r] as u64,
                threshold: threshold[r],
                overlap: overlap[r] as u64,
                overlap_ratio: ratio[r],
                cost,
            });
        }
    }
    let rows_out = dimensions.iter().map(|d| d.selected).sum();
    let size = selection_size(engine, options).await?;
    let mut removed = Vec::new();
    for batch in &filter_rows {
        let documents = i64s(batch.column(1))?;
        for r in 0..batch.num_rows() {
            removed.push(FilterRemoval {
                rule: text_at(batch.column(0), r),
                documents: documents[r] as u64,
                example: text_at(batch.column(2), r),
            });
        }
    }

    let dimension_names: Vec<String> = match options.scores {
        ScoreSource::Ratings => odis_udfs::signals::text_ratings::RATINGS.iter().map(|(n, _, _)| n.to_string()).collect(),
        _ => (0..dims_len).map(|i| format!("dim{i}")).collect(),
    };
    let mut explained_variance_ratio = vec![0.0; options.components];
    let mut loadings = vec![vec![0.0; dims_len]; options.components];
    for batch in rows(engine, "SELECT component, dimension, loading, explained_variance_ratio FROM loadings").await? {
        let (c, d, l, e) = (i64s(batch.column(0))?, i64s(batch.column(1))?, f64s(batch.column(2))?, f64s(batch.column(3))?);
        for r in 0..batch.num_rows() {
            let (c, d) = (c[r] as usize, d[r] as usize);
            if c < loadings.len() && d < dims_len {
                loadings[c][d] = l[r].unwrap_or(0.0);
                explained_variance_ratio[c] = e[r].unwrap_or(0.0);
            }
        }
    }

    let out = quote(&written(options, &work));
    let text = ident(&options.text_column);
    let id = ident(&options.id_column);
    let mut examples = Vec::new();
    let examples_sql = format!(
        "SELECT odis_dim, odis_rank, CAST(\"{id}\" AS VARCHAR), odis_score, substr(CAST(\"{text}\" AS VARCHAR), 1, 400) \
         FROM '{out}' WHERE odis_rank <= 3 ORDER BY odis_dim, odis_rank"
    );
    for batch in rows(engine, &examples_sql).await? {
        let (dim, rank, score) = (i64s(batch.column(0))?, i64s(batch.column(1))?, f64s(batch.column(3))?);
        for r in 0..batch.num_rows() {
            examples.push(Example {
                dim: dim[r] as i32,
                rank: rank[r],
                id: text_at(batch.column(2), r),
                score: score[r].unwrap_or(f64::NAN),
                text: text_at(batch.column(4), r),
            });
        }
    }

    // A uniform, seeded sample of the corpus on the first two components.
    let sample = rows_in.min(3000);
    let mut scatter = Vec::new();
    if sample > 0 {
        let second = if options.components > 1 { "p.odis_pc[2]" } else { "0.0" };
        let scatter_sql = format!(
            "SELECT p.odis_pc[1], {second}, s.odis_dim \
             FROM sample_uniform('projected', 'odis_id', {sample}, 7) p \
             LEFT JOIN selected s ON p.odis_id = s.odis_id"
        );
        for batch in rows(engine, &scatter_sql).await? {
            let (x, y, dim) = (f64s(batch.column(0))?, f64s(batch.column(1))?, f64s(batch.column(2))?);
            for r in 0..batch.num_rows() {
                if let (Some(x), Some(y)) = (x[r], y[r]) {
                    scatter.push((x, y, dim[r].map(|d| d as i32)));
                }
            }
        }
    }
    stages.push(("report", report_start.elapsed()));

    let diversity = match &options.diversity {
        Some(model) => {
            on_stage("measuring diversity");
            let started = Instant::now();
            let measured = measure_diversity(engine, options, &work, model, rows_out).await?;
            stages.push(("diversity", started.elapsed()));
            Some(measured)
        }
        None => None,
    };
    // The fitted `scaling` and `pca` tables stay, for inspection.

    let report = SelectReport {
        rows_in,
        rows_kept,
        removed,
        dedup,
        rows_out,
        dimension_names,
        explained_variance_ratio,
        loadings,
        dimensions,
        examples,
        scatter,
        stages,
        total: started.elapsed(),
        diversity,
        size,
    };
    Ok(report)
}

/// Rows, tokens and bytes of each component's selection, and of all the
/// documents the budget was spent from.
async fn selection_size(engine: &Engine, options: &SelectOptions) -> Result<SelectionSize> {
    let mut size = SelectionSize { tokenizer: options.token_counter().map(|t| t.describe()), ..Default::default() };
    let sql = "SELECT odis_dim, count(*), sum(odis_tokens), sum(odis_bytes) FROM selected GROUP BY odis_dim ORDER BY odis_dim";
    for batch in rows(engine, sql).await? {
        let (dim, count) = (i64s(batch.column(0))?, i64s(batch.column(1))?);
        let (tokens, bytes) = (i64s_or_null(batch.column(2))?, i64s_or_null(batch.column(3))?);
        for r in 0..batch.num_rows() {
            size.components.push(ComponentSize {
                dim: dim[r] as i32,
                rows: count[r] as u64,
                tokens: tokens[r].map(|t| t as u64),
                bytes: bytes[r].unwrap_or(0) as u64,
            });
        }
    }
    for batch in rows(engine, "SELECT sum(odis_tokens), sum(odis_bytes) FROM projected").await? {
        if batch.num_rows() > 0 {
            size.available_tokens = i64s_or_null(batch.column(0))?[0].map(|t| t as u64);
            size.available_bytes = i64s_or_null(batch.column(1))?[0].unwrap_or(0) as u64;
        }
    }
    Ok(size)
}

/// Vendi scores of the selection's embeddings under `model`, and of a
/// seeded uniform sample of the same size of the documents that passed the
/// filter (the fair baseline: junk is "diverse" too).
async fn measure_diversity(engine: &Engine, options: &SelectOptions, work: &Path, model: &Path, rows_out: u64) -> Result<Diversity> {
    let model = quote(&model.display().to_string());
    let text = ident(&options.text_column);
    let id = ident(&options.id_column);
    let out = quote(&written(options, work));
    let score = |sql: String| async move {
        let batches = rows(engine, &sql).await?;
        let value = batches.iter().find(|b| b.num_rows() > 0).map(|b| f64s(b.column(0))).transpose()?;
        Ok::<f64, OdisError>(value.and_then(|v| v.first().copied().flatten()).unwrap_or(f64::NAN))
    };
    let selection = score(format!("SELECT vendi_score(odis_score(\"{text}\", '{model}')) FROM '{out}'")).await?;
    let random = score(format!(
        "SELECT vendi_score(odis_score(c.\"{text}\", '{model}')) \
         FROM (SELECT odis_id FROM sample_uniform('kept', 'odis_id', {rows_out}, 7)) s JOIN corpus c ON c.\"{id}\" = s.odis_id"
    ))
    .await?;
    Ok(Diversity { selection, random })
}
