//! Work done group by group (a group is a k-means cluster, or one group for
//! the whole table), where the rows are: a plan hash-partitions the rows by
//! group and sorts each partition by (group, order descending, id), so a task
//! holds one group's rows at a time and never the table's. On a cluster the
//! tasks run on the executors (`select/codec.rs` carries [`PerGroupExec`]).
//!
//! Two kinds of work: SemDeDup's pass over a cluster (`semantic_duplicates`)
//! and DPP's greedy MAP inference on a group's best rows (`dpp_select`).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::col as physical_col;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use datafusion::arrow::compute::SortOptions;
use futures::{StreamExt, TryStreamExt};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_nested::expr_fn::inner_product;
use datafusion::prelude::{DataFrame, cast, col, lit};

use crate::blas::sgemm_abt;
use crate::clustering::kmeans::{KMeansSpec, Metric};
use crate::clustering::kmeans_assign::kmeans_assign_udf;
use crate::clustering::kmeans_fit::kmeans_fit_udaf;
use crate::plan::remote::{by_key, plan_of, run};
use crate::plan::id_keys::{IdCodec, IdKey};
use crate::vectors::{Vectors, mixed_embedding_lengths};

/// The input columns, in this order: the group, the id, the embedding, and
/// the order within a group (the distance to the centroid for SemDeDup, the
/// quality for DPP).
/// (Names no user table is likely to have: a table may hold `odis_id`.)
pub const GROUP: &str = "__odis_group";
pub const ID: &str = "__odis_group_id";
pub const EMBEDDING: &str = "__odis_group_embedding";
pub const ORDER: &str = "__odis_group_order";

/// What is done with each group's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupWork {
    /// SemDeDup (Abbas et al. 2023): in the group's order, a row whose
    /// cosine similarity to an earlier row (dropped or not) exceeds
    /// `1 - eps` is a duplicate of the earlier row it is most similar to.
    SemanticDuplicates { eps: f64 },
    /// Greedy MAP inference of a DPP (Chen et al. 2018) with kernel
    /// L = diag(r)·S·diag(r), S the cosine similarity, r = exp(alpha·quality),
    /// over the group's best `pool × quota` rows by quality; `quotas[g]` picks.
    Dpp { alpha: f64, pool: u64, quotas: Vec<u64> },
}

/// What a per-group task needs, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub function: String,
    pub work: GroupWork,
}

impl GroupSpec {
    fn output_schema(&self, id_type: &DataType) -> SchemaRef {
        Arc::new(Schema::new(match self.work {
            GroupWork::SemanticDuplicates { .. } => vec![
                Field::new("id", id_type.clone(), false),
                Field::new("duplicate_of", id_type.clone(), false),
                Field::new("similarity", DataType::Float64, false),
            ],
            GroupWork::Dpp { .. } => vec![
                Field::new(GROUP, DataType::Int64, false),
                Field::new("odis_rank", DataType::Int64, false),
                Field::new("odis_score", DataType::Float64, false),
                Field::new("id", id_type.clone(), false),
            ],
        }))
    }
}

/// `input` (the four columns above, NULL-free groups and embeddings) into
/// groups, each group's work done by one task.
pub fn per_group_plan(input: Arc<dyn ExecutionPlan>, spec: GroupSpec, partitions: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let ordering = group_ordering(&input.schema())?;
    by_key(input, ordering, partitions, |sorted| Ok(Arc::new(PerGroupExec::try_new(sorted, spec)?)))
}

/// The order a task reads its rows in: group, then order descending, then id.
fn group_ordering(schema: &Schema) -> Result<LexOrdering> {
    let ascending = SortOptions { descending: false, nulls_first: false };
    Ok(LexOrdering::new([
        PhysicalSortExpr::new(physical_col(GROUP, schema)?, ascending),
        PhysicalSortExpr::new(physical_col(ORDER, schema)?, SortOptions { descending: true, nulls_first: false }),
        PhysicalSortExpr::new(physical_col(ID, schema)?, ascending),
    ])
    .expect("non-empty ordering"))
}

/// Whether an embedding has a direction: non-NULL and not all zeros (a
/// NaN passes here and is left out by the k-means functions).
pub fn has_direction(embedding: Expr) -> Expr {
    inner_product(embedding.clone(), embedding).gt(lit(0.0))
}

