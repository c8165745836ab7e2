//! `ccs_select(table, id_column, score_column, budget [, spec])`:
//! Coverage-centric Coreset Selection (Zheng et al., ICLR 2023, arXiv 2210.15809).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::core::expr_fn::least;
use datafusion::functions::math::expr_fn::floor;
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Expr, when};
use datafusion::prelude::{DataFrame, SessionContext, cast, ident, lit};
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::plan::budget::Budget;
use crate::select::deferred::{DeferredFunction, Source, deferred_table, Planned, Strata, is_finite, resolve_budget, strata_view, water_fill};
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "ccs_select";
const USAGE: &str = "ccs_select('table', 'id_column', 'score_column', budget [, 'beta=0.3,strata=50,seed=1,hard=high'])";
const EXAMPLE: &str = "beta=0.3,strata=50,seed=1,hard=high";

/// Buckets per refinement step of the search for the β cut, and the rows
/// below which the cut is read off the sorted rows.
const BUCKETS: f64 = 1024.0;
const SORT_ROWS: i64 = 4096;

/// Which end of the score the hard examples are at: the `beta` fraction
/// cut is taken there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hard {
    /// The highest scores are the hardest: difficulty scores (EL2N,
    /// forgetting counts), the paper's convention, and the default.
    High,
    /// The lowest scores are the hardest: quality scores (odis's ratings
    /// and components, where higher is better) and AUM.
    Low,
}

impl fmt::Display for Hard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hard::High => "high",
            Hard::Low => "low",
        })
    }
}

/// The settings of `spec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CcsSpec {
    pub beta: f64,
    pub strata: u64,
    pub seed: u64,
    pub hard: Hard,
}

impl Default for CcsSpec {
    fn default() -> Self {
        CcsSpec { beta: 0.3, strata: 50, seed: 1, hard: Hard::High }
    }
}

impl fmt::Display for CcsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "beta={},strata={},seed={},hard={}", self.beta, self.strata, self.seed, self.hard)
    }
}

impl CcsSpec {
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut parsed = CcsSpec::default();
        for item in crate::spec::items(spec, EXAMPLE) {
            let (key, value) = item?;
            match key {
                "beta" => parsed.beta = crate::spec::number(key, value, |b| (0.0..1.0).contains(&b), "a fraction in [0, 1)")?,
                "strata" => parsed.strata = crate::spec::integer(key, value, 1, 100_000)?,
                "seed" => parsed.seed = crate::spec::integer(key, value, 0, u64::MAX)?,
                "hard" => {
                    parsed.hard = match value {
                        "high" => Hard::High,
                        "low" => Hard::Low,
                        _ => {
                            return Err(format!(
                                "hard must be 'high' (the highest scores are the hardest: EL2N, forgetting) or 'low' \
                                 (the lowest are: quality scores such as odis's, AUM), got '{value}'"
                            ));
                        }
                    }
                }
                other => return Err(format!("unknown key '{other}'; the keys are beta, strata, seed, hard")),
            }
        }
        Ok(parsed)
    }
}

#[derive(Debug)]
struct Ccs {
    source: Source,
    score: Column,
    budget: Budget,
    spec: CcsSpec,
}

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = "Coverage-centric Coreset Selection: drops the `beta` fraction of hardest rows (with `hard=high`, the \
         default, the highest scores, as the paper prunes by a difficulty score such as EL2N or forgetting counts; \
         with `hard=low` the lowest, for a quality score such as odis's ratings and components, where higher is \
         better; ties: the smaller id first), cuts the remaining score range into `strata` strata of equal width \
         (half-open from the hard end, the easiest score in the last), gives the budget to the strata smallest first, each taking min(its size, what is \
         left ÷ the strata left) (the paper's water-filling; equal sizes: the lower stratum first), and samples \
         uniformly without replacement inside each stratum (keys from a hash of (seed, id): the same rows whatever \
         the partitioning). Scores may be negative (the authors' code loses the top stratum when the maximum is \
         negative; this does not). Rows whose score is NULL, NaN or infinite are never selected and not counted \
         in `beta`. Fewer than `budget` rows come back when fewer remain after the cut. Returns the table's \
         columns plus `odis_dim` (the stratum, 0 = the hardest rows kept), `odis_rank` and `odis_score` (the row's \
         key).\n\n\
         `spec`: beta (default 0.3, the paper's setting at 90% pruning; it grid-searches beta per pruning rate, \
         0 at low rates), strata (default 50, the paper's), seed (default 1), hard (`high`, the default, or `low`: \
         which end of the score is pruned; `odis select --method ccs` passes odis's quality with `hard=low`).",
    syntax_example = "ccs_select('table', 'id_column', 'score_column', budget [, 'beta=0.3,strata=50,seed=1,hard=high'])",
    sql_example = "```sql\n> SELECT * FROM ccs_select('scored', 'id', 'el2n', 0.1, 'beta=0.3,seed=7');\n\
         > SELECT * FROM ccs_select('scored', 'id', 'quality', 0.1, 'beta=0.3,hard=low');\n```",
    argument(name = "table, id_column, budget", description = "As for top_k_per_dim."),
    argument(name = "score_column", description = "Name of a numeric column: a difficulty score (hard=high) or a quality score (hard=low)."),
    argument(name = "spec", description = "Optional settings, e.g. 'beta=0.3,strata=50,seed=1,hard=high'."),
    related_udf(name = "cluster_balanced_sample"),
    related_udf(name = "sample_uniform"),
)]
#[derive(Debug, Default)]
pub struct CcsSelectFunc;

