//! The candidate pass of the selection functions, as one plan wherever it
//! runs: every partition of the scan fills bounded heaps of its own
//! ([`CandidatesExec`]), one task merges them ([`MergeCandidatesExec`]), and
//! only the merged candidates come back for the draft. In this process the
//! partitions run on DataFusion's own tasks (all cores); on a cluster, on
//! the executors (`codec.rs` carries the two nodes there).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, UInt32Array, UInt64Array, new_null_array};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef, UInt32Type, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{Distribution, EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::plan::id_keys::{IdCodec, IdKey};
use crate::plan::id_keys::unit_interval;
use crate::select::selection::{Candidate, Capacity, Method, RowAt, TopHeap};
use crate::vectors::Vectors;

/// What a candidate task needs besides its input, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CandidateSpec {
    pub function: String,
    pub id_name: String,
    pub method: Method,
    pub capacities: Vec<Capacity>,
    /// Whether the scan's last column is each row's cost (the heaps are
    /// then bounded by cost: [`Capacity::Cost`]).
    #[serde(default)]
    pub costed: bool,
}

/// What a partition's candidate task needs to know of the selection.
#[derive(Debug)]
struct GatherSpec {
    function: String,
    id_name: String,
    id_type: DataType,
    method: Method,
    dims: usize,
    costed: bool,
}

impl GatherSpec {
    /// One partition's rows into heaps of their own.
    async fn absorb(
        &self,
        partition: u32,
        mut stream: SendableRecordBatchStream,
        capacities: Vec<Capacity>,
    ) -> Result<Vec<TopHeap<IdKey>>> {
        let codec = IdCodec::new(&self.id_type)?;
        let dims = self.dims;
        let mut heaps: Vec<TopHeap<IdKey>> = capacities.iter().map(|&c| TopHeap::new(c)).collect();
        // The partition's rows read before this batch.
        let mut base = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let first = base;
            base += batch.num_rows() as u64;
            let at = |i: usize| RowAt { partition, row: first + i as u64 };
            let ids = batch.column(0);
            if ids.null_count() > 0 {
                return Err(exec_err(format!(
                    "{}: id column '{}' has NULL values; every row needs a unique, non-NULL id",
                    self.function, self.id_name
                )));
            }
            let keys = codec.keys(ids)?;
            let score_columns = batch.num_columns() - 1 - self.costed as usize;
            let vectors = if score_columns > 0 { Some(Vectors::try_new(batch.column(1))?) } else { None };
            let costs = if self.costed { Some(self.costs(batch.column(batch.num_columns() - 1), &codec, &keys)?) } else { None };
            let cost = |i: usize| costs.as_ref().map_or(0, |c| c[i]);
            let wrong_length = |i: usize, len: usize| {
                exec_err(format!(
                    "{}: score vectors have different lengths: the row with id {} has {len} scores, expected {dims}; \
                     fix or filter the rows whose vectors have the wrong length",
                    self.function,
                    codec.display(&keys.key(i))
                ))
            };
            for i in 0..batch.num_rows() {
                match &self.method {
                    Method::PerDimension { .. } => {
                        let vectors = vectors.as_ref().expect("scores");
                        let Some(row) = vectors.row(i) else { continue };
                        if row.len() != dims {
                            return Err(wrong_length(i, row.len()));
                        }
                        for (d, &score) in row.iter().enumerate() {
                            if !score.is_finite() || vectors.entry_is_null(i, d) {
                                continue;
                            }
                            let score = equal_zeros(score);
                            if heaps[d].may_accept(score) {
                                heaps[d].offer(Candidate { score, id: keys.key(i), at: at(i), cost: cost(i) });
                            } else {
                                heaps[d].count_rejected();
                            }
                        }
                    }
                    Method::AverageTop | Method::AverageSample { .. } => {
                        let vectors = vectors.as_ref().expect("scores");
                        let row = match vectors.finite_row(i) {
                            None | Some(Err(_)) => continue,
                            Some(Ok(row)) => row,
                        };
                        let mean = row.iter().sum::<f64>() / row.len() as f64;
                        let score = equal_zeros(match &self.method {
                            Method::AverageSample { seed, temperature } => {
                                // Gumbel-top-k: sampling without replacement
                                // proportional to exp(mean / temperature)
                                // (Efraimidis–Spirakis keys, in log space).
                                let u = unit_interval(keys.hash(i, *seed));
                                mean / temperature - (-u.ln()).ln()
                            }
                            _ => mean,
                        });
                        heaps[0].offer(Candidate { score, id: keys.key(i), at: at(i), cost: cost(i) });
                    }
                    Method::Stratified { seed, .. } => {
                        let vectors = vectors.as_ref().expect("scores");
                        let row = match vectors.finite_row(i) {
                            None | Some(Err(_)) => continue,
                            Some(Ok(row)) => row,
                        };
                        let (group, log_weight) = match row {
                            [group, log_weight] => (*group, *log_weight),
                            _ => return Err(DataFusionError::Internal(format!("{}: a stratified row has {} values", self.function, row.len()))),
                        };
                        let Some(heap) = heaps.get_mut(group as usize).filter(|_| group >= 0.0 && group.fract() == 0.0) else {
                            return Err(exec_err(format!(
                                "{}: the row with id {} is in group {group}, outside the {dims} groups counted before \
                                 sampling; the table changed while it was being read, run the query again",
                                self.function,
                                codec.display(&keys.key(i))
                            )));
                        };
                        let score = equal_zeros(match seed {
                            // Gumbel-top-k, as for AverageSample.
                            Some(seed) => log_weight - (-unit_interval(keys.hash(i, *seed)).ln()).ln(),
                            None => log_weight,
                        });
                        if heap.may_accept(score) {
                            heap.offer(Candidate { score, id: keys.key(i), at: at(i), cost: cost(i) });
                        } else {
                            heap.count_rejected();
                        }
                    }
                    Method::Picked => {
                        return Err(DataFusionError::Internal(format!("{}: picked rows have no candidate pass", self.function)));
                    }
                    Method::Uniform { seed } => {
                        let score = unit_interval(keys.hash(i, *seed));
                        if heaps[0].may_accept(score) {
                            heaps[0].offer(Candidate { score, id: keys.key(i), at: at(i), cost: cost(i) });
                        } else {
                            heaps[0].count_rejected();
                        }
                    }
                }
            }
        }
        Ok(heaps)
    }

    /// Each row's cost: a non-negative integer, never NULL.
    fn costs(&self, column: &ArrayRef, codec: &IdCodec, keys: &crate::plan::id_keys::IdKeys) -> Result<Vec<u64>> {
        let values = datafusion::arrow::compute::cast(column, &DataType::Int64)?;
        let values = values.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        (0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    return Err(exec_err(format!(
                        "{}: the cost of the row with id {} is NULL; give every row a cost (e.g. COALESCE(cost, 0)) or filter those rows",
                        self.function,
                        codec.display(&keys.key(i))
                    )));
                }
                u64::try_from(values.value(i)).map_err(|_| {
                    exec_err(format!(
                        "{}: the cost of the row with id {} is {}; costs (tokens, bytes) must be non-negative",
                        self.function,
                        codec.display(&keys.key(i)),
                        values.value(i)
                    ))
                })
            })
            .collect()
    }
}