/// The k-means of the embedding-space methods: spherical, on 64 training
/// rows per centroid. They want clusters that keep near rows together, not
/// a fine partition, so they train on fewer rows than `kmeans_fit`'s default.
pub fn kmeans_spec(seed: u64) -> KMeansSpec {
    KMeansSpec { metric: Metric::Cosine, seed, sample: 64, ..KMeansSpec::default() }
}

/// The order of a cluster's rows for its work.
#[derive(Debug, Clone)]
pub enum ClusterOrder {
    /// Farthest from the centroid first.
    Farthest,
    /// Nearest first.
    Nearest,
    /// By a number, highest first.
    Descending(Expr),
}

/// `rows` as the per-group work reads them: the k-means cluster of
/// `embedding` under `model` as the group, the id, the embedding and the
/// order. Rows without a cluster (no direction) are left out.
pub fn clustered(rows: DataFrame, id: Expr, embedding: Expr, model: ScalarValue, order: ClusterOrder) -> Result<DataFrame> {
    let assignment = kmeans_assign_udf().call(vec![embedding.clone(), lit(model)]);
    let mut columns = vec![assignment.alias("__odis_assignment"), id.alias(ID), embedding.alias(EMBEDDING)];
    let distance = get_field(col("__odis_assignment"), "distance");
    let order = match order {
        ClusterOrder::Farthest => distance,
        ClusterOrder::Nearest => -distance,
        ClusterOrder::Descending(value) => {
            columns.push(cast(value, DataType::Float64).alias("__odis_order_value"));
            col("__odis_order_value")
        }
    };
    rows.select(columns)?.filter(col("__odis_assignment").is_not_null())?.select(vec![
        cast(get_field(col("__odis_assignment"), "cluster"), DataType::Int64).alias(GROUP),
        col(ID),
        col(EMBEDDING),
        order.alias(ORDER),
    ])
}

/// The k-means model of `embedding` over `rows`, fitted by a plan (on the
/// session's cluster when it has one), as a literal for `kmeans_assign`.
pub async fn fit(rows: DataFrame, embedding: Expr, k: u64, spec: &KMeansSpec) -> Result<ScalarValue> {
    let fit = kmeans_fit_udaf().call(vec![embedding, lit(k as i64), lit(spec.to_string())]);
    let batches = rows.aggregate(vec![], vec![fit.alias("model")])?.collect().await?;
    let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| DataFusionError::Internal("kmeans_fit gave no row".into()))?;
    ScalarValue::try_from_array(batch.column(0), 0)
}

/// Runs `spec`'s work over `rows` (the columns [`GROUP`], [`ID`],
/// [`EMBEDDING`], [`ORDER`]) where the session runs plans; the output rows.
pub async fn run_per_group(state: &SessionState, rows: DataFrame, spec: GroupSpec) -> Result<Vec<RecordBatch>> {
    let plan = per_group_plan(plan_of(rows, state).await?, spec, state.config().target_partitions())?;
    run(plan, state)?.try_collect().await
}

/// As [`run_per_group`], its output streamed in `order` (ascending column
/// names; a sort that spills), not collected.
pub async fn stream_per_group(state: &SessionState, rows: DataFrame, spec: GroupSpec, order: &[&str]) -> Result<SendableRecordBatchStream> {
    let plan = per_group_plan(plan_of(rows, state).await?, spec, state.config().target_partitions())?;
    let schema = plan.schema();
    let ascending = SortOptions { descending: false, nulls_first: false };
    let ordering = order.iter().map(|c| Ok(PhysicalSortExpr::new(physical_col(c, &schema)?, ascending))).collect::<Result<Vec<_>>>()?;
    let ordering = LexOrdering::new(ordering).ok_or_else(|| DataFusionError::Internal("an empty order".into()))?;
    run(Arc::new(SortExec::new(ordering, plan)), state)
}

/// The per-group work over each partition of its sorted input.
#[derive(Debug)]
pub struct PerGroupExec {
    input: Arc<dyn ExecutionPlan>,
    pub spec: GroupSpec,
    /// What the input must be, stated so that an optimizer (a cluster's
    /// scheduler runs DataFusion's on the plans it gets) keeps the
    /// repartition and the sort: all of a group's rows in one partition, in
    /// [`group_ordering`].
    group: Arc<dyn PhysicalExpr>,
    ordering: LexOrdering,
    properties: Arc<PlanProperties>,
}