impl TableFunctionImpl for CcsSelectFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[4, 5])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let score = args.number_column(2, "score_column", &table_name, &schema)?;
        let budget = args.budget(3)?;
        let spec = if args.len() == 5 { args.spec(4, EXAMPLE, CcsSpec::parse)? } else { CcsSpec::default() };
        Ok(deferred_table(Arc::new(Ccs { source: Source { table_name, table, id }, score, budget, spec })))
    }
}

documented_table_function!(CcsSelectFunc, NAME);

fn float(batch: &RecordBatch, column: usize) -> Result<Option<f64>> {
    let array = cast_array(batch.column(column), &DataType::Float64)?;
    let values = array.as_primitive::<Float64Type>();
    Ok((!values.is_null(0)).then(|| values.value(0)))
}

fn integer(batch: &RecordBatch, column: usize) -> i64 {
    batch.column(column).as_primitive::<Int64Type>().value(0)
}

impl Ccs {
    /// The score as the cut and the strata read it: lowest = hardest. With
    /// `hard=high` the score is negated, so that one code path serves both.
    fn score(&self) -> Expr {
        let score = cast(ident(self.score.field.name()), DataType::Float64);
        match self.spec.hard {
            Hard::Low => score,
            Hard::High => -score,
        }
    }

    /// (rows, min, max) of the rows `filter` keeps.
    async fn range(&self, rows: &DataFrame, filter: Expr) -> Result<(i64, Option<f64>, Option<f64>)> {
        let batches = rows
            .clone()
            .filter(filter)?
            .aggregate(vec![], vec![count_all(), min(self.score()), max(self.score())])?
            .collect()
            .await?;
        let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| DataFusionError::Internal(format!("{NAME}: no aggregate row")))?;
        Ok((integer(batch, 0), float(batch, 1)?, float(batch, 2)?))
    }

    /// The `rank`-th row (1-based) by (score, id) among the finite scores:
    /// each step counts the rows of the interval that holds it in 1,024
    /// buckets and keeps the bucket that holds it, so memory stays at a
    /// bucket count however large `rank` is; once the interval holds few rows
    /// (or one score), its rows are sorted. The row, as (score, id).
    async fn cut(&self, rows: &DataFrame, rank: i64, low: f64, high: f64, count: i64) -> Result<(f64, ScalarValue)> {
        let (mut low, mut high, mut rank, mut count) = (low, high, rank, count);
        let id = ident(self.source.id.field.name());
        loop {
            let in_range = self.score().gt_eq(lit(low)).and(self.score().lt_eq(lit(high)));
            if count <= SORT_ROWS || low >= high {
                // Among equal scores this holds `rank` rows in memory: many
                // rows sharing the one score at the cut is the only case
                // where that can be large.
                let batches = rows
                    .clone()
                    .filter(in_range)?
                    .sort(vec![self.score().sort(true, false), id.clone().sort(true, false)])?
                    .limit(rank as usize - 1, Some(1))?
                    .select(vec![self.score(), id.clone()])?
                    .collect()
                    .await?;
                let batch = batches
                    .iter()
                    .find(|b| b.num_rows() > 0)
                    .ok_or_else(|| DataFusionError::Execution(format!("{NAME}: the table changed while it was being read; run the query again")))?;
                let score = float(batch, 0)?.expect("finite scores");
                return Ok((score, ScalarValue::try_from_array(batch.column(1), 0)?));
            }
            let bucket = least(vec![floor((self.score() - lit(low)) / lit(high - low) * lit(BUCKETS)), lit(BUCKETS - 1.0)]);
            let batches = rows
                .clone()
                .filter(in_range)?
                .aggregate(vec![bucket.alias("bucket")], vec![count_all().alias("rows"), min(self.score()), max(self.score())])?
                .collect()
                .await?;
            let mut buckets: Vec<(f64, i64, f64, f64)> = Vec::new();
            for batch in &batches {
                for i in 0..batch.num_rows() {
                    let row = batch.slice(i, 1);
                    buckets.push((float(&row, 0)?.unwrap_or(0.0), integer(&row, 1), float(&row, 2)?.unwrap_or(0.0), float(&row, 3)?.unwrap_or(0.0)));
                }
            }
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut below = 0;
            let holding = buckets.iter().find(|(_, n, _, _)| {
                below += n;
                below >= rank
            });
            let Some(&(_, n, bucket_low, bucket_high)) = holding else {
                return Err(DataFusionError::Execution(format!("{NAME}: the table changed while it was being read; run the query again")));
            };
            // Buckets are a non-decreasing function of the score: the rows
            // in [bucket_low, bucket_high] are exactly the bucket's.
            rank -= below - n;
            (low, high, count) = (bucket_low, bucket_high, n);
        }
    }
}

