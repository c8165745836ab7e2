//! `near_duplicates(table, id_column, text_column [, spec])`: every row
//! that duplicates another, with its cluster's representative, by MinHash
//! LSH (see `dedup/minhash.rs`), or by equal fingerprints ('exact').
//!
//! Every step is a plan, run here or on the session's cluster, whose sorts,
//! joins and grouped counts spill past `odis.dedup_memory` (`plan/memory.rs`);
//! what it writes goes to its work area (`odis.work_dir`, or a temporary
//! directory), and this process holds a few counts, never a row per document:
//! 1. Signatures: stored ones are read as they are; texts are signed once
//!    (`text_minhash`, packed by `minhash_pack`) into the work area.
//! 2. Candidate pairs, one band at a time (`band_pairs.rs`): the rows
//!    hash-partitioned by band key and sorted by (key, id);
//!    within a key, each row is checked against the key's first 2 rows and
//!    the 6 rows before it, and the pairs whose estimated similarity reaches
//!    the threshold are kept. In a key of up to 9 rows that is every pair;
//!    in a larger one (a template, a page copied a thousand times), a row is
//!    linked when it is similar to one of the key's first rows or of its 6
//!    predecessors in id order. On buckets of 100+ near copies and
//!    filled-in templates this links 97.1% of the rows that a check of
//!    every pair links (tests/dedup.rs). A task holds the 8 rows a row is
//!    checked against, whatever the key's size.
//! 3. Clusters: the connected components of the pairs, by min-label
//!    propagation with pointer jumping: every node starts as the smallest of
//!    itself and its neighbours, then each round takes the smallest of its
//!    label, its neighbours' labels and its label's label, until no label
//!    changes (a component of diameter d settles in about log2(d) + 2
//!    rounds). Each round's labels are a table of the work area, so a killed
//!    query resumes from the last round it finished.
//! 4. The duplicates: each node whose label is not itself, with the estimated
//!    similarity of its signature to its label's (its cluster's smallest id).
//!
//! 'exact' is one plan: rows sorted by fingerprint and id, each taking the
//! first id of its fingerprint (a window).
//!
//! 'datatrove' (a MinHash spec word) reproduces datatrove 0.10's MinHash
//! dedup: its signatures (`datatrove_minhash.rs`), each band key's rows
//! linked in a chain and unchecked (step 2 pairs each row with the one
//! before it), and the document each cluster keeps chosen by datatrove's
//! union-find (`union_by_size.rs`) instead of the smallest id.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::config::ConfigNonZeroUsize;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::functions_aggregate::expr_fn::min;
use datafusion::functions_window::expr_fn::{first_value, lag};
use datafusion::logical_expr::{Expr, ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{ParquetReadOptions, SessionContext, col, ident, lit};
use datafusion_macros::user_doc;
use futures::StreamExt;

use crate::dedup::minhash::MinHashSpec;
use crate::dedup::minhash_band::minhash_band_udf;
use crate::dedup::minhash_pack::minhash_pack_udf;
use crate::dedup::band_pairs::{self, Reach, band_pairs_plan};
use crate::dedup::union_by_size::{self, union_by_size_plan};
use crate::dedup::minhash_similarity::minhash_similarity_udf;
use crate::dedup::text_fingerprint::{WIDTH as FINGERPRINT_WIDTH, text_fingerprint_udf};
use crate::dedup::text_minhash::text_minhash_udf;
use crate::dedup::is_signature_type;
use crate::docs::documented_table_function;
use crate::plan::client::{ClientJob, ClientTable};
use crate::plan::memory::within_dedup_memory;
use crate::plan::remote::{plan_of, run};
use crate::plan::sorted_distinct::distinct_sorted;
use crate::plan::sorted_join::join_sorted;
use crate::plan::stages::Stages;
use crate::plan::table_args::{Args, Column};
use crate::plan::work_area::WorkArea;

pub const NAME: &str = "near_duplicates";
const USAGE: &str = "near_duplicates('table', 'id_column', 'text_column' [, 'spec'])";

/// Rounds of label propagation allowed unless the spec says `rounds=N`.
const ROUNDS: usize = 64;

/// Rows per batch in every step but the bands. A spilled sort's merge
/// holds about four batches of each run it reads, each in the buffer its
/// spill file was decoded into, which grows to twice the batch: at 16M
/// signatures and the session's 8192 rows (1.2 MB of signatures and ids a
/// batch), the merges held 79 MB more than the pool counted (heaptrack),
/// and the process peaked at 277 MiB against 192 at 1M. The bands' rows
/// are 16 bytes and their steps most of the time: they keep the session's
/// batches (2048 made them 18% slower). So: 225 MiB at 16M against 214 at
/// 1M, in the same time as before (docs/benchmarks.md).
const STEP_BATCH_ROWS: usize = 2048;

/// Up to this many bytes of rows, a sort concatenates its batches and sorts
/// them once instead of sorting each and merging hundreds of them (the
/// session's default is 1 MiB). Over the 2M-document benchmark's keys the
/// whole call took 12.6-12.9 s against 15.0-16.0 s, the candidate check
/// 3.8-3.9 s against 5.2-5.5 s, at the same peak (208 MiB); at 64 MiB the
/// peak rose to 240-252 MiB for no more speed.
const SORT_IN_PLACE_BYTES: usize = 16 << 20;

fn plan_err(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

fn exec_err(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

/// How duplicates are found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Equal `text_fingerprint`s: the same text but for case, spacing and
    /// Unicode composition.
    Exact,
    MinHash(MinHashSpec),
}

/// The spec: the mode, and the rounds the clustering may take.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    mode: Mode,
    rounds: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { mode: Mode::MinHash(MinHashSpec::default()), rounds: ROUNDS }
    }
}

