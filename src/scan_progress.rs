//! Rows read so far by a running plan, for progress bars.
//!
//! A pass over a corpus is one long statement; the only place that sees its
//! progress row by row is the scan. [`count_scanned_rows`] puts a
//! pass-through node above every leaf of a physical plan that adds the rows
//! of each batch to a shared counter (one relaxed atomic add per batch).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Statistics;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs};
use futures::StreamExt;

/// Wraps every leaf of `plan` so that the rows it produces are added to
/// `rows`.
pub fn count_scanned_rows(plan: Arc<dyn ExecutionPlan>, rows: &Arc<AtomicU64>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        if node.children().is_empty() {
            let counted: Arc<dyn ExecutionPlan> = Arc::new(CountRowsExec { input: node, rows: Arc::clone(rows) });
            Ok(Transformed::yes(counted))
        } else {
            Ok(Transformed::no(node))
        }
    })
    .map(|t| t.data)
}

/// Passes its input's batches through, counting their rows.
#[derive(Debug)]
struct CountRowsExec {
    input: Arc<dyn ExecutionPlan>,
    rows: Arc<AtomicU64>,
}

impl DisplayAs for CountRowsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CountRowsExec")
    }
}

impl ExecutionPlan for CountRowsExec {
    fn name(&self) -> &str {
        "CountRowsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children.pop().unwrap_or_else(|| Arc::clone(&self.input));
        Ok(Arc::new(CountRowsExec { input, rows: Arc::clone(&self.rows) }))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(&self, input_stats: &[Arc<Statistics>], _args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        Ok(input_stats.first().cloned().unwrap_or_else(|| Arc::new(Statistics::new_unknown(&self.input.schema()))))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let stream = self.input.execute(partition, context)?;
        let schema = stream.schema();
        let rows = Arc::clone(&self.rows);
        let counted = stream.inspect(move |batch| {
            if let Ok(batch) = batch {
                rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, counted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn every_scanned_row_is_counted_once() {
        let ctx = SessionContext::new();
        let df = ctx.sql("SELECT sum(value) FROM (SELECT * FROM generate_series(1, 10000) UNION ALL SELECT * FROM generate_series(1, 5))").await.unwrap();
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await.unwrap();
        let rows = Arc::new(AtomicU64::new(0));
        let plan = count_scanned_rows(plan, &rows).unwrap();
        let batches = datafusion::physical_plan::collect(plan, task).await.unwrap();
        assert_eq!(batches[0].num_rows(), 1);
        assert_eq!(rows.load(Ordering::Relaxed), 10_005);
    }
}
