//! Which document of each cluster datatrove keeps, as a plan node: its
//! clustering (`MinhashDedupCluster`) joins the pairs of band 1, then band 2,
//! ..., into a union-find whose larger set absorbs the smaller (on a tie,
//! the set of the pair's first document absorbs the other), and keeps each
//! set's root. That root is not always the smallest id: a cluster of three
//! that meets a cluster of two keeps the three's root.
//!
//! Clusters are independent, so the union-find runs cluster by cluster:
//! the pairs, labelled with their cluster, are hash-partitioned by label and
//! sorted by (label, band, low id, high id), and a task holds the union-find
//! of one cluster at a time, never the table's, charged to the memory pool
//! (a cluster too large for the limit is an error that says so). The order of the pairs of one
//! band (within a band key: datatrove's, each row after the one before it;
//! across keys: by id here, by the keys' values in datatrove) only changes
//! the root when two keys of one band join the same clusters; on 12,000
//! documents of overlapping real text it changed none.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{Field, Schema, UInt32Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::col as physical_col;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::plan::id_keys::{IdCodec, IdKey};
use crate::plan::remote::by_key;

/// The input columns: each pair's cluster label, band (UInt32), and ids.
pub const LABEL: &str = "odis_label";
pub const BAND: &str = "odis_band";
pub const LOW: &str = "odis_low";
pub const HIGH: &str = "odis_high";

/// `input` (the columns above) partitioned by label and sorted into the
/// union-find's order, into (`odis_node`, `odis_root`) for every node that
/// is not its cluster's root.
pub fn union_by_size_plan(input: Arc<dyn ExecutionPlan>, partitions: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let order = ordering(&input.schema())?;
    by_key(input, order, partitions, |sorted| Ok(Arc::new(UnionBySizeExec::try_new(sorted)?)))
}

fn ordering(schema: &Schema) -> Result<LexOrdering> {
    let ascending = SortOptions { descending: false, nulls_first: false };
    let columns = [LABEL, BAND, LOW, HIGH].map(|c| physical_col(c, schema).map(|e| PhysicalSortExpr::new(e, ascending)));
    Ok(LexOrdering::new(columns.into_iter().collect::<Result<Vec<_>>>()?).expect("non-empty ordering"))
}

/// datatrove's union-find, cluster by cluster, per partition of its sorted
/// input.
#[derive(Debug)]
pub struct UnionBySizeExec {
    input: Arc<dyn ExecutionPlan>,
    label: Arc<dyn PhysicalExpr>,
    ordering: LexOrdering,
    properties: Arc<PlanProperties>,
}

impl UnionBySizeExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let input_schema = input.schema();
        let id_type = input_schema.field_with_name(LOW)?.data_type().clone();
        let (label, ordering) = (physical_col(LABEL, &input_schema)?, ordering(&input_schema)?);
        let schema = Arc::new(Schema::new(vec![Field::new("odis_node", id_type.clone(), false), Field::new("odis_root", id_type, false)]));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(input.properties().output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { input, label, ordering, properties })
    }
}

impl DisplayAs for UnionBySizeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "UnionBySizeExec: datatrove's root of each cluster")
    }
}