/// -0.0 and 0.0 are the same score: candidates are ordered by IEEE total
/// order, which tells them apart, so a tie between them would not be broken
/// by id as documented. Adding +0.0 turns -0.0 into 0.0 and changes nothing else.
fn equal_zeros(score: f64) -> f64 {
    score + 0.0
}

fn exec_err(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

/// Candidates as rows: one per kept candidate (dim, score, id, where it was
/// read: a tag of the task's stream and the row's ordinal in it, and its
/// cost), then one per dimension with how many candidates it saw
/// (`odis_seen`; the other columns NULL).
fn candidate_schema(id_type: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("odis_dim", DataType::UInt32, false),
        Field::new("odis_score", DataType::Float64, true),
        Field::new("odis_id", id_type.clone(), true),
        Field::new("odis_stream", DataType::UInt32, true),
        Field::new("odis_row", DataType::UInt64, true),
        Field::new("odis_seen", DataType::UInt64, true),
        Field::new("odis_cost", DataType::UInt64, true),
    ]))
}

/// Heaps as candidate rows (see [`candidate_schema`]).
fn candidates_batch(schema: &SchemaRef, codec: &IdCodec, heaps: Vec<TopHeap<IdKey>>) -> Result<RecordBatch> {
    let dims = heaps.len();
    let (mut dim, mut score, mut keys, mut stream, mut row) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cost = Vec::new();
    let mut seen = Vec::with_capacity(dims);
    for (d, heap) in heaps.into_iter().enumerate() {
        seen.push(heap.seen());
        let (sorted, _) = heap.into_sorted();
        for c in sorted {
            dim.push(d as u32);
            score.push(c.score);
            keys.push(c.id);
            stream.push(c.at.partition);
            row.push(c.at.row);
            cost.push(c.cost);
        }
    }
    let kept = dim.len();
    dim.extend(0..dims as u32);
    let ids = codec.values(&keys)?;
    let id_type = schema.field(2).data_type();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(dim)),
        Arc::new(Float64Array::from_iter(score.into_iter().map(Some).chain(std::iter::repeat_n(None, dims)))),
        concat(&[ids.as_ref(), new_null_array(id_type, dims).as_ref()])?,
        Arc::new(UInt32Array::from_iter(stream.into_iter().map(Some).chain(std::iter::repeat_n(None, dims)))),
        Arc::new(UInt64Array::from_iter(row.into_iter().map(Some).chain(std::iter::repeat_n(None, dims)))),
        Arc::new(UInt64Array::from_iter(std::iter::repeat_n(None, kept).chain(seen.into_iter().map(Some)))),
        Arc::new(UInt64Array::from_iter(cost.into_iter().map(Some).chain(std::iter::repeat_n(None, dims)))),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Adds candidate rows (from [`candidates_batch`]) to `heaps`.
