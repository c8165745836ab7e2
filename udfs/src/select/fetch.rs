//! The fetch pass of the selection functions, as one plan node wherever it
//! runs: [`FetchExec`] reads each partition of the table's scan and keeps
//! the drafted rows, with their component, rank and score appended. Here it
//! may find them by position (where the candidate pass read them); on a
//! cluster, or when the scan's order is not fixed, by id. The client checks
//! that every pick arrives once (see `selection_plan.rs`).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, RecordBatch, UInt64Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::plan::id_keys::{IdCodec, IdKey};
use crate::select::selection::{Pick, RowAt};

/// Columns appended to the selected rows.
pub const DIM_COLUMN: &str = "odis_dim";
pub const RANK_COLUMN: &str = "odis_rank";
pub const SCORE_COLUMN: &str = "odis_score";

/// How the fetch finds the selected rows.
enum Locate {
    /// By position: for each partition, the ordinals of its selected rows,
    /// ascending, with their slots in the picks. Valid when the scan reads
    /// its rows in the same order as the candidate pass did; each row's id
    /// is still checked against the pick's.
    Positions(Vec<Vec<(u64, usize)>>),
    /// By id: the selected ids and their slots. Probes every row.
    Ids(foldhash::HashMap<IdKey, usize>),
}

/// The drafted rows a fetch looks for, and how it finds them.
pub struct FetchPicks {
    function: String,
    /// The id's position among the scanned columns.
    id_column: usize,
    id_type: DataType,
    picks: Vec<Pick<IdKey>>,
    locate: Locate,
}

impl fmt::Debug for FetchPicks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchPicks").field("function", &self.function).field("picks", &self.picks.len()).finish_non_exhaustive()
    }
}

impl FetchPicks {
    /// `positions`: the scan's partition count when the picks may be found
    /// where the candidate pass read them (see [`Locate::Positions`]);
    /// `None` finds them by id.
    pub fn new(function: &str, id_column: usize, id_type: &DataType, picks: Vec<Pick<IdKey>>, positions: Option<usize>) -> Self {
        let locate = match positions {
            Some(partitions) => {
                let mut positions: Vec<Vec<(u64, usize)>> = vec![Vec::new(); partitions];
                for (slot, pick) in picks.iter().enumerate() {
                    if let Some(list) = positions.get_mut(pick.at.partition as usize) {
                        list.push((pick.at.row, slot));
                    }
                }
                for list in &mut positions {
                    list.sort_unstable();
                }
                Locate::Positions(positions)
            }
            None => Locate::Ids(picks.iter().enumerate().map(|(slot, p)| (p.id.clone(), slot)).collect()),
        };
        FetchPicks { function: function.to_string(), id_column, id_type: id_type.clone(), picks, locate }
    }

