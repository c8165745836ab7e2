//! `top_k_average(table, id_column, scores_column, budget)`: the "PC
//! average-top" baseline, the top rows by the mean of their scores.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::select::selection_plan::{Method, Selection, SelectionTable};
use crate::plan::table_args::Args;

pub const NAME: &str = "top_k_average";
const USAGE: &str = "top_k_average('table', 'id_column', 'scores_column', budget [, cost => 'cost_column'])";

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = r#"Baseline "PC average-top": the `budget` rows with the highest mean of their scores (ties: id ascending). Rows whose vector is NULL or holds a non-finite score are not candidates. Returns the table's columns plus `odis_dim` (always 0), `odis_rank` (1 = best) and `odis_score` (the mean), ordered by odis_rank. This is the single-score selection that ODiS is compared against: it tends to collapse onto one kind of document. With a cost column (`cost => 'tokens'`), the budget is an amount of that unit and rows are taken in this order while they fit, stopping at the first that does not (one passed over if it alone exceeds the budget), as top_k_per_dim does for one dimension."#,
    syntax_example = "top_k_average('table', 'id_column', 'scores_column', budget [, cost => 'cost_column'])",
    sql_example = "```sql\n> SELECT * FROM top_k_average('scored', 'id', 'pc', 0.1);\n```",
    argument(name = "table, id_column, scores_column, budget, cost", description = "As for top_k_per_dim."),
    related_udf(name = "top_k_per_dim"),
    related_udf(name = "sample_by_average"),
    related_udf(name = "sample_uniform"),
)]
#[derive(Debug, Default)]
pub struct TopKAverageFunc;

impl TableFunctionImpl for TopKAverageFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[4, 5])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let cost = args.cost(4, &table_name, &schema)?;
        let selection = Selection {
            function: NAME,
            id: args.id_column(1, &table_name, &schema)?,
            scores: Some(args.scores_column(2, &table_name, &schema)?),
            budget: args.costed_budget(3, cost.as_ref())?,
            cost,
            method: Method::AverageTop,
            table_name,
            table,
        };
        Ok(Arc::new(SelectionTable::new(selection)))
    }
}

documented_table_function!(TopKAverageFunc, NAME);
