//! `dpp_select(table, id_column, embedding_column, quality_column, budget [, spec])`:
//! greedy MAP inference of a determinantal point process (Chen, Zhang and
//! Zhou, "Fast Greedy MAP Inference for Determinantal Point Process to
//! Improve Recommendation Diversity", NeurIPS 2018).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::functions_aggregate::count::count_all;

use datafusion::functions_nested::expr_fn::cardinality;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, SessionContext, cast, col, ident, lit};
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::clustering::per_group::{ClusterOrder, EMBEDDING, GROUP, GroupSpec, GroupWork, ID, ORDER, clustered, fit, has_direction, kmeans_spec, run_per_group};
use crate::plan::budget::Budget;
use crate::select::deferred::{DeferredFunction, Source, Planned, deferred_table, is_finite, resolve_budget, water_fill};
use crate::plan::id_keys::IdCodec;
use crate::select::selection::{Pick, RowAt};
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "dpp_select";
const USAGE: &str = "dpp_select('table', 'id_column', 'embedding_column', 'quality_column', budget [, 'theta=0.5,pool=10,clusters=auto,seed=1'])";
const EXAMPLE: &str = "theta=0.5,pool=10,clusters=0,seed=1";

/// How the rows are split before the greedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clusters {
    /// This many k-means clusters; 0: none, one greedy over the table's pool.
    Count(u64),
    /// Enough clusters that each can give its share of the budget in one
    /// round of the greedy: see [`auto_clusters`].
    Auto,
}

impl fmt::Display for Clusters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clusters::Count(k) => write!(f, "{k}"),
            Clusters::Auto => f.write_str("auto"),
        }
    }
}

/// The most clusters a spec may ask for.
const MAX_CLUSTERS: u64 = 1 << 20;

/// `clusters=auto`: one greedy round gives at most `dims` picks (the rank
/// of S), and k-means clusters are uneven, so each cluster is asked for
/// about half its round on average: ⌈2·budget / dims⌉ clusters, at least 1,
/// at most the rows.
pub fn auto_clusters(budget: u64, dims: u64, rows: u64) -> u64 {
    (2 * budget).div_ceil(dims.max(1)).clamp(1, rows.clamp(1, MAX_CLUSTERS))
}

/// The settings of `spec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DppSpec {
    pub theta: f64,
    pub pool: u64,
    pub clusters: Clusters,
    pub seed: u64,
}

impl Default for DppSpec {
    fn default() -> Self {
        DppSpec { theta: 0.5, pool: 10, clusters: Clusters::Count(0), seed: 1 }
    }
}

impl fmt::Display for DppSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "theta={},pool={},clusters={},seed={}", self.theta, self.pool, self.clusters, self.seed)
    }
}

impl DppSpec {
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut parsed = DppSpec::default();
        for item in crate::spec::items(spec, EXAMPLE) {
            let (key, value) = item?;
            match key {
                "theta" => parsed.theta = crate::spec::number(key, value, |t| (0.0..1.0).contains(&t), "a number in [0, 1)")?,
                "pool" => parsed.pool = crate::spec::integer(key, value, 1, 1000)?,
                "clusters" => {
                    parsed.clusters = match value {
                        "auto" => Clusters::Auto,
                        _ => Clusters::Count(
                            crate::spec::integer(key, value, 0, MAX_CLUSTERS).map_err(|e| format!("{e}, or 'auto' (from the budget and the embedding width)"))?,
                        ),
                    }
                }
                "seed" => parsed.seed = crate::spec::integer(key, value, 0, u64::MAX)?,
                other => return Err(format!("unknown key '{other}'; the keys are theta, pool, clusters, seed")),
            }
        }
        Ok(parsed)
    }

    /// The quality's weight in the kernel.
    pub fn alpha(&self) -> f64 {
        self.theta / (2.0 * (1.0 - self.theta))
    }
}

