//! `sample_uniform(table, id_column, budget, seed)`: the "random" baseline.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::select::selection_plan::{Method, Selection, SelectionTable};
use crate::plan::table_args::Args;

pub const NAME: &str = "sample_uniform";
const USAGE: &str = "sample_uniform('table', 'id_column', budget, seed [, cost => 'cost_column'])";

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = r#"Baseline "random": a uniform sample of `budget` rows without replacement. Each row's key is a hash of (seed, id) mapped to (0, 1) and the rows with the largest keys are taken, so the same seed gives the same sample whatever the partitioning or row order. Returns the table's columns plus `odis_dim` (always 0), `odis_rank` and `odis_score` (the row's key). With a cost column (`cost => 'tokens'`), the budget is an amount of that unit and rows are taken in this order while they fit, stopping at the first that does not (one passed over if it alone exceeds the budget), as top_k_per_dim does for one dimension."#,
    syntax_example = "sample_uniform('table', 'id_column', budget, seed [, cost => 'cost_column'])",
    sql_example = "```sql\n> SELECT * FROM sample_uniform('docs', 'id', 0.1, 42);\n```",
    argument(name = "table, id_column, budget, cost", description = "As for top_k_per_dim."),
    argument(name = "seed", description = "Integer seed of the sample."),
    related_udf(name = "top_k_per_dim"),
    related_udf(name = "sample_by_average"),
)]
#[derive(Debug, Default)]
pub struct SampleUniformFunc;

impl TableFunctionImpl for SampleUniformFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[4, 5])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let cost = args.cost(4, &table_name, &schema)?;
        let selection = Selection {
            function: NAME,
            id: args.id_column(1, &table_name, &schema)?,
            scores: None,
            budget: args.costed_budget(2, cost.as_ref())?,
            cost,
            method: Method::Uniform { seed: args.seed(3)? },
            table_name,
            table,
        };
        Ok(Arc::new(SelectionTable::new(selection)))
    }
}

documented_table_function!(SampleUniformFunc, NAME);