impl ExecutionPlan for UnionBySizeExec {
    fn name(&self) -> &str {
        "UnionBySizeExec"
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
        vec![Distribution::KeyPartitioned(vec![Arc::clone(&self.label)])]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![Some(OrderingRequirements::new(LexRequirement::from(self.ordering.clone())))]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(children.remove(0))?))
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        // A cluster's union-find is charged to the memory pool: one cluster
        // too large for the limit is an error, not an allocation past it.
        let reservation = MemoryConsumer::new(format!("UnionBySizeExec[{partition}]")).register(context.memory_pool());
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let input_schema = self.input.schema();
        let codec = Arc::new(IdCodec::new(input_schema.field_with_name(LOW)?.data_type())?);
        let label_codec = IdCodec::new(input_schema.field_with_name(LABEL)?.data_type())?;
        // Shared by the batches and the end of the input, which finishes the
        // last cluster.
        let state = Arc::new(Mutex::new(Clusters::new(reservation)));
        let (out, batch_codec, batch_state) = (Arc::clone(&schema), Arc::clone(&codec), Arc::clone(&state));
        let batches = input.map(move |batch| {
            let batch = batch?;
            let column = |name: &str| batch.column_by_name(name).ok_or_else(|| missing(name));
            let labels = label_codec.keys(column(LABEL)?)?;
            let bands = column(BAND)?.as_primitive::<UInt32Type>().clone();
            let (lows, highs) = (batch_codec.keys(column(LOW)?)?, batch_codec.keys(column(HIGH)?)?);
            let (mut nodes, mut roots) = (Vec::new(), Vec::new());
            let mut state = batch_state.lock().map_err(|_| poisoned())?;
            for i in 0..batch.num_rows() {
                if bands.is_valid(i) {
                    state.push(labels.key(i), lows.key(i), highs.key(i), &mut nodes, &mut roots)?;
                }
            }
            Ok(RecordBatch::try_new(Arc::clone(&out), vec![batch_codec.values(&nodes)?, batch_codec.values(&roots)?])?)
        });
        let out = Arc::clone(&schema);
        let last = futures::stream::once(async move {
            let (mut nodes, mut roots) = (Vec::new(), Vec::new());
            state.lock().map_err(|_| poisoned())?.finish(&mut nodes, &mut roots);
            Ok(RecordBatch::try_new(out, vec![codec.values(&nodes)?, codec.values(&roots)?])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches.chain(last))))
    }
}

fn poisoned() -> DataFusionError {
    DataFusionError::Internal("UnionBySizeExec: a task panicked holding the union-find".to_string())
}

fn missing(column: &str) -> DataFusionError {
    DataFusionError::Internal(format!("UnionBySizeExec: the input has no column {column}"))
}

/// The union-find of the current cluster.
struct Clusters {
    label: Option<IdKey>,
    /// Each node's parent (itself for a root) and, for a root, its set's size.
    parent: HashMap<IdKey, IdKey>,
    size: HashMap<IdKey, u64>,
    /// What `parent` and `size` hold, in the memory pool.
    reservation: MemoryReservation,
}

/// What the union-find holds for one node: its key in both maps and as a
/// parent, with the maps' own overhead.
fn node_bytes(node: &IdKey) -> usize {
    let key = std::mem::size_of::<IdKey>() + if let IdKey::Bytes(bytes) = node { bytes.len() } else { 0 };
    3 * key + std::mem::size_of::<u64>() + 32
}

impl Clusters {
    fn new(reservation: MemoryReservation) -> Self {
        Clusters { label: None, parent: HashMap::new(), size: HashMap::new(), reservation }
    }

    fn find(&mut self, node: &IdKey) -> IdKey {
        let mut root = node.clone();
        while let Some(up) = self.parent.get(&root).filter(|up| **up != root) {
            root = up.clone();
        }
        // Path compression, as datatrove's `parent` does.
        let mut at = node.clone();
        while at != root {
            let up = self.parent.insert(at, root.clone()).expect("a node on the path has a parent");
            at = up;
        }
        root
    }

    /// One pair of the current cluster, or the first of the next (the
    /// finished cluster's nodes then go out).
    fn push(&mut self, label: IdKey, low: IdKey, high: IdKey, nodes: &mut Vec<IdKey>, roots: &mut Vec<IdKey>) -> Result<()> {
        if self.label.as_ref() != Some(&label) {
            self.finish(nodes, roots);
            self.label = Some(label);
        }
        for node in [&low, &high] {
            if !self.parent.contains_key(node) {
                self.reservation.try_grow(node_bytes(node)).map_err(|e| {
                    DataFusionError::ResourcesExhausted(format!(
                        "near_duplicates 'datatrove': a cluster of more than {} documents does not fit the memory limit \
                         while the document datatrove keeps is found; raise the memory limit (--memory-limit, or SET \
                         datafusion.runtime.memory_limit). {e}",
                        self.parent.len()
                    ))
                })?;
                self.parent.insert(node.clone(), node.clone());
            }
        }
        let (mut a, mut b) = (self.find(&low), self.find(&high));
        if a == b {
            return Ok(());
        }
        let (size_a, size_b) = (self.size.get(&a).copied().unwrap_or(1), self.size.get(&b).copied().unwrap_or(1));
        if size_a < size_b {
            std::mem::swap(&mut a, &mut b);
        }
        self.size.remove(&b);
        self.size.insert(a.clone(), size_a + size_b);
        self.parent.insert(b, a);
        Ok(())
    }