pub(crate) fn merge_candidates(batch: &RecordBatch, codec: &IdCodec, heaps: &mut [TopHeap<IdKey>]) -> Result<()> {
    let dim = batch.column(0).as_primitive::<UInt32Type>();
    let score = batch.column(1).as_primitive::<Float64Type>();
    let keys = codec.keys(batch.column(2))?;
    let stream = batch.column(3).as_primitive::<UInt32Type>();
    let row = batch.column(4).as_primitive::<UInt64Type>();
    let seen = batch.column(5).as_primitive::<UInt64Type>();
    let cost = batch.column(6).as_primitive::<UInt64Type>();
    let dims = heaps.len();
    for i in 0..batch.num_rows() {
        let heap = heaps
            .get_mut(dim.value(i) as usize)
            .ok_or_else(|| DataFusionError::Internal(format!("a candidate of dimension {} of {dims}", dim.value(i))))?;
        if seen.is_valid(i) {
            heap.count_seen(seen.value(i));
        } else {
            let at = RowAt { partition: stream.value(i), row: row.value(i) };
            heap.offer_counted(Candidate { score: score.value(i), id: keys.key(i), at, cost: cost.value(i) });
        }
    }
    Ok(())
}

/// A tag for one partition's stream of one task, the same in every run of
/// it: rows of different tasks must not look like one row read twice (the
/// draft tells two rows sharing an id from one row in two top lists by
/// where they were read). A clash would only hide a duplicate id from the
/// draft; the fetch still counts every selected row.
fn stream_tag(context: &TaskContext, partition: usize) -> u32 {
    match context.task_id() {
        None => partition as u32,
        Some(task) => {
            let hash = xxhash_rust::xxh3::xxh3_64_with_seed(task.as_bytes(), partition as u64);
            (hash >> 32) as u32
        }
    }
}

fn properties(schema: SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Final,
        Boundedness::Bounded,
    ))
}

/// The candidate pass over each partition of its input (the id, then the
/// scores): bounded heaps per dimension, emitted as candidate rows when the
/// partition ends. Runs wherever its input's partitions run.
#[derive(Debug)]
pub struct CandidatesExec {
    input: Arc<dyn ExecutionPlan>,
    pub(crate) spec: CandidateSpec,
    gather: Arc<GatherSpec>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl CandidatesExec {
    pub(crate) fn try_new(input: Arc<dyn ExecutionPlan>, spec: CandidateSpec) -> Result<Self> {
        let id_type = input.schema().field(0).data_type().clone();
        let gather = Arc::new(GatherSpec {
            function: spec.function.clone(),
            id_name: spec.id_name.clone(),
            id_type: id_type.clone(),
            method: spec.method.clone(),
            dims: spec.capacities.len(),
            costed: spec.costed,
        });
        let schema = candidate_schema(&id_type);
        let partitions = input.properties().output_partitioning().partition_count();
        Ok(Self {
            input,
            spec,
            gather,
            properties: properties(Arc::clone(&schema), partitions),
            schema,
        })
    }
}

impl DisplayAs for CandidatesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CandidatesExec: {}(id={}, capacities={:?})", self.spec.function, self.spec.id_name, self.spec.capacities)
    }
}

impl ExecutionPlan for CandidatesExec {
    fn name(&self) -> &str {
        "CandidatesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
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
        let tag = stream_tag(&context, partition);
        let stream = self.input.execute(partition, context)?;
        let (gather, capacities, schema) = (Arc::clone(&self.gather), self.spec.capacities.clone(), Arc::clone(&self.schema));
        let future = async move {
            let heaps = gather.absorb(tag, stream, capacities).await?;
            candidates_batch(&schema, &IdCodec::new(&gather.id_type)?, heaps)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), futures::stream::once(future))))
    }
}

/// Merges the candidate rows of every partition of its input into one set
/// of bounded heaps: what the draft reads.
#[derive(Debug)]
pub struct MergeCandidatesExec {
    input: Arc<dyn ExecutionPlan>,
    pub(crate) capacities: Vec<Capacity>,
    properties: Arc<PlanProperties>,
}

impl MergeCandidatesExec {
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, capacities: Vec<Capacity>) -> Self {
        let properties = properties(input.schema(), 1);
        Self { input, capacities, properties }
    }
}