#[async_trait]
impl DeferredFunction for Ccs {
    fn function(&self) -> &'static str {
        NAME
    }

    fn source(&self) -> &Source {
        &self.source
    }

    fn describe(&self) -> String {
        format!("table={}, id={}, score={}, budget={}, {}", self.source.table_name, self.source.id.field.name(), self.score.field.name(), self.budget, self.spec)
    }

    async fn plan(&self, ctx: &SessionContext) -> Result<Planned> {
        let finite = is_finite(ident(self.score.field.name()));
        let rows = ctx.read_table(Arc::clone(&self.source.table))?.filter(finite.clone())?;
        let (count, low, high) = self.range(&rows, lit(true)).await?;
        let dropped = (self.spec.beta * count as f64).floor() as i64;
        let kept = match (dropped, low, high) {
            (1.., Some(low), Some(high)) => {
                let (score, id) = self.cut(&rows, dropped, low, high, count).await?;
                let id_column = ident(self.source.id.field.name());
                finite.and(self.score().gt(lit(score)).or(self.score().eq(lit(score)).and(id_column.gt(lit(id)))))
            }
            _ => finite,
        };
        let (_, low, high) = self.range(&rows, kept.clone()).await?;
        let strata = self.spec.strata as f64;
        let stratum = match (low, high) {
            (Some(low), Some(high)) if high > low => {
                least(vec![floor((self.score() - lit(low)) / lit(high - low) * lit(strata)), lit(strata - 1.0)])
            }
            _ => lit(0.0),
        };
        let counts = ctx
            .read_table(Arc::clone(&self.source.table))?
            .filter(kept.clone())?
            .aggregate(vec![stratum.clone().alias("stratum")], vec![count_all().alias("rows")])?
            .collect()
            .await?;
        let mut sizes = vec![0u64; self.spec.strata as usize];
        for batch in &counts {
            for i in 0..batch.num_rows() {
                let row = batch.slice(i, 1);
                let last = sizes.len() - 1;
                let s = float(&row, 0)?.unwrap_or(0.0) as usize;
                sizes[s.min(last)] = integer(&row, 1) as u64;
            }
        }
        let budget = resolve_budget(ctx, &self.source.table, self.budget).await?;
        let view = strata_view(ctx, &self.source.table, when(kept, make_array(vec![stratum, lit(0.0)])).end()?)?;
        Ok(Planned::Strata(Strata { view, quotas: water_fill(budget, &sizes), seed: self.spec.seed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_what_is_wrong() {
        assert_eq!(CcsSpec::parse(""), Ok(CcsSpec::default()));
        assert_eq!(CcsSpec::parse("beta=0, strata=10,seed=3,hard=low"), Ok(CcsSpec { beta: 0.0, strata: 10, seed: 3, hard: Hard::Low }));
        let spec = CcsSpec::parse("hard=high").unwrap();
        assert_eq!(CcsSpec::parse(&spec.to_string()), Ok(spec));
        assert!(CcsSpec::parse("hard=up").unwrap_err().contains("hard must be 'high'"));
        assert!(CcsSpec::parse("beta=1").unwrap_err().contains("[0, 1)"));
        assert!(CcsSpec::parse("strata=0").unwrap_err().contains("strata must be an integer from 1"));
        assert!(CcsSpec::parse("k=3").unwrap_err().contains("unknown key 'k'"));
        assert!(CcsSpec::parse("beta").unwrap_err().contains("KEY=VALUE"));
    }
}