    /// The finished cluster's nodes that are not its root, with the root.
    fn finish(&mut self, nodes: &mut Vec<IdKey>, roots: &mut Vec<IdKey>) {
        let mut members: Vec<IdKey> = self.parent.keys().cloned().collect();
        members.sort_unstable();
        for node in members {
            let root = self.find(&node);
            if root != node {
                nodes.push(node);
                roots.push(root);
            }
        }
        self.parent.clear();
        self.size.clear();
        self.reservation.free();
        self.label = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};

    /// (node, root) of the non-roots after the pairs (low, high), in order.
    fn clusters(limit: usize) -> Clusters {
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(limit));
        Clusters::new(MemoryConsumer::new("test").register(&pool))
    }

    fn roots(pairs: &[(i128, i128)]) -> Vec<(i128, i128)> {
        let mut clusters = clusters(1 << 20);
        let (mut nodes, mut roots) = (Vec::new(), Vec::new());
        for &(low, high) in pairs {
            clusters.push(IdKey::Int(0), IdKey::Int(low), IdKey::Int(high), &mut nodes, &mut roots).unwrap();
        }
        clusters.finish(&mut nodes, &mut roots);
        let int = |k: &IdKey| match k {
            IdKey::Int(v) => *v,
            IdKey::Bytes(_) => unreachable!(),
        };
        nodes.iter().zip(&roots).map(|(n, r)| (int(n), int(r))).collect()
    }

    #[test]
    fn the_larger_set_keeps_its_root() {
        // {5, 6, 7} meets {1, 8}: 5 stays, though 1 is smaller.
        assert_eq!(roots(&[(5, 6), (6, 7), (1, 8), (1, 6)]), [(1, 5), (6, 5), (7, 5), (8, 5)]);
        // Sets of one size: the pair's first document's root stays.
        assert_eq!(roots(&[(2, 3), (1, 4), (3, 4)]), [(1, 2), (3, 2), (4, 2)]);
        assert_eq!(roots(&[(2, 3), (1, 4), (1, 3)]), [(2, 1), (3, 1), (4, 1)]);
    }

    #[test]
    fn each_cluster_starts_afresh() {
        let mut clusters = clusters(1 << 20);
        let (mut nodes, mut roots) = (Vec::new(), Vec::new());
        clusters.push(IdKey::Int(1), IdKey::Int(1), IdKey::Int(2), &mut nodes, &mut roots).unwrap();
        assert!(nodes.is_empty());
        assert!(clusters.reservation.size() > 0);
        clusters.push(IdKey::Int(3), IdKey::Int(3), IdKey::Int(4), &mut nodes, &mut roots).unwrap();
        assert_eq!((nodes.clone(), roots.clone()), (vec![IdKey::Int(2)], vec![IdKey::Int(1)]));
        clusters.finish(&mut nodes, &mut roots);
        assert_eq!(nodes, [IdKey::Int(2), IdKey::Int(4)]);
        assert_eq!(clusters.reservation.size(), 0);
    }

    /// A cluster larger than the pool allows is an error that says what to
    /// raise, not memory taken past the limit.
    #[test]
    fn a_cluster_past_the_memory_limit_is_a_clear_error() {
        let mut clusters = clusters(100 * node_bytes(&IdKey::Int(0)));
        let (mut nodes, mut roots) = (Vec::new(), Vec::new());
        let error = (1..1000)
            .map(|i| clusters.push(IdKey::Int(0), IdKey::Int(0), IdKey::Int(i), &mut nodes, &mut roots))
            .find_map(Result::err)
            .expect("the pool runs out");
        let message = error.to_string();
        assert!(message.contains("a cluster of more than 100 documents") && message.contains("raise the memory limit"), "{message}");
    }
}
