//! Selection functions that work out what to select when they run
//! (`ccs_select`, `cluster_balanced_sample`, `dpp_select`): a table whose
//! plan first runs a few plans of its own (here or on the session's
//! cluster), then either samples groups with quotas through the selection
//! functions' two passes (one candidate pass with a bounded heap per group,
//! one fetch), or fetches rows picked by id. Also the water-filling
//! allocation of a budget over groups.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::functions::math::expr_fn::abs;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionContext, cast, ident, lit};

use crate::plan::client::{ClientJob, ClientTable};
use crate::plan::budget::Budget;
use crate::select::fetch::fetch_schema;
use crate::plan::id_keys::IdKey;
use crate::select::selection::{Method, Pick};
use crate::select::selection_plan::{Selection, SelectionTable};
use crate::plan::table_args::Column;

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

/// What a deferred selection function found when it ran.
pub(crate) enum Planned {
    /// Groups to sample, each with its quota.
    Strata(Strata),
    /// Rows picked, each with its group (`dim`) and rank; fetched by id.
    Picks(Vec<Pick<IdKey>>),
}

/// The table a deferred selection function selects from, and its ids.
#[derive(Debug)]
pub(crate) struct Source {
    pub table_name: String,
    pub table: Arc<dyn TableProvider>,
    pub id: Column,
}

/// A deferred selection function, before it runs.
#[async_trait]
pub(crate) trait DeferredFunction: fmt::Debug + Send + Sync {
    fn function(&self) -> &'static str;
    fn source(&self) -> &Source;
    /// The settings, for EXPLAIN.
    fn describe(&self) -> String;
    /// Runs the plans that find the groups and their quotas, or the picks.
    async fn plan(&self, ctx: &SessionContext) -> Result<Planned>;
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
        Budget::Fraction(_) => budget.resolve(ctx.read_table(Arc::clone(table))?.count().await? as u64),
        budget => budget.resolve(0),
    })
}

/// The selection of `quotas[g]` rows of each group g of `view` (a
/// [`strata_view`]): sampled with `seed`, or without one the group's top
/// rows by log_weight.
pub(crate) fn strata_selection(function: &dyn DeferredFunction, view: Arc<dyn TableProvider>, seed: Option<u64>, quotas: Vec<u64>) -> Result<Selection> {
    let view_schema = view.schema();
    let scores = view_schema.index_of(STRATA_COLUMN)?;
    Ok(Selection {
        function: function.function(),
        table_name: function.source().table_name.clone(),
        table: view,
        id: function.source().id.clone(),
        scores: Some(Column { index: scores, field: Arc::new(view_schema.field(scores).clone()) }),
        cost: None,
        budget: Budget::Rows(quotas.iter().sum::<u64>()),
        method: Method::Stratified { seed, quotas },
    })
}

/// A deferred selection function's result as a table: the input's
/// columns, then odis_dim (the group), odis_rank and odis_score, as the
/// other selection functions give them.
pub(crate) fn deferred_table(function: Arc<dyn DeferredFunction>) -> Arc<dyn TableProvider> {
    let schema = fetch_schema(&function.source().table.schema());
    Arc::new(ClientTable(Arc::new(Deferred { function, schema })))
}

#[derive(Debug)]
struct Deferred {
    function: Arc<dyn DeferredFunction>,
    schema: SchemaRef,
}

#[async_trait]
impl ClientJob for Deferred {
    fn function(&self) -> &'static str {
        self.function.function()
    }

    fn describe(&self) -> String {
        self.function.describe()
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The function's own plans, then the selection's nodes (which run
    /// their plans here or on the session's cluster).
    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        let function = &self.function;
        let ctx = SessionContext::new_with_state(state.clone());
        let width = function.source().table.schema().fields().len();
        let strata = match function.plan(&ctx).await? {
            Planned::Picks(picks) => {
                let selection = Selection {
                    function: function.function(),
                    table_name: function.source().table_name.clone(),
                    table: Arc::clone(&function.source().table),
                    id: function.source().id.clone(),
                    scores: None,
                    cost: None,
                    budget: Budget::Rows(picks.len() as u64),
                    method: Method::Picked,
                };
                let plan = SelectionTable::with_picks(selection, picks).scan(&state, Some(&projection), &[], None).await?;
                return execute_stream(plan, state.task_ctx());
            }
            Planned::Strata(strata) => strata,
        };
        let selection = strata_selection(function.as_ref(), strata.view, Some(strata.seed), strata.quotas)?;
        // The selection's output has the view's extra column before its own three.
        let columns: Vec<usize> = projection.iter().map(|&i| if i < width { i } else { i + 1 }).collect();
        let plan = SelectionTable::new(selection).scan(&state, Some(&columns), &[], None).await?;
        execute_stream(plan, state.task_ctx())
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