impl Settings {
    /// 'exact', or MinHash settings; either with `rounds=N`.
    fn parse(spec: &str) -> Result<Self> {
        let bad = |why: String| plan_err(format!("{NAME}: `spec` '{spec}': {why}"));
        let mut rounds = ROUNDS;
        let mut rest = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some((key, value)) if key.trim() == "rounds" => {
                    rounds = value.trim().parse().ok().filter(|&n: &usize| (1..=10_000).contains(&n)).ok_or_else(|| {
                        bad(format!("rounds must be an integer from 1 to 10000, got '{}'", value.trim()))
                    })?;
                }
                _ => rest.push(item),
            }
        }
        let mode = match rest[..] {
            ["exact"] => Mode::Exact,
            _ => Mode::MinHash(MinHashSpec::parse(&rest.join(",")).map_err(bad)?),
        };
        Ok(Settings { mode, rounds })
    }
}

/// The resolved arguments.
#[derive(Debug)]
struct Dedup {
    table_name: String,
    table: Arc<dyn TableProvider>,
    id: Column,
    text: Column,
    /// `text` holds signatures (or fingerprints), not texts.
    precomputed: bool,
    settings: Settings,
}

#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "Finds near-duplicate texts by MinHash LSH and returns one row for every row of `table` that duplicates \
         another: `id`, `duplicate_of` (the smallest id of its cluster, which is kept) and `similarity` (the \
         estimated Jaccard similarity of the two texts' shingle sets). Rows of one cluster are linked, directly or \
         through others, by pairs that share a MinHash band and whose estimated similarity reaches the spec's \
         `threshold`; so `similarity` may be below the threshold for a row linked through another. Within a band \
         bucket (the rows sharing a band's key), in id order, each row is checked against the bucket's \
         first 2 rows and the 6 rows before it: every pair of a bucket of up to 9 rows, and in a crowded bucket \
         (templates, boilerplate) each row against its first rows and its neighbours. Clusters are the connected \
         components of those pairs, found by rounds of label propagation (`rounds=N` in the spec bounds them: 64 \
         by default). Every step is a plan whose sorts and joins spill past a bound of their own, `SET \
         odis.dedup_memory` (64 MiB a partition and at least 128 MiB by default, never above the session's limit), \
         so memory does not grow with the table; with `SET odis.work_dir` the pairs of each band and the labels of each round are \
         kept there, and a query killed midway resumes from them. Exact copies \
         (after case and spacing) are near duplicates with similarity 1. A NULL text is never a duplicate; empty \
         and word-less texts all share one signature, so they form one cluster. The same rows come back whatever \
         the partitioning, in (duplicate_of, id) order.\n\n\
         `text_column` holds the texts, or signatures from `text_minhash` with the same spec, as lists or packed by \
         `minhash_pack` (then no text is read; texts are signed once, into the work directory). \
         `spec` is `text_minhash`'s (threshold=0.8, ngram=5, bands=14, rows=8, seed=1 by default: FineWeb's \
         setting), or 'exact' for exact duplicates only (equal `text_fingerprint`s; `text_column` may then hold \
         fingerprints). Ids must be non-NULL and orderable; an id on two rows of one cluster is an error.\n\n\
         With the word `datatrove` in the spec ('datatrove', or e.g. 'datatrove,rounds=100') it removes the \
         documents Hugging Face datatrove 0.10's MinHash dedup (FineWeb's) removes: datatrove's signatures \
         (see `text_minhash`), every two rows that share a band's values linked without checking their \
         similarity, and in each cluster the document datatrove's union-find keeps (the root of the larger set \
         at each union, band by band), which is not always the smallest id; a text of fewer than 5 tokens is \
         never a duplicate. It removes more than the default (pairs that share a band by chance at lower \
         similarity are linked), and `similarity` then says how near each removed row is to the one kept.",
    syntax_example = "near_duplicates('table', 'id_column', 'text_column' [, 'spec'])",
    sql_example = "```sql\n> SELECT * FROM near_duplicates('corpus', 'id', 'text');\n\
         > SELECT c.* FROM corpus c WHERE c.id NOT IN (SELECT id FROM near_duplicates('corpus', 'id', 'text', 'threshold=0.7'));\n```",
    argument(name = "table", description = "Name of a registered table or view, quoted: 'corpus'."),
    argument(name = "id_column", description = "Name of a column of unique, non-NULL, orderable ids."),
    argument(name = "text_column", description = "Name of the text column, or of a column of text_minhash signatures made with `spec`."),
    argument(name = "spec", description = "Optional MinHash spec, e.g. 'threshold=0.8,ngram=5,bands=14,rows=8,seed=1', and rounds=N; or 'exact'."),
    related_udf(name = "text_minhash"),
    related_udf(name = "minhash_similarity"),
)]
#[derive(Debug, Default)]
pub struct NearDuplicatesFunc;

impl TableFunctionImpl for NearDuplicatesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[3, 4])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let text = args.column(2, "text_column", &table_name, &schema)?;
        let settings = if args.len() == 4 { Settings::parse(&args.string(3, "spec", "'threshold=0.8,ngram=5'")?)? } else { Settings::default() };
        let mode = settings.mode;
        let text_type = text.field.data_type();
        let precomputed = match mode {
            Mode::Exact => *text_type == DataType::FixedSizeBinary(FINGERPRINT_WIDTH),
            Mode::MinHash(_) => is_signature_type(text_type),
        };
        if !precomputed && !matches!(text_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            let kind = match mode {
                Mode::Exact => "text_fingerprint fingerprints",
                Mode::MinHash(_) => "text_minhash signatures",
            };
            return Err(plan_err(format!(
                "{NAME}: text column '{}' holds {text_type}, neither text nor {kind}; name the documents' text column",
                text.field.name()
            )));
        }
        if let (Mode::MinHash(spec), true) = (mode, precomputed) {
            check_signature_width(text.field.name(), text_type, &spec)?;
        }
        Ok(Arc::new(ClientTable(Arc::new(Dedup { table_name, table, id, text, precomputed, settings }))))
    }
}