impl DisplayAs for MergeCandidatesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MergeCandidatesExec: capacities={:?}", self.capacities)
    }
}

impl ExecutionPlan for MergeCandidatesExec {
    fn name(&self) -> &str {
        "MergeCandidatesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(children.remove(0), self.capacities.clone())))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!("MergeCandidatesExec has one partition, asked for {partition}")));
        }
        let schema = self.input.schema();
        let mut input = self.input.execute(0, context)?;
        let capacities = self.capacities.clone();
        let out = Arc::clone(&schema);
        let future = async move {
            let codec = IdCodec::new(out.field(2).data_type())?;
            let mut heaps: Vec<TopHeap<IdKey>> = capacities.iter().map(|&c| TopHeap::new(c)).collect();
            while let Some(batch) = input.next().await {
                merge_candidates(&batch?, &codec, &mut heaps)?;
            }
            candidates_batch(&out, &codec, heaps)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::once(future))))
    }
}

/// The candidate pass as a plan: candidates per partition, merged in one
/// task.
pub(crate) fn candidate_plan(scan: Arc<dyn ExecutionPlan>, spec: CandidateSpec) -> Result<Arc<dyn ExecutionPlan>> {
    use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
    let capacities = spec.capacities.clone();
    let candidates = Arc::new(CandidatesExec::try_new(scan, spec)?);
    Ok(Arc::new(MergeCandidatesExec::new(Arc::new(CoalescePartitionsExec::new(candidates)), capacities)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::prelude::SessionContext;

    pub(crate) fn scored(ids: Vec<i64>, scores: Vec<f64>) -> RecordBatch {
        let list = datafusion::arrow::array::ListArray::from_iter_primitive::<datafusion::arrow::datatypes::Float64Type, _, _>(
            scores.into_iter().map(|s| Some(vec![Some(s), Some(-s)])),
        );
        RecordBatch::try_from_iter(vec![("id", Arc::new(Int64Array::from(ids)) as ArrayRef), ("s", Arc::new(list) as ArrayRef)]).unwrap()
    }

    pub(crate) fn spec(capacities: Vec<u64>) -> CandidateSpec {
        CandidateSpec {
            function: "top_k_per_dim".into(),
            id_name: "id".into(),
            method: Method::PerDimension { weights: None },
            capacities: capacities.into_iter().map(Capacity::Rows).collect(),
            costed: false,
        }
    }

    pub(crate) async fn merged(plan: Arc<dyn ExecutionPlan>, capacities: Vec<u64>) -> Vec<(u32, Vec<i64>, u64)> {
        let ctx = SessionContext::new();
        let batches = datafusion::physical_plan::collect(plan, ctx.task_ctx()).await.unwrap();
        let codec = IdCodec::new(&DataType::Int64).unwrap();
        let mut heaps: Vec<TopHeap<IdKey>> = capacities.iter().map(|&c| TopHeap::new(Capacity::Rows(c))).collect();
        for b in &batches {
            merge_candidates(b, &codec, &mut heaps).unwrap();
        }
        heaps
            .into_iter()
            .enumerate()
            .map(|(d, h)| {
                let seen = h.seen();
                let ids = h.into_sorted().0.into_iter().map(|c| match c.id {
                    IdKey::Int(v) => v as i64,
                    IdKey::Bytes(_) => unreachable!(),
                });
                (d as u32, ids.collect(), seen)
            })
            .collect()
    }

    /// Three partitions merged in the plan equal one partition of the same
    /// rows: the heaps keep the best by (score, id) wherever rows fell.
    #[tokio::test]
    async fn partitions_merge_to_the_same_candidates() {
        let rows = (0..30i64).collect::<Vec<_>>();
        let score = |i: i64| ((i * 7) % 11) as f64;
        let whole = scored(rows.clone(), rows.iter().map(|&i| score(i)).collect());
        let parts: Vec<Vec<RecordBatch>> = rows
            .chunks(10)
            .map(|c| vec![scored(c.to_vec(), c.iter().map(|&i| score(i)).collect())])
            .collect();
        let one = MemorySourceConfig::try_new_exec(&[vec![whole.clone()]], whole.schema(), None).unwrap();
        let three = MemorySourceConfig::try_new_exec(&parts, whole.schema(), None).unwrap();
        let a = merged(candidate_plan(one, spec(vec![4, 4])).unwrap(), vec![4, 4]).await;
        let b = merged(candidate_plan(three, spec(vec![4, 4])).unwrap(), vec![4, 4]).await;
        assert_eq!(a, b);
        // 30 rows seen per dimension; the best four of dimension 0 are the
        // rows scored 10 (i*7 % 11 == 10: i = 3, 14, 25) then the lowest id scored 9.
        assert_eq!(a[0], (0, vec![3, 14, 25, 6], 30));
        assert_eq!(a[1].2, 30);
    }
}
