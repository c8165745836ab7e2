//! `top_k_per_dim(table, id_column, scores_column, budget [, weights])`:
//! ODiS step 4, the top rows of each orthogonal dimension under one budget.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result};

use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::select::selection_plan::{Method, Selection, SelectionTable};
use crate::plan::table_args::Args;

pub const NAME: &str = "top_k_per_dim";
const USAGE: &str = "top_k_per_dim('table', 'id_column', 'scores_column', budget [, weights] [, cost => 'cost_column'])";

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = r#"Selects the best rows of each score dimension, under one total budget, without taking any row twice (ODiS step 4). Returns every column of the table plus `odis_dim` (Int32, 0-based: the dimension that took the row), `odis_rank` (Int64, 1-based pick number within that dimension) and `odis_score` (Float64, the row's score on odis_dim), ordered by odis_dim, odis_rank.

Semantics, exactly:
- budget B: an integer >= 1, or a fraction in (0, 1) meaning floor(fraction × the table's row count);
- quotas by the largest-remainder method: q_d = floor(B·w_d/Σw), and the B − Σq_d leftover slots go one each to the dimensions with the largest fractional part of B·w_d/Σw (ties: lower d);
- the candidates of dimension d are the rows whose vector is non-NULL and whose d-th score is finite, ordered by score descending, then id ascending;
- the draft goes in rounds, d = 0, 1, ..., D−1 in turn: each dimension below its quota takes its best candidate that no dimension has taken yet; when no dimension below quota can take more and fewer than B rows are taken, it continues round-robin over every dimension with untaken candidates, ignoring quotas, until B rows are taken or none are left.
So the result has exactly min(B, candidate rows) rows, none twice, and is the same whatever the partitioning.

With a cost column (`cost => 'odis_tokens'`: non-negative integers per row, such as token_count's), B is an amount of that unit (an integer, or a fraction of the column's total over the table), the quotas split it the same way, and a row costs its value instead of 1: in phase 1 a dimension takes its next untaken candidate only if it fits in what is left of its quota, passes over a candidate that alone exceeds its quota (another dimension may take it), and stops at the first other one that does not fit, so each dimension's selection is a prefix of its ranking and ends within one row's cost of its quota. A row two dimensions rank high is taken, and paid for, once, by the first to reach it. Phase 2 runs only when a dimension ran out of candidates with quota left: round-robin, each dimension while its next candidate fits in what is left of B. A NULL or negative cost is an error.

One pass reads only the id and scores columns into bounded per-dimension heaps (memory grows with the budget, not the table); if overlap between dimensions uses up a heap, the pass is repeated with larger heaps, so the result is always exact. A second pass fetches the selected rows, reading only the columns the query uses: by position when the table reads its rows in the same order every time (Parquet and other files, memory tables, projections and filters of them; each row's id is checked), otherwise by id. The table must be registered (CREATE EXTERNAL TABLE or CREATE VIEW); ids must be unique and non-NULL: an id on two rows that both reach the candidate lists, or (when fetching by id) that is selected, is an error."#,
    syntax_example = "top_k_per_dim('table', 'id_column', 'scores_column', budget [, weights] [, cost => 'cost_column'])",
    sql_example = r#"```sql
> CREATE VIEW scored AS
    WITH m AS (SELECT pca_fit(s, 4) AS model FROM docs)
    SELECT docs.*, pca_project(s, m.model) AS pc FROM docs, m;
> SELECT id, odis_dim, odis_rank, odis_score FROM top_k_per_dim('scored', 'id', 'pc', 0.1);
> SELECT * FROM top_k_per_dim('scored', 'id', 'pc', 1000, [2, 1, 1, 1]);
> SELECT * FROM top_k_per_dim('scored', 'id', 'pc', 500000, cost => 'tokens');
```"#,
    argument(name = "table", description = "Name of a registered table or view, quoted: 'docs'."),
    argument(name = "id_column", description = "Name of a column of unique, non-NULL, orderable ids (ties are broken by id ascending)."),
    argument(name = "scores_column", description = "Name of a column holding a list of D scores per row, e.g. pca_project's output."),
    argument(name = "budget", description = "Rows to select: an integer >= 1, or a fraction of the table's rows in (0, 1)."),
    argument(name = "weights", description = "Optional list of D non-negative numbers, not all zero, that split the budget; default equal."),
    argument(name = "cost", description = "Optional name of a column of non-negative integers, each row's cost (tokens, bytes): the budget is then spent in that unit. Written `cost => 'odis_tokens'` or as a quoted name after the budget."),
    related_udf(name = "top_k_per_dim_report"),
    related_udf(name = "top_k_average"),
    related_udf(name = "sample_by_average"),
    related_udf(name = "sample_uniform"),
)]
#[derive(Debug, Default)]
pub struct TopKPerDimFunc;

/// Resolves the arguments shared with `top_k_per_dim_report`.
pub(crate) fn per_dimension_selection(function: &'static str, usage: &str, args: &TableFunctionArgs) -> Result<Selection> {
    let args = Args::new(function, args.exprs(), args.session(), usage, &[4, 5, 6])?;
    let (table_name, table) = args.table(0)?;
    let schema = table.schema();
    let id = args.id_column(1, &table_name, &schema)?;
    let scores = args.scores_column(2, &table_name, &schema)?;
    let (cost, rest) = args.cost_and_rest(4, &table_name, &schema)?;
    let budget = args.costed_budget(3, cost.as_ref())?;
    let weights = match rest[..] {
        [] => None,
        [at] => Some(args.weights(at)?),
        _ => return Err(DataFusionError::Plan(format!("{function}: give weights once; usage: {usage}"))),
    };
    Ok(Selection {
        function,
        table_name,
        table,
        id,
        scores: Some(scores),
        cost,
        budget,
        method: Method::PerDimension { weights },
    })
}

impl TableFunctionImpl for TopKPerDimFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        Ok(Arc::new(SelectionTable::new(per_dimension_selection(NAME, USAGE, &args)?)))
    }
}

documented_table_function!(TopKPerDimFunc, NAME);