/// A stored signature column whose type fixes its width must fit the spec:
/// said here, at planning, rather than by the first batch read.
fn check_signature_width(column: &str, data_type: &DataType, spec: &MinHashSpec) -> Result<()> {
    let (found, expected, unit) = match data_type {
        DataType::FixedSizeBinary(n) => (*n as usize, spec.packed_bytes(), "bytes"),
        DataType::FixedSizeList(_, n) => (*n as usize, spec.hashes(), "values"),
        _ => return Ok(()),
    };
    if found == expected {
        return Ok(());
    }
    Err(plan_err(format!(
        "{NAME}: column '{column}' holds signatures of {found} {unit}, the spec ({spec}) asks for {expected}; give the spec \
         the signatures were made with (its bands, rows and bits)"
    )))
}

fn output_schema(id_type: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", id_type.clone(), false),
        Field::new("duplicate_of", id_type.clone(), false),
        Field::new("similarity", DataType::Float64, false),
    ]))
}

#[async_trait]
impl ClientJob for Dedup {
    fn function(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> String {
        let spec = match self.settings.mode {
            Mode::Exact => "exact".to_string(),
            Mode::MinHash(spec) => spec.to_string(),
        };
        format!("table={}, id={}, text={}, spec={spec}", self.table_name, self.id.field.name(), self.text.field.name())
    }

    fn schema(&self) -> SchemaRef {
        output_schema(self.id.field.data_type())
    }

    /// The steps, within `odis.dedup_memory`; their plans run wherever the
    /// session runs plans: here, or on its cluster.
    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        within_dedup_memory(state, NAME, |state| self.steps(state, projection)).await
    }
}

