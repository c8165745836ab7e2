//! `top_k_per_dim_report(...)`: per-dimension quotas, thresholds and the
//! inter-dimension overlap of a `top_k_per_dim` selection.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::select::selection_plan::report_table;
use crate::select::top_k_per_dim::per_dimension_selection;

pub const NAME: &str = "top_k_per_dim_report";
const USAGE: &str = "top_k_per_dim_report('table', 'id_column', 'scores_column', budget [, weights] [, cost => 'cost_column'])";

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = r#"Reports on the selection top_k_per_dim makes with the same arguments, one row per dimension: `dim` (0-based), `quota` (its share of the budget), `selected` (rows it took, which can exceed the quota when other dimensions ran out of candidates), `threshold` (the lowest score it took; NULL if none), `overlap` (how many rows of its raw top-quota list, i.e. its first `quota` candidates, are also in another dimension's raw top list) and `overlap_ratio` (overlap / quota; NULL when the quota is 0). Overlap is the paper's inter-dimension overlap, which stays under about 2% for orthogonal components. With a cost column, `quota` is the rows of its raw top list (the prefix of its ranking its cost quota takes alone), and four more columns are filled (NULL otherwise): `cost_quota` (its share of the budget in cost units), `selected_cost` (the cost of the rows it took), `overlap_cost` (the cost of its overlap rows) and `overlap_cost_ratio` (overlap_cost over the cost of its raw top list: the paper measures overlap in tokens)."#,
    syntax_example = "top_k_per_dim_report('table', 'id_column', 'scores_column', budget [, weights] [, cost => 'cost_column'])",
    sql_example = r#"```sql
> SELECT * FROM top_k_per_dim_report('scored', 'id', 'pc', 0.1);
> SELECT dim, cost_quota, selected_cost, overlap_cost_ratio FROM top_k_per_dim_report('scored', 'id', 'pc', 500000, cost => 'tokens');
```"#,
    argument(name = "table, id_column, scores_column, budget, weights, cost", description = "As for top_k_per_dim."),
    related_udf(name = "top_k_per_dim"),
)]
#[derive(Debug, Default)]
pub struct TopKPerDimReportFunc;

impl TableFunctionImpl for TopKPerDimReportFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        Ok(Arc::new(report_table(per_dimension_selection(NAME, USAGE, &args)?)))
    }
}

documented_table_function!(TopKPerDimReportFunc, NAME);
