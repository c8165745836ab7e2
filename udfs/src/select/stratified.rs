//! What the stratified selection functions share (`ccs_select`,
//! `cluster_balanced_sample`): the water-filling allocation of a budget over
//! groups, and a table that, when it runs, works out the groups and their
//! quotas with a few aggregate plans (here or on the session's cluster), then
//! samples every group through the selection functions' two passes (one
//! candidate pass with a bounded heap per group, one fetch).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, execute_stream};
use datafusion::functions::math::expr_fn::abs;
use datafusion::prelude::{SessionContext, cast, ident, lit};
use futures::TryStreamExt;

use crate::select::budget::Budget;
use crate::select::fetch::fetch_schema;
use crate::select::selection::Method;
use crate::select::selection_plan::{Selection, SelectionTable};
use crate::select::table_args::Column;

/// The budget over groups of `sizes` rows, smallest group first (ties: the
/// lower index): each takes min(its size, what is left ÷ the groups left), so
/// what a small group cannot use goes to the larger ones, and the quotas sum
/// to min(budget, all rows). CCS's allocation ("water-filling"), and
/// Diversify-and-Conquer's equal quota per cluster with its leftovers passed on.
pub fn water_fill(budget: u64, sizes: &[u64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| (sizes[g], g));
    let mut quotas = vec![0; sizes.len()];
    let mut left = budget;
    for (taken, &g) in order.iter().enumerate() {
        let groups_left = (sizes.len() - taken) as u64;
        quotas[g] = sizes[g].min(left / groups_left);
        left -= quotas[g];
    }
    quotas
}

/// The name of the column the view adds: `[group, log_weight]`.
pub(crate) const STRATA_COLUMN: &str = "odis_strata";

/// A selection function's groups, as worked out when it runs.
pub(crate) struct Strata {
    /// The table with one more column, last: [`STRATA_COLUMN`], a list
    /// `[group, log_weight]`, NULL for a row in no group.
    pub view: Arc<dyn TableProvider>,
    pub quotas: Vec<u64>,
    pub seed: u64,
}

/// A stratified selection function, before it runs.
#[async_trait]
pub(crate) trait StratifiedFunction: fmt::Debug + Send + Sync {
    fn function(&self) -> &'static str;
    fn table_name(&self) -> &str;
    fn table(&self) -> &Arc<dyn TableProvider>;
    fn id(&self) -> &Column;
    /// The settings, for EXPLAIN.
    fn describe(&self) -> String;
    /// Runs the plans that find the groups and their quotas.
    async fn strata(&self, ctx: &SessionContext) -> Result<Strata>;
}

/// The view of [`Strata`]: `table`'s columns, then `strata` as [`STRATA_COLUMN`].
pub(crate) fn strata_view(ctx: &SessionContext, table: &Arc<dyn TableProvider>, strata: Expr) -> Result<Arc<dyn TableProvider>> {
    let mut columns: Vec<Expr> = table.schema().fields().iter().map(|f| ident(f.name())).collect();
    columns.push(strata.alias(STRATA_COLUMN));
    Ok(ctx.read_table(Arc::clone(table))?.select(columns)?.into_view())
}

/// Whether `value`, as a Float64, is a number other than ±inf and NaN
/// (which orders above +inf in comparisons).
pub(crate) fn is_finite(value: Expr) -> Expr {
    abs(cast(value, DataType::Float64)).lt(lit(f64::INFINITY))
}

/// The rows of a table resolved at run time, for a budget given as a fraction.
pub(crate) async fn resolve_budget(ctx: &SessionContext, table: &Arc<dyn TableProvider>, budget: Budget) -> Result<u64> {
    Ok(match budget {
        Budget::Rows(n) => n,
        Budget::Fraction(_) => budget.resolve(ctx.read_table(Arc::clone(table))?.count().await? as u64),
    })
}

/// A stratified selection function's result as a table: the input's
/// columns, then odis_dim (the group), odis_rank and odis_score (the row's
/// sampling key), as the other selection functions give them.
#[derive(Debug)]
pub(crate) struct StratifiedTable {
    function: Arc<dyn StratifiedFunction>,
    schema: SchemaRef,
}

impl StratifiedTable {
    pub(crate) fn new(function: Arc<dyn StratifiedFunction>) -> Self {
        let schema = fetch_schema(&function.table().schema());
        Self { function, schema }
    }
}

#[async_trait]
impl TableProvider for StratifiedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = session
            .as_any()
            .downcast_ref::<SessionState>()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("{} needs a DataFusion SessionState", self.function.function())))?;
        let projection = projection.cloned().unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let schema = Arc::new(self.schema.project(&projection)?);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Arc::new(StratifiedExec { function: Arc::clone(&self.function), state, projection, schema, properties }))
    }
}

/// Runs in this process: the group plans, then the selection's own nodes
/// (which run their plans here or on the session's cluster).
#[derive(Debug)]
pub struct StratifiedExec {
    function: Arc<dyn StratifiedFunction>,
    state: SessionState,
    /// Columns of [`StratifiedTable`]'s schema.
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

async fn run_stratified(
    function: Arc<dyn StratifiedFunction>,
    state: SessionState,
    projection: Vec<usize>,
) -> Result<SendableRecordBatchStream> {
    let ctx = SessionContext::new_with_state(state.clone());
    let strata = function.strata(&ctx).await?;
    let width = function.table().schema().fields().len();
    let view_schema = strata.view.schema();
    let scores = view_schema.index_of(STRATA_COLUMN)?;
    let selection = Selection {
        function: function.function(),
        table_name: function.table_name().to_string(),
        table: strata.view,
        id: function.id().clone(),
        scores: Some(Column { index: scores, field: Arc::new(view_schema.field(scores).clone()) }),
        budget: Budget::Rows(strata.quotas.iter().sum::<u64>()),
        method: Method::Stratified { seed: strata.seed, quotas: strata.quotas },
    };
    // The selection's output has the view's extra column before its own three.
    let columns: Vec<usize> = projection.iter().map(|&i| if i < width { i } else { i + 1 }).collect();
    let plan = SelectionTable::new(selection).scan(&state, Some(&columns), &[], None).await?;
    execute_stream(plan, state.task_ctx())
}

impl DisplayAs for StratifiedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "StratifiedExec: {}({})", self.function.function(), self.function.describe())
    }
}

impl ExecutionPlan for StratifiedExec {
    fn name(&self) -> &str {
        "StratifiedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!("StratifiedExec has one partition, asked for {partition}")));
        }
        let future = run_stratified(Arc::clone(&self.function), self.state.clone(), self.projection.clone());
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), futures::stream::once(future).try_flatten())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_passes_what_small_groups_cannot_use_on() {
        assert_eq!(water_fill(10, &[100, 2, 5]), [4, 2, 4]);
        // Equal sizes: the lower index is served first and gets less.
        assert_eq!(water_fill(5, &[3, 3]), [2, 3]);
        assert_eq!(water_fill(100, &[3, 0, 4]), [3, 0, 4]);
        assert_eq!(water_fill(0, &[3, 4]), [0, 0]);
        assert_eq!(water_fill(7, &[]), Vec::<u64>::new());
        let quotas = water_fill(1000, &[10, 500, 20, 800, 1]);
        assert_eq!(quotas.iter().sum::<u64>(), 1000);
        assert_eq!(quotas, [10, 484, 20, 485, 1]);
    }
}