impl Dedup {
    async fn steps(&self, mut state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        // Joins by sorting and merging, which spill under the memory limit;
        // a hash join holds its whole build side.
        state.config_mut().options_mut().optimizer.prefer_hash_join = false;
        // The signatures are written sorted by id: their joins merge them in
        // that order rather than sorting them again.
        state.config_mut().options_mut().optimizer.prefer_existing_sort = true;
        let band_rows = state.config().batch_size();
        state.config_mut().options_mut().execution.batch_size = ConfigNonZeroUsize::try_new(band_rows.min(STEP_BATCH_ROWS))?;
        state.config_mut().options_mut().execution.sort_in_place_threshold_bytes = SORT_IN_PLACE_BYTES;
        let ctx = SessionContext::new_with_state(state);
        let table = ctx.read_table(Arc::clone(&self.table))?;
        let id = ident(self.id.field.name());
        let null_ids = table.clone().filter(id.is_null())?.count().await?;
        if null_ids > 0 {
            return Err(exec_err(format!(
                "{NAME}: id column '{}' is NULL in {null_ids} rows of '{}'; every row needs a unique, non-NULL id",
                self.id.field.name(),
                self.table_name
            )));
        }
        let rows = table.count().await?;
        let area = WorkArea::open(ctx.state().config(), NAME, &format!("{} rows={rows}", self.describe()))?;
        let duplicates = match self.settings.mode {
            Mode::Exact => self.exact(&ctx, &area).await?,
            Mode::MinHash(spec) => self.near(&ctx, &area, spec, band_rows).await?,
        };
        let schema = self.schema();
        let out = Arc::new(schema.project(&projection)?);
        let batches = duplicates.execute_stream().await?;
        // The area's tables are read until the last batch.
        let (out_schema, keep) = (Arc::clone(&out), area);
        let stream = batches.map(move |batch| {
            let _ = &keep;
            let batch = RecordBatch::try_new(Arc::clone(&schema), batch?.columns().to_vec())?;
            Ok(batch.project(&projection)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }
}

/// A window over a band key's (or a fingerprint's) rows, in `order`, from
/// its first row to the current one.
fn over(function: Expr, partition: &str, order: &[&str]) -> Result<Expr> {
    let frame = WindowFrame::new_bounds(
        WindowFrameUnits::Rows,
        WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
        WindowFrameBound::CurrentRow,
    );
    function
        .partition_by(vec![col(partition)])
        .order_by(order.iter().map(|c| col(*c).sort(true, false)).collect())
        .window_frame(frame)
        .build()
}

impl Dedup {
    fn duplicate_id(&self, id: &str) -> DataFusionError {
        exec_err(format!(
            "{NAME}: id {id} appears in more than one row of '{}'; ids in column '{}' must be unique",
            self.table_name,
            self.id.field.name()
        ))
    }

    /// The rows with a text and a key: (odis_id, odis_key). (Under
    /// 'datatrove' a text of too few tokens has no signature.)
    fn keyed(&self, ctx: &SessionContext, key: Expr) -> Result<DataFrame> {
        let text = ident(self.text.field.name());
        ctx.read_table(Arc::clone(&self.table))?
            .filter(text.is_not_null())?
            .select(vec![ident(self.id.field.name()).alias("odis_id"), key.alias("odis_key")])?
            .filter(col("odis_key").is_not_null())
    }

    /// Exact duplicates: each row takes the first id of its fingerprint.
    async fn exact(&self, ctx: &SessionContext, area: &WorkArea) -> Result<DataFrame> {
        let text = ident(self.text.field.name());
        let key = if self.precomputed { text } else { text_fingerprint_udf().call(vec![text]) };
        if !area.has("exact") {
            Stages::say(ctx.state().config(), "finding exact duplicates");
            let order = ["odis_id"];
            let windowed = self.keyed(ctx, key)?.window(vec![
                over(first_value(col("odis_id")), "odis_key", &order)?.alias("odis_first"),
                over(lag(col("odis_id"), Some(1), None), "odis_key", &order)?.alias("odis_previous"),
            ])?;
            let twice = col("odis_id").eq(col("odis_previous"));
            let found = windowed
                .filter(col("odis_id").not_eq(col("odis_first")).or(twice.clone()))?
                .select(vec![col("odis_id"), col("odis_first"), twice.is_true().alias("odis_twice")])?;
            area.write(found, "exact").await?;
        }
        let found = ctx.read_parquet(area.path("exact").display().to_string(), ParquetReadOptions::default()).await?;
        self.refuse_ids_twice(found.clone().filter(col("odis_twice"))?.select(vec![col("odis_id")])?).await?;
        found
            .filter(col("odis_twice").is_false())?
            .select(vec![col("odis_id").alias("id"), col("odis_first").alias("duplicate_of"), lit(1.0f64).alias("similarity")])?
            .sort(vec![col("duplicate_of").sort(true, false), col("id").sort(true, false)])
    }

    /// An error naming an id of `ids` (a one-column frame), if it has any.
    async fn refuse_ids_twice(&self, ids: DataFrame) -> Result<()> {
        let batches = ids.limit(0, Some(1))?.collect().await?;
        match batches.iter().find(|b| b.num_rows() > 0) {
            Some(batch) => {
                let shown = datafusion::arrow::util::display::array_value_to_string(batch.column(0), 0)?;
                Err(self.duplicate_id(&shown))
            }
            None => Ok(()),
        }
    }

    /// Every text's signature, sorted by id: (odis_id, odis_sig), a table of
    /// the work area (texts signed once; stored signatures copied), which the
    /// joins of the later steps read in its order instead of sorting it.
    async fn signatures(&self, ctx: &SessionContext, area: &WorkArea, spec: MinHashSpec) -> Result<DataFrame> {
        let text = ident(self.text.field.name());
        if !area.has("signatures") {
            let signature = if self.precomputed {
                self.refuse_wide_values(ctx, spec).await?;
                Stages::say(ctx.state().config(), "sorting the signatures by id");
                text
            } else {
                Stages::say(ctx.state().config(), "signing the texts");
                minhash_pack_udf().call(vec![text_minhash_udf().call(vec![text, lit(spec.to_string())])])
            };
            let signed = self
                .keyed(ctx, signature)?
                .select(vec![col("odis_id"), col("odis_key").alias("odis_sig")])?
                .sort(vec![col("odis_id").sort(true, false)])?;
            area.write(signed, "signatures").await?;
        }
        let sorted = ParquetReadOptions::default().file_sort_order(vec![vec![col("odis_id").sort(true, false)]]);
        ctx.read_parquet(area.path("signatures").display().to_string(), sorted).await
    }

    /// Stored signatures as lists of values wider than the spec's bits were
    /// made with another spec: said before any work.
    async fn refuse_wide_values(&self, ctx: &SessionContext, spec: MinHashSpec) -> Result<()> {
        let element_bits = match self.text.field.data_type() {
            DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) => match f.data_type() {
                DataType::UInt8 => 8,
                DataType::UInt16 => 16,
                _ => 32,
            },
            _ => return Ok(()),
        };
        if element_bits <= spec.bits {
            return Ok(());
        }
        let max = datafusion::functions_nested::expr_fn::array_max(ident(self.text.field.name()));
        let wide = ctx.read_table(Arc::clone(&self.table))?.filter(max.gt_eq(lit(1u64 << spec.bits)))?.count().await?;
        if wide > 0 {
            return Err(exec_err(format!(
                "{NAME}: column '{}' holds signature values wider than the spec's bits={}; give the signatures \
                 text_minhash made with the same spec ({spec})",
                self.text.field.name(),
                spec.bits
            )));
        }
        Ok(())
    }

    /// Near duplicates by MinHash LSH: candidate pairs band by band, their
    /// check, the connected components of those that pass, each member
    /// against its component's smallest id.
    /// The bands' plans run in batches of `band_rows`.
    async fn near(&self, ctx: &SessionContext, area: &WorkArea, spec: MinHashSpec, band_rows: usize) -> Result<DataFrame> {
        let config = ctx.state().config().clone();
        let signatures = self.signatures(ctx, area, spec).await?;
        let spec_text = lit(spec.to_string());
        let similarity = |a: Expr, b: Expr| minhash_similarity_udf().call(vec![a, b, spec_text.clone()]);
        let mut bands = Vec::new();
        for band in 1..=spec.bands {
            let name = format!("pairs-{band:03}");
            bands.push(area.path(&name).display().to_string());
            if area.has(&name) {
                continue;
            }
            Stages::say(&config, &format!("finding near duplicates: band {band} of {}", spec.bands));
            let key = minhash_band_udf().call(vec![col("odis_sig"), lit(band as i64), spec_text.clone()]);
            let keyed = signatures.clone().select(vec![key.alias(band_pairs::KEY), col("odis_id").alias(band_pairs::ID)])?;
            let mut state = ctx.state();
            state.config_mut().options_mut().execution.batch_size = ConfigNonZeroUsize::try_new(band_rows)?;
            let scan = plan_of(keyed, &state).await?;
            let reach = if spec.datatrove { Reach::CHAIN } else { Reach::CHECKED };
            let pairs = run(band_pairs_plan(scan, state.config().target_partitions(), reach)?, &state)?;
            area.write_stream(pairs, &name).await?;
        }
        if spec.datatrove {
            return self.datatrove(ctx, area, signatures, &bands).await;
        }
        if !area.has("edges") {
            Stages::say(&config, "checking the candidate pairs");
            let proposed = ctx.read_parquet(bands, ParquetReadOptions::default()).await?;
            self.refuse_ids_twice(proposed.clone().filter(col("odis_high").eq(col("odis_low")))?.select(vec![col("odis_high")])?).await?;
            // A pair several bands propose is checked once. Sorted by (high,
            // low), the pairs need no sort before the merge by high.
            let candidates = distinct_sorted(ctx, proposed.select(vec![col("odis_high"), col("odis_low")])?).await?;
            let high = signatures.clone().select(vec![col("odis_id").alias("odis_high_id"), col("odis_sig").alias("odis_high_sig")])?;
            let low = signatures.clone().select(vec![col("odis_id").alias("odis_low_id"), col("odis_sig").alias("odis_low_sig")])?;
            // Merged with the signatures in id order, once for each end.
            let with_high = join_sorted(ctx, candidates, "odis_high", high, "odis_high_id").await?;
            let checked = join_sorted(ctx, with_high, "odis_low", low, "odis_low_id")
                .await?
                .filter(similarity(col("odis_high_sig"), col("odis_low_sig")).gt_eq(lit(spec.threshold)))?
                .select(vec![col("odis_high"), col("odis_low")])?;
            area.write(checked, "edges").await?;
        }
        let edges = ctx.read_parquet(area.path("edges").display().to_string(), ParquetReadOptions::default()).await?;
        let labels = self.components(ctx, area, edges).await?;
        let duplicates = labels.filter(col("odis_node").not_eq(col("odis_label")))?;
        self.with_similarity(ctx, duplicates, signatures, spec).await
    }

    /// datatrove's rules: every pair a band proposes is an edge, unchecked,
    /// and each cluster keeps the root of datatrove's union-find
    /// (`union_by_size.rs`), not always its smallest id.
    async fn datatrove(&self, ctx: &SessionContext, area: &WorkArea, signatures: DataFrame, bands: &[String]) -> Result<DataFrame> {
        let config = ctx.state().config().clone();
        let Mode::MinHash(spec) = self.settings.mode else {
            return Err(exec_err(format!("{NAME}: datatrove's rules apply to MinHash only")));
        };
        // Each pair with the first band that proposes it: the union-find
        // meets it there, and again later to no effect.
        if !area.has("candidates") {
            Stages::say(&config, "collecting the band matches");
            let mut proposed: Option<DataFrame> = None;
            for (band, path) in bands.iter().enumerate() {
                let pairs = ctx.read_parquet(path.clone(), ParquetReadOptions::default()).await?.with_column(union_by_size::BAND, lit(band as u32 + 1))?;
                proposed = Some(match proposed {
                    None => pairs,
                    Some(all) => all.union(pairs)?,
                });
            }
            let proposed = proposed.ok_or_else(|| exec_err(format!("{NAME}: a spec of no bands")))?;
            self.refuse_ids_twice(proposed.clone().filter(col("odis_high").eq(col("odis_low")))?.select(vec![col("odis_high")])?).await?;
            let first = proposed.aggregate(vec![col("odis_high"), col("odis_low")], vec![min(col(union_by_size::BAND)).alias(union_by_size::BAND)])?;
            area.write(first, "candidates").await?;
        }
        let edges = ctx.read_parquet(area.path("candidates").display().to_string(), ParquetReadOptions::default()).await?;
        let labels = self.components(ctx, area, edges.clone().select(vec![col("odis_high"), col("odis_low")])?).await?;
        if !area.has("roots") {
            Stages::say(&config, "keeping datatrove's document of each cluster");
            let theirs = labels.select(vec![col("odis_node").alias("odis_low_node"), col("odis_label").alias(union_by_size::LABEL)])?;
            let labelled = edges
                .join_on(theirs, JoinType::Inner, [col("odis_low").eq(col("odis_low_node"))])?
                .select(vec![col(union_by_size::LABEL), col(union_by_size::BAND), col(union_by_size::LOW), col(union_by_size::HIGH)])?;
            let state = ctx.state();
            let scan = plan_of(labelled, &state).await?;
            let roots = run(union_by_size_plan(scan, state.config().target_partitions())?, &state)?;
            area.write_stream(roots, "roots").await?;
        }
        let roots = ctx.read_parquet(area.path("roots").display().to_string(), ParquetReadOptions::default()).await?;
        let duplicates = roots.select(vec![col("odis_node"), col("odis_root").alias("odis_label")])?;
        self.with_similarity(ctx, duplicates, signatures, spec).await
    }

    /// The duplicates (odis_node, odis_label: the document kept) as the
    /// output's rows, with the estimated similarity of each to the one kept.
    async fn with_similarity(&self, ctx: &SessionContext, duplicates: DataFrame, signatures: DataFrame, spec: MinHashSpec) -> Result<DataFrame> {
        let spec_text = lit(spec.to_string());
        let similarity = |a: Expr, b: Expr| minhash_similarity_udf().call(vec![a, b, spec_text.clone()]);
        // Each duplicate with its own signature, then its label's: two
        // merges with the signatures in id order, so one sort (by label)
        // carries a signature and only the duplicates' rows.
        let own = signatures.clone().select(vec![col("odis_id").alias("odis_own_id"), col("odis_sig").alias("odis_own_sig")])?;
        let with_own = join_sorted(ctx, duplicates, "odis_node", own, "odis_own_id").await?;
        join_sorted(ctx, with_own, "odis_label", signatures, "odis_id")
            .await?
            .select(vec![
                col("odis_node").alias("id"),
                col("odis_label").alias("duplicate_of"),
                similarity(col("odis_own_sig"), col("odis_sig")).alias("similarity"),
            ])?
            .sort(vec![col("duplicate_of").sort(true, false), col("id").sort(true, false)])
    }

    /// The connected components of `edges` (odis_high, odis_low): each node
    /// with the smallest id of its component (odis_node, odis_label), by
    /// rounds of min-label propagation with pointer jumping, each round's
    /// labels a table of the work area.
    async fn components(&self, ctx: &SessionContext, area: &WorkArea, edges: DataFrame) -> Result<DataFrame> {
        let config = ctx.state().config().clone();
        let read = |round: usize| {
            let path = area.path(&format!("labels-{round:05}")).display().to_string();
            async move { ctx.read_parquet(path, ParquetReadOptions::default()).await }
        };
        let smallest = |candidates: DataFrame| -> Result<DataFrame> {
            candidates.aggregate(vec![col("odis_node")], vec![min(col("odis_label")).alias("odis_label")])
        };
        if !area.has("labels-00000") {
            Stages::say(&config, "clustering near duplicates: round 0");
            let start = edges
                .clone()
                .select(vec![col("odis_high").alias("odis_node"), col("odis_low").alias("odis_label")])?
                .union(edges.clone().select(vec![col("odis_low").alias("odis_node"), col("odis_low").alias("odis_label")])?)?;
            area.write(smallest(start)?, "labels-00000").await?;
        }
        // Resume after the last round written.
        let mut round = (0..).take_while(|r| area.has(&format!("labels-{r:05}"))).last().unwrap_or(0);
        let mut changed = None;
        loop {
            let labels = read(round).await?;
            if round > 0 {
                let previous = read(round - 1).await?.select(vec![col("odis_node").alias("odis_was_node"), col("odis_label").alias("odis_was")])?;
                let moved = labels
                    .clone()
                    .join_on(previous, JoinType::Inner, [col("odis_node").eq(col("odis_was_node"))])?
                    .filter(col("odis_label").not_eq(col("odis_was")))?
                    .count()
                    .await?;
                if moved == 0 {
                    return Ok(labels);
                }
                changed = Some(moved);
            }
            if round >= self.settings.rounds {
                return Err(exec_err(format!(
                    "{NAME}: the clusters did not settle within rounds={} of label propagation ({} labels still \
                     changed in the last); pass a spec with more rounds, e.g. '{},rounds={}'",
                    self.settings.rounds,
                    changed.unwrap_or(0),
                    match self.settings.mode {
                        Mode::MinHash(spec) => spec.to_string(),
                        Mode::Exact => "exact".to_string(),
                    },
                    self.settings.rounds * 2
                )));
            }
            round += 1;
            let said = changed.map_or(String::new(), |n| format!(" ({n} labels changed in the last)"));
            Stages::say(&config, &format!("clustering near duplicates: round {round}{said}"));
            let neighbour = |from: &str, to: &str| -> Result<DataFrame> {
                let theirs = labels.clone().select(vec![col("odis_node").alias("odis_their_node"), col("odis_label").alias("odis_their_label")])?;
                edges
                    .clone()
                    .join_on(theirs, JoinType::Inner, [col(from).eq(col("odis_their_node"))])?
                    .select(vec![col(to).alias("odis_node"), col("odis_their_label").alias("odis_label")])
            };
            let jumped = {
                let theirs = labels.clone().select(vec![col("odis_node").alias("odis_their_node"), col("odis_label").alias("odis_their_label")])?;
                labels
                    .clone()
                    .join_on(theirs, JoinType::Inner, [col("odis_label").eq(col("odis_their_node"))])?
                    .select(vec![col("odis_node"), col("odis_their_label").alias("odis_label")])?
            };
            let candidates = labels.clone().union(neighbour("odis_low", "odis_high")?)?.union(neighbour("odis_high", "odis_low")?)?.union(jumped)?;
            area.write(smallest(candidates)?, &format!("labels-{round:05}")).await?;
        }
    }
}

documented_table_function!(NearDuplicatesFunc, NAME);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryLimit as PoolLimit, MemoryPool, MemoryReservation};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::SessionConfig;

