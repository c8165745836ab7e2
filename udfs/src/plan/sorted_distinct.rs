//! The distinct rows of a frame by sorting, not hashing: the rows sorted by
//! all their columns (a sort that spills), each kept unless it equals the
//! one before it. DataFusion's DISTINCT is a hash aggregate, which under a
//! memory limit spills its groups sorted and merges them anyway; here they
//! come out in that order, so that a merge with a table sorted by the first
//! column (`sorted_join.rs`) takes them as they are.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::col as physical_col;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::plan::remote::{plan_of, remote};
use crate::plan::sorted_join::{ASCENDING, PlanTable, in_order};

/// The distinct rows of `rows`, in one partition, in ascending order of
/// its columns from the first. On a cluster, DataFusion's own DISTINCT
/// (whose shuffles would not keep an order anyway).
pub async fn distinct_sorted(ctx: &SessionContext, rows: DataFrame) -> Result<DataFrame> {
    let state = ctx.state();
    if remote(state.config()).is_some() {
        return rows.distinct();
    }
    let plan = plan_of(rows, &state).await?;
    let schema = plan.schema();
    let by = schema.fields().iter().map(|f| Ok(PhysicalSortExpr::new(physical_col(f.name(), &schema)?, ASCENDING))).collect::<Result<Vec<_>>>()?;
    let ordering = LexOrdering::new(by).ok_or_else(|| DataFusionError::Internal("distinct_sorted: rows of no columns".into()))?;
    let distinct = DistinctSortedExec::new(in_order(plan, ordering.clone()), ordering);
    ctx.read_table(Arc::new(PlanTable(Arc::new(distinct))))
}

/// Each row of its input (one partition, sorted by `ordering`, which names
/// every column) that differs from the one before it.
#[derive(Debug)]
pub struct DistinctSortedExec {
    input: Arc<dyn ExecutionPlan>,
    ordering: LexOrdering,
    properties: Arc<PlanProperties>,
}

impl DistinctSortedExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, ordering: LexOrdering) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new_with_orderings(input.schema(), [ordering.clone()]),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self { input, ordering, properties }
    }
}

impl DisplayAs for DistinctSortedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DistinctSortedExec: each row unless it equals the one before")
    }
}

impl ExecutionPlan for DistinctSortedExec {
    fn name(&self) -> &str {
        "DistinctSortedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![Some(OrderingRequirements::new(LexRequirement::from(self.ordering.clone())))]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(children.remove(0), self.ordering.clone())))
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let converter = RowConverter::new(schema.fields().iter().map(|f| SortField::new(f.data_type().clone())).collect())?;
        let mut last: Option<OwnedRow> = None;
        let stream = self.input.execute(partition, context)?.map(move |batch| {
            let batch = batch?;
            if batch.num_rows() == 0 {
                return Ok(batch);
            }
            let rows = converter.convert_columns(batch.columns())?;
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| {
                    Some(match i {
                        0 => last.as_ref().is_none_or(|last| last.row() != rows.row(0)),
                        _ => rows.row(i - 1) != rows.row(i),
                    })
                })
                .collect();
            last = Some(rows.row(batch.num_rows() - 1).owned());
            Ok(filter_record_batch(&batch, &keep)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionConfig;

    /// The same rows as DISTINCT, in order, across batches of 7 rows read
    /// from 3 partitions, for integer and text columns.
    #[tokio::test]
    async fn the_rows_of_distinct_in_order_without_a_hash_table() {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(7).with_target_partitions(3));
        ctx.sql("CREATE TABLE r AS SELECT value * 7 % 50 AS a, CAST(value % 3 AS VARCHAR) AS b FROM generate_series(1, 400)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let ours = distinct_sorted(&ctx, ctx.table("r").await.unwrap()).await.unwrap();
        let plan = datafusion::physical_plan::displayable(ours.clone().create_physical_plan().await.unwrap().as_ref()).indent(false).to_string();
        assert!(plan.contains("DistinctSortedExec") && !plan.contains("AggregateExec"), "{plan}");
        let shown = |batches: &[RecordBatch]| pretty_format_batches(batches).unwrap().to_string();
        let ours = shown(&ours.collect().await.unwrap());
        let theirs = shown(&ctx.sql("SELECT DISTINCT a, b FROM r ORDER BY a, b").await.unwrap().collect().await.unwrap());
        assert_eq!(ours, theirs);
        assert_eq!(ours.lines().count(), 150 + 4, "50 values of a, 3 of b, and the table's frame");
        // Rows sorted by their first column only: sorted again, by both.
        let by_a = ctx.table("r").await.unwrap().sort(vec![datafusion::prelude::col("a").sort(true, false)]).unwrap();
        assert_eq!(shown(&distinct_sorted(&ctx, by_a).await.unwrap().collect().await.unwrap()), theirs);
    }
}