#[derive(Debug)]
struct Dpp {
    source: Source,
    embedding: Column,
    quality: Column,
    budget: Budget,
    spec: DppSpec,
}

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = "Selects a diverse, high-quality set by greedy MAP inference of a determinantal point process (Chen et al. \
         2018): kernel L = diag(r)·S·diag(r), S the cosine similarity of the embeddings, r = exp(alpha·quality) with \
         alpha = theta / (2(1 - theta)); each step adds the row that most increases log det L_Y (incremental \
         Cholesky factor, O(pool × d) memory). The greedy runs on a candidate pool: the best `pool` × budget \
         rows by quality (ties: smaller id), found by a top-N that holds only the pool. With `clusters=k`, spherical \
         k-means splits the rows first, and each cluster's greedy runs on its own pool (its best `pool` × quota rows) \
         in the task that holds the cluster (on a cluster's executors when there is one).\n\n\
         S has rank at most the embedding width d, so one greedy round picks at most d rows: after that every larger \
         set has det L = 0. The budget is still filled: a new round of the same greedy starts over the rows not yet \
         picked, as often as needed (`odis_rank` goes on counting). Rounds after the first add rows that lie in the \
         span of earlier picks, so for a budget much larger than d give clusters: each cluster is first asked for \
         what one round can give (min(its rows, d)), shared as cluster_balanced_sample shares a budget, and only \
         what those rounds cannot hold goes to second rounds. `clusters=auto` picks ⌈2 × budget / d⌉ clusters (each \
         asked for half a round on average; `odis select --method dpp` uses it unless --clusters is given). The \
         result has min(budget, eligible rows) rows. Rows whose embedding is NULL or all zeros, or whose quality is \
         NULL, NaN or infinite, are not eligible. Returns the table's columns plus `odis_dim` (the cluster, 0 \
         without clusters), `odis_rank` (the greedy order within it) and `odis_score` (the pick's gain in log det L \
         within its round).\n\n\
         `spec`: theta in [0, 1) (default 0.5: then r² = exp(quality), the weight cluster_balanced_sample draws by; \
         the paper sweeps theta, 0 is diversity alone), pool (default 10), clusters (default 0: none; a number, or \
         `auto`), seed (of the k-means, default 1).",
    syntax_example = "dpp_select('table', 'id_column', 'embedding_column', 'quality_column', budget [, 'theta=0.5,pool=10,clusters=auto,seed=1'])",
    sql_example = "```sql\n> SELECT * FROM dpp_select('docs', 'id', 'embedding', 'quality', 5000, 'theta=0.7,clusters=auto');\n```",
    argument(name = "table, id_column, budget", description = "As for top_k_per_dim."),
    argument(name = "embedding_column", description = "Name of a column of embeddings (lists of numbers)."),
    argument(name = "quality_column", description = "Name of a numeric column: the quality r = exp(alpha·quality) weighs."),
    argument(name = "spec", description = "Optional settings, e.g. 'theta=0.5,pool=10,clusters=0,seed=1'."),
    related_udf(name = "cluster_balanced_sample"),
    related_udf(name = "vendi_score"),
)]
#[derive(Debug, Default)]
pub struct DppSelectFunc;

impl TableFunctionImpl for DppSelectFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[5, 6])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let embedding = args.embedding_column(2, &table_name, &schema)?;
        let quality = args.number_column(3, "quality_column", &table_name, &schema)?;
        let budget = args.budget(4)?;
        let spec = if args.len() == 6 { args.spec(5, EXAMPLE, DppSpec::parse)? } else { DppSpec::default() };
        Ok(deferred_table(Arc::new(Dpp { source: Source { table_name, table, id }, embedding, quality, budget, spec })))
    }
}

documented_table_function!(DppSelectFunc, NAME);

/// The width of the embeddings (0 when there are no rows): one greedy round
/// gives at most this many picks.
async fn width(rows: &DataFrame, embedding: Expr) -> Result<u64> {
    let batches = rows.clone().select(vec![cast(cardinality(embedding), DataType::UInt64).alias("dims")])?.limit(0, Some(1))?.collect().await?;
    Ok(batches.iter().find(|b| b.num_rows() > 0).map_or(0, |b| b.column(0).as_primitive::<UInt64Type>().value(0)))
}

/// Each group's picks: first what one round of its greedy can give (up to
/// min(size, dims)), shared as cluster_balanced_sample shares a budget;
/// what the rounds cannot hold is shared the same way over the rows the
/// groups have beyond that, and taken by further rounds. The quotas sum to
/// min(budget, rows).
pub fn quotas(budget: u64, sizes: &[u64], dims: u64) -> Vec<u64> {
    let rounds: Vec<u64> = sizes.iter().map(|&n| n.min(dims.max(1))).collect();
    let first = water_fill(budget, &rounds);
    let left = budget - first.iter().sum::<u64>();
    let rest: Vec<u64> = sizes.iter().zip(&first).map(|(n, q)| n - q).collect();
    first.iter().zip(water_fill(left, &rest)).map(|(a, b)| a + b).collect()
}

