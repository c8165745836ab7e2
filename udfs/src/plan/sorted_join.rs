//! A join with a large table that is stored sorted by its key, as a merge:
//! the other side is sorted (a sort that spills) and both are read once in
//! key order, so the large table is neither sorted again nor held in a hash
//! table. DataFusion's planner, given the same join, re-partitions the
//! stored table by hash and sorts it, or builds a hash table of one side.
//! On a cluster it does just that: there the merge's inputs would cross
//! shuffles, which do not keep their order.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{JoinType, NullEquality};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::col as physical_col;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::SortMergeJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::prelude::SessionContext;

use crate::plan::remote::{plan_of, remote};

/// Ascending, NULLs last: the order of every sort here.
pub const ASCENDING: SortOptions = SortOptions { descending: false, nulls_first: false };

/// `plan` in one partition sorted by `ordering`: merged where each of its
/// partitions is already in that order (or in one that begins with it),
/// else sorted (a sort that spills).
pub fn in_order(plan: Arc<dyn ExecutionPlan>, ordering: LexOrdering) -> Arc<dyn ExecutionPlan> {
    let ordered = plan.properties().output_ordering().is_some_and(|o| o.len() >= ordering.len() && o.iter().zip(ordering.iter()).all(|(a, b)| a == b));
    let partitions = plan.properties().output_partitioning().partition_count();
    match (ordered, partitions) {
        (true, 1) => plan,
        (true, _) => Arc::new(SortPreservingMergeExec::new(ordering, plan)),
        (false, 1) => Arc::new(SortExec::new(ordering, plan)),
        (false, _) => Arc::new(SortExec::new(ordering, Arc::new(CoalescePartitionsExec::new(plan)))),
    }
}

/// The inner join of `rows` (sorted here by `key`) with `sorted` (one
/// partition already in ascending order of `sorted_key`, e.g. a file read
/// with its sort order declared), as a frame whose columns are `rows`'s
/// then `sorted`'s.
pub async fn join_sorted(ctx: &SessionContext, rows: DataFrame, key: &str, sorted: DataFrame, sorted_key: &str) -> Result<DataFrame> {
    let state = ctx.state();
    if remote(state.config()).is_some() {
        // A cluster's shuffles do not keep the order of what they move (the
        // optimizer's order-preserving repartitions before the merge lost
        // rows there): the join is planned as any other, each side
        // shuffled by its key and sorted where it lands.
        return rows.join(sorted, JoinType::Inner, &[key], &[sorted_key], None);
    }
    let left = plan_of(rows, &state).await?;
    let right = plan_of(sorted, &state).await?;
    let (left_key, right_key) = (physical_col(key, &left.schema())?, physical_col(sorted_key, &right.schema())?);
    let by = |key: &Arc<dyn PhysicalExpr>| LexOrdering::new([PhysicalSortExpr::new(Arc::clone(key), ASCENDING)]).expect("one key");
    let (left, right) = (in_order(left, by(&left_key)), in_order(right, by(&right_key)));
    let on = vec![(left_key, right_key)];
    let join = SortMergeJoinExec::try_new(left, right, on, None, JoinType::Inner, vec![ASCENDING], NullEquality::NullEqualsNothing)?;
    ctx.read_table(Arc::new(PlanTable(Arc::new(join))))
}

/// A physical plan as a table, so that frame steps (filters, writes) can
/// follow it.
#[derive(Debug)]
pub struct PlanTable(pub Arc<dyn ExecutionPlan>);

#[async_trait]
impl TableProvider for PlanTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(columns) = projection else { return Ok(Arc::clone(&self.0)) };
        let schema = self.0.schema();
        let exprs = columns
            .iter()
            .map(|&i| Ok((Arc::new(datafusion::physical_expr::expressions::Column::new(schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>, schema.field(i).name().clone())))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, Arc::clone(&self.0))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    #[tokio::test]
    async fn a_merge_with_a_sorted_table_joins_without_sorting_it() {
        let ctx = SessionContext::new();
        let rows = ctx.sql("SELECT * FROM (VALUES (3, 'c'), (1, 'a'), (3, 'cc'), (9, 'x')) AS t(k, v)").await.unwrap();
        let sorted = ctx.sql("SELECT * FROM (VALUES (1, 10), (2, 20), (3, 30)) AS s(id, w) ORDER BY id").await.unwrap();
        let joined = join_sorted(&ctx, rows, "k", sorted, "id").await.unwrap();
        let batches = joined.sort(vec![datafusion::prelude::col("v").sort(true, false)]).unwrap().collect().await.unwrap();
        let shown = pretty_format_batches(&batches).unwrap().to_string();
        assert!(shown.contains("| 1 | a  | 1  | 10 |") && shown.contains("| 3 | cc | 3  | 30 |"), "{shown}");
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    }
}