impl PerGroupExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, spec: GroupSpec) -> Result<Self> {
        let input_schema = input.schema();
        let id_type = input_schema.field_with_name(ID)?.data_type().clone();
        let (group, ordering) = (physical_col(GROUP, &input_schema)?, group_ordering(&input_schema)?);
        let schema = spec.output_schema(&id_type);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(input.properties().output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { input, spec, group, ordering, properties })
    }
}

impl DisplayAs for PerGroupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PerGroupExec: {} {:?}", self.spec.function, self.spec.work)
    }
}

impl ExecutionPlan for PerGroupExec {
    fn name(&self) -> &str {
        "PerGroupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::KeyPartitioned(vec![Arc::clone(&self.group)])]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![Some(OrderingRequirements::new(LexRequirement::from(self.ordering.clone())))]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(children.remove(0), self.spec.clone())?))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let codec = IdCodec::new(self.input.schema().field_with_name(ID)?.data_type())?;
        let state = GroupState { spec: self.spec.clone(), codec, schema: Arc::clone(&schema), group: None, rows: Rows::default() };
        // Each input batch may finish groups; the end of the input finishes
        // the last one.
        let stream = futures::stream::try_unfold((input, state, false), |(mut input, mut state, done)| async move {
            if done {
                return Ok(None);
            }
            match input.next().await {
                Some(batch) => {
                    let out = state.absorb(&batch?)?;
                    Ok(Some((out, (input, state, false))))
                }
                None => {
                    let mut out = Output::default();
                    state.finish_group(&mut out)?;
                    let out = out.batch(&state.spec.work, &state.schema, &state.codec)?;
                    Ok(Some((out, (input, state, true))))
                }
            }
        })
        .try_filter_map(|out| futures::future::ready(Ok(out)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// One group's rows, in the input's order.
#[derive(Default)]
struct Rows {
    /// SemDeDup: rows of the group before the first one held (dropped once
    /// no later row compares with them), and rows compared so far.
    dropped: usize,
    compared: usize,
    ids: Vec<IdKey>,
    /// Row-major unit vectors.
    values: Vec<f32>,
    order: Vec<f64>,
    dims: Option<usize>,
    /// Rows of the group seen beyond those kept (DPP keeps its pool only).
    skipped: u64,
}

struct GroupState {
    spec: GroupSpec,
    codec: IdCodec,
    schema: SchemaRef,
    group: Option<i64>,
    rows: Rows,
}

/// Rows of output, of either kind of work.
#[derive(Default)]
struct Output {
    ids: Vec<IdKey>,
    /// SemDeDup: the earlier row each is most similar to.
    others: Vec<IdKey>,
    /// DPP: the group and the pick's rank in it.
    groups: Vec<i64>,
    ranks: Vec<i64>,
    /// SemDeDup: the similarity; DPP: the pick's gain in log det L.
    scores: Vec<f64>,
}

impl Output {
    fn batch(self, work: &GroupWork, schema: &SchemaRef, codec: &IdCodec) -> Result<Option<RecordBatch>> {
        if self.ids.is_empty() {
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = match work {
            GroupWork::SemanticDuplicates { .. } => {
                vec![codec.values(&self.ids)?, codec.values(&self.others)?, Arc::new(Float64Array::from(self.scores))]
            }
            GroupWork::Dpp { .. } => vec![
                Arc::new(Int64Array::from(self.groups)),
                Arc::new(Int64Array::from(self.ranks)),
                Arc::new(Float64Array::from(self.scores)),
                codec.values(&self.ids)?,
            ],
        };
        Ok(Some(RecordBatch::try_new(Arc::clone(schema), columns)?))
    }
}

impl GroupState {
    fn absorb(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let groups = batch.column(0).as_primitive::<Int64Type>();
        let keys = self.codec.keys(batch.column(1))?;
        let vectors = Vectors::try_new(batch.column(2))?;
        let order = datafusion::arrow::compute::cast(batch.column(3), &DataType::Float64)?;
        let order = order.as_primitive::<Float64Type>();
        let mut out = Output::default();
        for i in 0..batch.num_rows() {
            let group = groups.value(i);
            if self.group != Some(group) {
                self.finish_group(&mut out)?;
                self.group = Some(group);
            }
            if let GroupWork::Dpp { pool, quotas, .. } = &self.spec.work {
                let quota = quotas.get(group as usize).copied().unwrap_or(0);
                if self.rows.ids.len() as u64 >= pool.saturating_mul(quota) {
                    self.rows.skipped += 1;
                    continue;
                }
            }
            let Some(Ok(x)) = vectors.finite_row(i) else { continue };
            let dims = *self.rows.dims.get_or_insert(x.len());
            if x.len() != dims {
                return Err(mixed_embedding_lengths(&self.spec.function, dims, x.len()));
            }
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                continue;
            }
            self.rows.values.extend(x.iter().map(|v| (v / norm) as f32));
            self.rows.ids.push(keys.key(i));
            self.rows.order.push(order.value(i));
            if let GroupWork::SemanticDuplicates { eps } = self.spec.work {
                // A block's worth of new rows: compare them now, so that the
                // group's rows before the window can go.
                if self.rows.ids.len() - self.rows.compared >= BLOCK {
                    self.compare(eps, self.rows.compared + BLOCK, &mut out);
                }
            }
        }
        out.batch(&self.spec.work, &self.schema, &self.codec)
    }

    /// SemDeDup of the held rows from the first not compared up to `end`
    /// (indices into the held rows), each against the rows of its window;
    /// then the rows no later row can reach are dropped.
    fn compare(&mut self, eps: f64, end: usize, out: &mut Output) {
        let rows = &mut self.rows;
        let dims = rows.dims.unwrap_or(0);
        for (j, i, similarity) in semantic_duplicates(&rows.values, dims, eps, rows.compared..end, SEMDEDUP_WINDOW) {
            out.ids.push(rows.ids[j].clone());
            out.others.push(rows.ids[i].clone());
            out.scores.push(similarity);
        }
        rows.compared = end;
        // Dropped a window's worth at a time, so that the copy is amortised.
        let reachable = rows.compared.saturating_sub(SEMDEDUP_WINDOW);
        if reachable >= SEMDEDUP_WINDOW {
            rows.ids.drain(..reachable);
            rows.values.drain(..reachable * dims);
            rows.order.drain(..reachable);
            rows.compared -= reachable;
            rows.dropped += reachable;
        }
    }

    /// The current group's work, into `out`.
    fn finish_group(&mut self, out: &mut Output) -> Result<()> {
        if let GroupWork::SemanticDuplicates { eps } = self.spec.work {
            let end = self.rows.ids.len();
            self.compare(eps, end, out);
        }
        let rows = std::mem::take(&mut self.rows);
        let Some(group) = self.group else { return Ok(()) };
        let dims = rows.dims.unwrap_or(0);
        match &self.spec.work {
            GroupWork::SemanticDuplicates { .. } => {}
            GroupWork::Dpp { alpha, quotas, .. } => {
                let quota = quotas.get(group as usize).copied().unwrap_or(0) as usize;
                for (rank, (i, gain)) in dpp_greedy(&rows.values, dims, &rows.order, *alpha, quota).into_iter().enumerate() {
                    out.groups.push(group);
                    out.ranks.push(rank as i64 + 1);
                    out.scores.push(gain);
                    out.ids.push(rows.ids[i].clone());
                }
            }
        }
        Ok(())
    }
}

/// Rows a block of SemDeDup's products holds: the scratch is `BLOCK × n`.
const BLOCK: usize = 512;

/// Earlier rows of its group (in the group's order) a row is compared with:
/// every one in a group of up to this many rows, as SemDeDup does; in a
/// larger group (one that the second k-means of `semantic_duplicates` could
/// not split), the last this many, so that a task holds at most this many
/// rows (30 MB of 384-wide embeddings) and does n × 20,000 products, not n².
/// Copies lie close in the order (their distances to the centroid differ by
/// at most their own distance), so the window keeps most of them.
pub const SEMDEDUP_WINDOW: usize = 20_000;

/// SemDeDup over the unit rows `x` of one group in rank order, for the rows
/// `rows`: each whose highest cosine similarity to one of the `window` rows
/// before it exceeds `1 - eps`, with that row (the earliest on ties) and the
/// similarity. Blocked matrix products of a block of rows with the rows of
/// its windows: never a rows × rows matrix.
pub fn semantic_duplicates(x: &[f32], dims: usize, eps: f64, rows: std::ops::Range<usize>, window: usize) -> Vec<(usize, usize, f64)> {
    let n = if dims == 0 { 0 } else { x.len() / dims };
    let mut found = Vec::new();
    let rows = rows.start.max(1)..rows.end.min(n);
    if rows.is_empty() {
        return found;
    }
    let all = ArrayView2::from_shape((n, dims), x).expect("n × d values");
    for start in rows.clone().step_by(BLOCK) {
        let end = (start + BLOCK).min(rows.end);
        let first = start.saturating_sub(window);
        let block = all.slice(ndarray::s![start..end, ..]);
        let before = all.slice(ndarray::s![first..end, ..]);
        let sims = sgemm_abt(block, before);
        for j in start..end {
            let row = sims.row(j - start);
            let mut best: Option<(usize, f32)> = None;
            for i in j.saturating_sub(window)..j {
                let s = row[i - first];
                if best.is_none_or(|(_, b)| s > b) {
                    best = Some((i, s));
                }
            }
            if let Some((i, s)) = best.filter(|&(_, s)| s as f64 > 1.0 - eps) {
                found.push((j, i, s as f64));
            }
        }
    }
    found
}

/// A pick stops when the best residual of S (a unit-diagonal kernel) is below
/// this: the rows left lie in the span of those picked (numerically).
pub const MIN_RESIDUAL: f64 = 1e-10;

/// Greedy MAP inference of the DPP with kernel L = diag(r)·S·diag(r) over `n`
/// unit rows (S their cosine similarities), r = exp(alpha·quality), by
/// Chen et al.'s incremental Cholesky factor: each step picks the row of
/// largest gain log(r²·s) = 2·alpha·quality + log s, s its residual of S
/// given the picks, then updates every residual with one new factor column.
/// Ties go to the lower index. The picks, with their gains (each the
/// increase of log det L_Y within its round).
///
/// S has rank at most the embedding width, so one greedy runs out of rows
/// with a residual after that many picks, whatever `k`: every set larger
/// has det L = 0. Then a new round starts, the same greedy over the rows
/// not yet picked, until `k` picks or no row is left: the budget is filled
/// whenever there are rows, and each round is as diverse as the span
/// allows.
pub fn dpp_greedy(x: &[f32], dims: usize, quality: &[f64], alpha: f64, k: usize) -> Vec<(usize, f64)> {
    let n = quality.len();
    let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut picked = vec![false; n];
    let mut picks = Vec::with_capacity(k.min(n));
    while picks.len() < k.min(n) {
        let before = picks.len();
        dpp_round(&x, dims, quality, alpha, k - before, &mut picked, &mut picks);
        if picks.len() == before {
            // No row left has a direction.
            break;
        }
    }
    picks
}

/// One round of [`dpp_greedy`] over the rows not `picked`: up to `k`
/// picks, appended to `picks` and marked in `picked`.
fn dpp_round(x: &[f64], dims: usize, quality: &[f64], alpha: f64, k: usize, picked: &mut [bool], picks: &mut Vec<(usize, f64)>) {
    let n = quality.len();
    let left = picked.iter().filter(|&&p| !p).count();
    // No more than dims + 1 picks can have a residual (S has rank <= dims).
    let width = k.min(left).min(dims + 1);
    let mut factors = vec![0.0f64; n * width];
    // The diagonal of S as the rows are stored (unit to f32 precision):
    // residuals of rows in the picks' span then come out near 0, not 1e-7.
    let mut residual: Vec<f64> = x.chunks(dims.max(1)).take(n).map(|r| r.iter().map(|v| v * v).sum()).collect();
    for t in 0..width {
        let mut best: Option<(usize, f64)> = None;
        for i in 0..n {
            if picked[i] || residual[i] <= MIN_RESIDUAL {
                continue;
            }
            let gain = 2.0 * alpha * quality[i] + residual[i].ln();
            if best.is_none_or(|(_, b)| gain > b) {
                best = Some((i, gain));
            }
        }
        let Some((j, gain)) = best else { break };
        picked[j] = true;
        picks.push((j, gain));
        let root = residual[j].sqrt();
        let (xj, cj) = (&x[j * dims..(j + 1) * dims], factors[j * width..j * width + t].to_vec());
        for i in 0..n {
            if picked[i] {
                continue;
            }
            let similarity: f64 = xj.iter().zip(&x[i * dims..(i + 1) * dims]).map(|(a, b)| a * b).sum();
            let earlier: f64 = cj.iter().zip(&factors[i * width..i * width + t]).map(|(a, b)| a * b).sum();
            let e = (similarity - earlier) / root;
            factors[i * width + t] = e;
            residual[i] -= e * e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(rows: &[&[f64]]) -> Vec<f32> {
        rows.iter()
            .flat_map(|r| {
                let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
                r.iter().map(move |v| (v / norm) as f32)
            })
            .collect()
    }

    #[test]
    fn semdedup_compares_with_every_earlier_row() {
        // Row 1 is near row 0, row 2 near row 1 but not near row 0: row 2 is
        // a duplicate of row 1 although row 1 is itself dropped.
        let x = unit(&[&[1.0, 0.0], &[1.0, 0.3], &[1.0, 0.62], &[0.0, 1.0]]);
        let found = semantic_duplicates(&x, 2, 0.05, 0..4, SEMDEDUP_WINDOW);
        let pairs: Vec<(usize, usize)> = found.iter().map(|&(j, i, _)| (j, i)).collect();
        assert_eq!(pairs, [(1, 0), (2, 1)]);
        assert!(found.iter().all(|&(_, _, s)| s > 0.95));
        // More rows than a block: an exact copy far apart in the order.
        let mut rows: Vec<Vec<f64>> = (0..1200).map(|i| vec![(i as f64).cos(), (i as f64).sin(), 5.0 + (i % 7) as f64]).collect();
        rows.push(rows[3].clone());
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let found = semantic_duplicates(&unit(&refs), 3, 1e-6, 0..1201, SEMDEDUP_WINDOW);
        assert!(found.contains(&(1200, 3, found.iter().find(|f| f.0 == 1200).unwrap().2)), "{:?}", &found[..found.len().min(5)]);
    }

    #[test]
    fn semdedup_compares_with_the_rows_of_its_window() {
        // A copy two rows later: found with a window of 2, not of 1.
        let x = unit(&[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 0.0]]);
        let pairs = |window| semantic_duplicates(&x, 2, 0.05, 0..3, window).iter().map(|&(j, i, _)| (j, i)).collect::<Vec<_>>();
        assert_eq!(pairs(2), [(2, 0)]);
        assert!(pairs(1).is_empty());
        // Rows compared in parts find what one pass finds.
        let rows: Vec<Vec<f64>> = (0..40).map(|i| vec![((i % 9) as f64).cos(), ((i % 9) as f64).sin()]).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let x = unit(&refs);
        let whole = semantic_duplicates(&x, 2, 0.01, 0..40, 40);
        let parts = [semantic_duplicates(&x, 2, 0.01, 0..17, 40), semantic_duplicates(&x, 2, 0.01, 17..40, 40)].concat();
        assert_eq!(whole, parts);
    }

    #[test]
    fn dpp_trades_quality_for_diversity_and_starts_a_round_at_the_rank() {
        // Two near-identical rows of high quality and one orthogonal row of
        // lower quality: the second pick is the orthogonal one.
        let x = unit(&[&[1.0, 0.0, 0.0], &[1.0, 0.01, 0.01], &[0.0, 1.0, 0.0]]);
        let picks = dpp_greedy(&x, 3, &[1.0, 0.9, 0.5], 1.0, 3);
        let order: Vec<usize> = picks.iter().map(|p| p.0).collect();
        assert_eq!(order, [0, 2, 1]);
        // The gains are the increments of log det L_Y.
        assert!((picks[0].1 - 2.0).abs() < 1e-12);
        // Rank 2 in 2 dimensions: a third pick has no residual, so it
        // starts a second round, which takes the row left.
        let x = unit(&[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]]);
        let picks = dpp_greedy(&x, 2, &[0.0; 3], 1.0, 3);
        assert_eq!(picks.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2]);
        // A new round's first gain is its row's own: log r² (here 0).
        assert!(picks[2].1.abs() < 1e-6, "{picks:?}");
        // Rows without a direction are never picked, however large k.
        let x = unit(&[&[1.0, 0.0], &[0.0, 1.0]]);
        assert_eq!(dpp_greedy(&x, 2, &[0.0; 2], 1.0, 10).len(), 2);
    }
}