    /// The picks as they travel to a cluster: (function, id column) and a
    /// batch of (id, dim, rank, score). They are found by id there.
    pub(crate) fn to_parts(&self) -> Result<(String, usize, RecordBatch)> {
        let codec = IdCodec::new(&self.id_type)?;
        let keys: Vec<IdKey> = self.picks.iter().map(|p| p.id.clone()).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", self.id_type.clone(), false),
            Field::new(DIM_COLUMN, DataType::Int32, false),
            Field::new(RANK_COLUMN, DataType::Int64, false),
            Field::new(SCORE_COLUMN, DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                codec.values(&keys)?,
                Arc::new(Int32Array::from_iter_values(self.picks.iter().map(|p| p.dim as i32))),
                Arc::new(Int64Array::from_iter_values(self.picks.iter().map(|p| p.rank as i64))),
                Arc::new(Float64Array::from_iter_values(self.picks.iter().map(|p| p.score))),
            ],
        )?;
        Ok((self.function.clone(), self.id_column, batch))
    }

    /// The picks back from [`FetchPicks::to_parts`].
    pub(crate) fn from_parts(function: String, id_column: usize, batch: &RecordBatch) -> Result<Self> {
        let id_type = batch.schema().field(0).data_type().clone();
        let keys = IdCodec::new(&id_type)?.keys(batch.column(0))?;
        let (dims, ranks, scores) = (
            batch.column(1).as_primitive::<Int32Type>(),
            batch.column(2).as_primitive::<Int64Type>(),
            batch.column(3).as_primitive::<Float64Type>(),
        );
        let picks = (0..batch.num_rows())
            .map(|i| Pick {
                id: keys.key(i),
                dim: dims.value(i) as usize,
                rank: ranks.value(i) as u64,
                score: scores.value(i),
                at: RowAt { partition: 0, row: 0 },
                cost: 0,
            })
            .collect();
        Ok(FetchPicks::new(&function, id_column, &id_type, picks, None))
    }

    /// The selected rows of one batch of `partition`, with their placements.
    fn matches(&self, codec: &IdCodec, partition: usize, cursor: &mut Cursor, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut hits: Vec<(u64, usize)> = Vec::new();
        match &self.locate {
            Locate::Positions(positions) => {
                let wanted = positions.get(partition).map(Vec::as_slice).unwrap_or_default();
                let end = cursor.base + batch.num_rows() as u64;
                while let Some(&(row, slot)) = wanted.get(cursor.next).filter(|(row, _)| *row < end) {
                    hits.push((row - cursor.base, slot));
                    cursor.next += 1;
                }
            }
            Locate::Ids(slots) => {
                let keys = codec.keys(batch.column(self.id_column))?;
                for i in 0..batch.num_rows() {
                    if let Some(&slot) = slots.get(&keys.key(i)) {
                        hits.push((i as u64, slot));
                    }
                }
            }
        }
        cursor.base += batch.num_rows() as u64;
        let indices = UInt64Array::from_iter_values(hits.iter().map(|&(i, _)| i));
        let mut columns: Vec<ArrayRef> =
            batch.columns().iter().map(|c| take(c.as_ref(), &indices, None)).collect::<Result<_, _>>()?;
        // Found by position: the row must still have the pick's id. (Found
        // by id, it has.)
        if let Locate::Positions(_) = self.locate {
            let ids = codec.keys(&columns[self.id_column])?;
            if hits.iter().enumerate().any(|(j, &(_, slot))| ids.key(j) != self.picks[slot].id) {
                return Err(changed_while_read(&self.function));
            }
        }
        let picks = hits.iter().map(|&(_, slot)| &self.picks[slot]);
        columns.push(Arc::new(Int32Array::from_iter_values(picks.clone().map(|p| p.dim as i32))));
        columns.push(Arc::new(Int64Array::from_iter_values(picks.clone().map(|p| p.rank as i64))));
        columns.push(Arc::new(Float64Array::from_iter_values(picks.map(|p| p.score))));
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

/// One fetch task's place in its partition's stream.
#[derive(Default)]
struct Cursor {
    /// Rows of the partition before the current batch.
    base: u64,
    /// Next entry of the partition's positions.
    next: usize,
}

/// The selection's table changed between its two passes.
pub(crate) fn changed_while_read(function: &str) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{function}: the table changed while it was being read (the selected rows were not where the first \
         pass read them); run the query again"
    ))
}

/// The input's columns, then odis_dim, odis_rank and odis_score.
pub fn fetch_schema(input: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(DIM_COLUMN, DataType::Int32, false));
    fields.push(Field::new(RANK_COLUMN, DataType::Int64, false));
    fields.push(Field::new(SCORE_COLUMN, DataType::Float64, false));
    Arc::new(Schema::new_with_metadata(fields, input.metadata().clone()))
}

/// The fetch over each partition of its input (the scanned columns, the id
/// among them): the picked rows, with odis_dim, odis_rank and odis_score.
#[derive(Debug)]
pub struct FetchExec {
    input: Arc<dyn ExecutionPlan>,
    pub(crate) picks: Arc<FetchPicks>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl FetchExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, picks: Arc<FetchPicks>) -> Self {
        let schema = fetch_schema(&input.schema());
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        FetchExec { input, picks, schema, properties }
    }
}

impl DisplayAs for FetchExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let by = match self.picks.locate {
            Locate::Positions(_) => "position",
            Locate::Ids(_) => "id",
        };
        write!(f, "FetchExec: {}(picks={}, by={by})", self.picks.function, self.picks.picks.len())
    }
}

impl ExecutionPlan for FetchExec {
    fn name(&self) -> &str {
        "FetchExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(FetchExec::new(children.remove(0), Arc::clone(&self.picks))))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let stream = self.input.execute(partition, context)?;
        let (picks, schema) = (Arc::clone(&self.picks), Arc::clone(&self.schema));
        let codec = IdCodec::new(&picks.id_type)?;
        let mut cursor = Cursor::default();
        let matched = stream.map(move |batch| picks.matches(&codec, partition, &mut cursor, &batch?, &schema));
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), matched)))
    }
}