    use crate::plan::settings::OdisOptions;

    /// A session's pool that remembers the most its consumers held at once.
    #[derive(Debug)]
    struct Recording {
        inner: GreedyMemoryPool,
        peak: AtomicUsize,
    }

    impl std::fmt::Display for Recording {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "recording")
        }
    }

    impl MemoryPool for Recording {
        fn name(&self) -> &str {
            "recording"
        }

        fn grow(&self, reservation: &MemoryReservation, additional: usize) {
            self.inner.grow(reservation, additional);
            self.peak.fetch_max(self.inner.reserved(), Ordering::Relaxed);
        }

        fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
            self.inner.shrink(reservation, shrink);
        }

        fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
            self.inner.try_grow(reservation, additional)?;
            self.peak.fetch_max(self.inner.reserved(), Ordering::Relaxed);
            Ok(())
        }

        fn reserved(&self) -> usize {
            self.inner.reserved()
        }

        fn memory_limit(&self) -> PoolLimit {
            self.inner.memory_limit()
        }
    }

    /// near_duplicates' (id, duplicate_of) rows with `odis.dedup_memory`
    /// set to `setting`, and the most the session's own pool held.
    async fn duplicates(setting: &str) -> (Vec<(i64, i64)>, usize) {
        let pool = Arc::new(Recording { inner: GreedyMemoryPool::new(1 << 30), peak: AtomicUsize::new(0) });
        let mut options = OdisOptions::default();
        options.dedup_memory = setting.to_string();
        let config = SessionConfig::new().with_target_partitions(2).with_option_extension(options);
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::clone(&pool) as Arc<dyn MemoryPool>).build_arc().unwrap();
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        crate::register(&ctx).unwrap();
        let story = "the committee met on tuesday to discuss the budget for the new library and the repairs to the old bridge";
        ctx.sql(&format!(
            "CREATE TABLE t AS SELECT * FROM (VALUES (1, '{story}'), (2, 'another text about gardens and the birds that visit them in spring'), \
             (3, '{story}!'), (4, 'Yesterday {story}'), (5, 'a third text, on trains, timetables and the stations between two cities')) AS x(id, text)"
        ))
        .await
        .unwrap();
        // No ORDER BY: a sort in this statement would take from the session's pool.
        let batches = ctx.sql("SELECT id, duplicate_of FROM near_duplicates('t', 'id', 'text')").await.unwrap().collect().await.unwrap();
        let mut rows = Vec::new();
        for batch in &batches {
            let as_i64 = |i: usize| datafusion::arrow::compute::cast(batch.column(i), &DataType::Int64).unwrap();
            let (id, of) = (as_i64(0), as_i64(1));
            let (id, of): (&Int64Array, &Int64Array) = (id.as_primitive::<Int64Type>(), of.as_primitive::<Int64Type>());
            rows.extend(id.values().iter().copied().zip(of.values().iter().copied()));
        }
        rows.sort();
        (rows, pool.peak.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn the_plans_run_in_a_pool_of_their_own_unless_told_to_use_the_sessions() {
        let (bounded, session_held) = duplicates("").await;
        assert_eq!(bounded, vec![(3, 1), (4, 1)], "the two copies of text 1");
        assert_eq!(session_held, 0, "with odis.dedup_memory's default bound, the session's pool lends nothing");
        let (unbounded, session_held) = duplicates("unlimited").await;
        assert_eq!(unbounded, bounded);
        assert!(session_held > 0, "'unlimited': the plans' sorts take from the session's pool");
    }
}
