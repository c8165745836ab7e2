//! `sample_by_average(table, id_column, scores_column, budget, seed [,
//! temperature])`: the "PC average-sample" baseline.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::select::selection_plan::{Method, Selection, SelectionTable};
use crate::plan::table_args::Args;

pub const NAME: &str = "sample_by_average";
const USAGE: &str = "sample_by_average('table', 'id_column', 'scores_column', budget, seed [, temperature] [, cost => 'cost_column'])";

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = r#"Baseline "PC average-sample": samples `budget` rows without replacement, each draw with probability proportional to exp(mean score / temperature), using Efraimidis–Spirakis keys in log space (the Gumbel-top-k trick: the rows with the largest mean/temperature + Gumbel noise). The noise of a row is a hash of (seed, id), so the same seed gives the same sample whatever the partitioning or row order. Rows whose vector is NULL or holds a non-finite score are not candidates. Returns the table's columns plus `odis_dim` (always 0), `odis_rank` (draw order) and `odis_score` (the row's sampling key). A low temperature approaches top_k_average; a high one approaches sample_uniform. With a cost column (`cost => 'tokens'`), the budget is an amount of that unit and rows are taken in this order while they fit, stopping at the first that does not (one passed over if it alone exceeds the budget), as top_k_per_dim does for one dimension."#,
    syntax_example = "sample_by_average('table', 'id_column', 'scores_column', budget, seed [, temperature] [, cost => 'cost_column'])",
    sql_example = "```sql\n> SELECT * FROM sample_by_average('scored', 'id', 'pc', 0.1, 42);\n> SELECT * FROM sample_by_average('scored', 'id', 'pc', 1000, 42, 0.5);\n```",
    argument(name = "table, id_column, scores_column, budget, cost", description = "As for top_k_per_dim."),
    argument(name = "seed", description = "Integer seed of the sample."),
    argument(name = "temperature", description = "Optional positive number, default 1.0."),
    related_udf(name = "top_k_average"),
    related_udf(name = "sample_uniform"),
)]
#[derive(Debug, Default)]
pub struct SampleByAverageFunc;

impl TableFunctionImpl for SampleByAverageFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[5, 6, 7])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let (cost, rest) = args.cost_and_rest(5, &table_name, &schema)?;
        let temperature = match rest[..] {
            [] => 1.0,
            [at] => args.positive_number(at, "temperature", "0.5")?,
            _ => return Err(datafusion::error::DataFusionError::Plan(format!("{NAME}: give the temperature once; usage: {USAGE}"))),
        };
        let selection = Selection {
            function: NAME,
            id: args.id_column(1, &table_name, &schema)?,
            scores: Some(args.scores_column(2, &table_name, &schema)?),
            budget: args.costed_budget(3, cost.as_ref())?,
            cost,
            method: Method::AverageSample {
                seed: args.seed(4)?,
                temperature,
            },
            table_name,
            table,
        };
        Ok(Arc::new(SelectionTable::new(selection)))
    }
}

documented_table_function!(SampleByAverageFunc, NAME);