#[async_trait]
impl DeferredFunction for Dpp {
    fn function(&self) -> &'static str {
        NAME
    }

    fn source(&self) -> &Source {
        &self.source
    }

    fn describe(&self) -> String {
        format!(
            "table={}, id={}, embedding={}, quality={}, budget={}, {}",
            self.source.table_name,
            self.source.id.field.name(),
            self.embedding.field.name(),
            self.quality.field.name(),
            self.budget,
            self.spec
        )
    }

    async fn plan(&self, ctx: &SessionContext) -> Result<Planned> {
        let (id, embedding, quality) = (ident(self.source.id.field.name()), ident(self.embedding.field.name()), ident(self.quality.field.name()));
        let rows = ctx.read_table(Arc::clone(&self.source.table))?.filter(has_direction(embedding.clone()).and(is_finite(quality.clone())))?;
        let budget = resolve_budget(ctx, &self.source.table, self.budget).await?;
        // Without clusters nothing is read before the greedy's own pass
        // (its quota is the budget; it stops at the rows its pool holds).
        let (k, dims) = match self.spec.clusters {
            Clusters::Count(0) => (0, None),
            Clusters::Count(k) => (k.min(rows.clone().count().await? as u64), None),
            Clusters::Auto => {
                let dims = width(&rows, embedding.clone()).await?;
                (auto_clusters(budget, dims, rows.clone().count().await? as u64), Some(dims))
            }
        };
        let (input, quotas) = if k <= 1 {
            // One group: its pool is the best pool × budget rows by quality,
            // a top-N that holds the pool's rows, not a sort of the table.
            let pool = usize::try_from(self.spec.pool.saturating_mul(budget)).unwrap_or(usize::MAX);
            let input = rows
                .sort(vec![cast(quality.clone(), DataType::Float64).sort(false, false), id.clone().sort(true, false)])?
                .limit(0, Some(pool))?
                .select(vec![lit(0i64).alias(GROUP), id.alias(ID), embedding.alias(EMBEDDING), cast(quality, DataType::Float64).alias(ORDER)])?;
            (input, vec![budget])
        } else {
            let dims = match dims {
                Some(dims) => dims,
                None => width(&rows, embedding.clone()).await?,
            };
            let model = fit(rows.clone(), embedding.clone(), k, &kmeans_spec(self.spec.seed)).await?;
            let input = clustered(rows, id, embedding, model, ClusterOrder::Descending(quality))?;
            let counts = input.clone().aggregate(vec![col(GROUP)], vec![count_all().alias("rows")])?.collect().await?;
            let mut sizes = vec![0u64; k as usize];
            for batch in &counts {
                let (groups, n) = (batch.column(0).as_primitive::<Int64Type>(), batch.column(1).as_primitive::<Int64Type>());
                for i in 0..batch.num_rows() {
                    sizes[groups.value(i) as usize] = n.value(i) as u64;
                }
            }
            (input, quotas(budget, &sizes, dims))
        };
        let work = GroupSpec { function: NAME.into(), work: GroupWork::Dpp { alpha: self.spec.alpha(), pool: self.spec.pool, quotas } };
        let batches = run_per_group(&ctx.state(), input, work).await?;
        let codec = IdCodec::new(self.source.id.field.data_type())?;
        let mut picks = Vec::new();
        for batch in &batches {
            let (groups, ranks, gains) = (
                batch.column(0).as_primitive::<Int64Type>(),
                batch.column(1).as_primitive::<Int64Type>(),
                batch.column(2).as_primitive::<Float64Type>(),
            );
            let ids = codec.keys(batch.column(3))?;
            for i in 0..batch.num_rows() {
                picks.push(Pick {
                    id: ids.key(i),
                    dim: groups.value(i) as usize,
                    rank: ranks.value(i) as u64,
                    score: gains.value(i),
                    at: RowAt::default(),
                    cost: 0,
                });
            }
        }
        picks.sort_by_key(|p| (p.dim, p.rank));
        Ok(Planned::Picks(picks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_fill_the_budget_within_one_round_per_group_where_they_can() {
        // Rounds of 8: 3 groups hold 24 in one round each; the rest goes to
        // the groups with rows left, as further rounds.
        let q = quotas(1000, &[500, 500, 10], 8);
        assert_eq!(q.iter().sum::<u64>(), 1000);
        assert_eq!(q[2], 10);
        // A budget the rounds hold: no group is asked for more than 8.
        let q = quotas(20, &[500, 500, 10], 8);
        assert_eq!(q, [6, 7, 7]);
        // Fewer rows than the budget: every row.
        assert_eq!(quotas(100, &[3, 4], 8), [3, 4]);
        assert_eq!(auto_clusters(200_000, 384, 2_000_000), 1042);
        assert_eq!(auto_clusters(10, 384, 5), 1);
        assert_eq!(auto_clusters(10, 0, 0), 1);
    }

    #[test]
    fn specs_name_what_is_wrong() {
        assert_eq!(DppSpec::parse(""), Ok(DppSpec::default()));
        let spec = DppSpec::parse("theta=0.7,pool=3,clusters=8,seed=2").unwrap();
        assert_eq!(spec, DppSpec { theta: 0.7, pool: 3, clusters: Clusters::Count(8), seed: 2 });
        assert_eq!(DppSpec::parse(&spec.to_string()), Ok(spec));
        let auto = DppSpec::parse("clusters=auto").unwrap();
        assert_eq!(auto.clusters, Clusters::Auto);
        assert_eq!(DppSpec::parse(&auto.to_string()), Ok(auto));
        assert!(DppSpec::parse("clusters=many").unwrap_err().contains("or 'auto'"));
        assert!((DppSpec::default().alpha() - 0.5).abs() < 1e-15);
        assert!(DppSpec::parse("theta=1").unwrap_err().contains("[0, 1)"));
        assert!(DppSpec::parse("pool=0").unwrap_err().contains("from 1"));
        assert!(DppSpec::parse("k=3").unwrap_err().contains("unknown key 'k'"));
    }
}
