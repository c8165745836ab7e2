//! `cluster_balanced_sample(table, id_column, cluster_column, quality_column, budget [, seed])`:
//! Diversify-and-Conquer's kMQ selection (arXiv 2409.11378).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::when;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::prelude::{SessionContext, cast, ident, lit};
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::clustering::kmeans_assign::kmeans_assign_udf;
use crate::clustering::per_group::{fit, has_direction, kmeans_spec};
use crate::plan::budget::Budget;
use crate::vectors::is_vector_type;
use crate::select::deferred::{DeferredFunction, Source, deferred_table, Planned, Strata, is_finite, resolve_budget, strata_view, water_fill};
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "cluster_balanced_sample";
const USAGE: &str = "cluster_balanced_sample('table', 'id_column', 'cluster_column', 'quality_column', budget [, seed | 'clusters=64,seed=1'])";

/// The most clusters: a heap per cluster is kept while sampling.
const MAX_CLUSTERS: i64 = 1 << 22;

#[derive(Debug)]
struct ClusterBalanced {
    source: Source,
    cluster: Column,
    /// The number of k-means clusters when `cluster` is an embedding column.
    clusters: Option<u64>,
    quality: Column,
    budget: Budget,
    seed: u64,
}

/// The clusters and seed of a spec such as 'clusters=64,seed=1'.
fn parse_spec(spec: &str) -> std::result::Result<(u64, u64), String> {
    let (mut clusters, mut seed) = (64, 1);
    for item in crate::spec::items(spec, "clusters=64,seed=1") {
        let (key, value) = item?;
        match key {
            "clusters" => clusters = crate::spec::integer(key, value, 1, 1 << 20)?,
            "seed" => seed = crate::spec::integer(key, value, 0, u64::MAX)?,
            other => return Err(format!("unknown key '{other}'; the keys are clusters and seed")),
        }
    }
    Ok((clusters, seed))
}

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Selection Functions"),
    description = "Diversify-and-Conquer's kMQ selection: every cluster gets an equal share of the budget, min(budget / k, \
         its size); what small clusters cannot use goes to the larger ones (water-filling, smallest cluster first; \
         the authors' code leaves it unused, so its selections can fall short of the budget), so `budget` rows are \
         selected whenever the table has that many eligible rows. Within a cluster, rows are drawn without \
         replacement with probability proportional to exp(quality) (Efraimidis–Spirakis keys: quality plus Gumbel \
         noise from a hash of (seed, id)), so the same seed gives the same rows whatever the partitioning. \
         A row whose cluster is NULL or whose quality is NULL, NaN or infinite is never selected. Clusters are \
         integers from 0, as `kmeans_assign(...)['cluster']` gives them; or, when `cluster_column` holds embeddings, the \
         function clusters them itself by spherical k-means (`spec` 'clusters=64,seed=1' in place of the seed). Returns the table's columns plus \
         `odis_dim` (the cluster), `odis_rank` (the row's draw order in its cluster) and `odis_score` (its key).",
    syntax_example = "cluster_balanced_sample('table', 'id_column', 'cluster_column', 'quality_column', budget [, seed | 'clusters=64,seed=1'])",
    sql_example = "```sql\n> CREATE VIEW clustered AS SELECT id, quality, kmeans_assign(embedding, (SELECT kmeans_fit(embedding, 64) FROM docs))['cluster'] AS cluster FROM docs;\n\
         > SELECT * FROM cluster_balanced_sample('clustered', 'id', 'cluster', 'quality', 0.1, 42);\n```",
    argument(name = "table, id_column, budget", description = "As for top_k_per_dim."),
    argument(name = "cluster_column", description = "Name of an integer column of clusters, 0 to k - 1 (e.g. from kmeans_assign)."),
    argument(name = "quality_column", description = "Name of a numeric column: a row is drawn with probability proportional to exp(quality)."),
    argument(name = "seed", description = "Optional integer seed of the draw (default 1); with an embedding column, a spec 'clusters=64,seed=1'."),
    related_udf(name = "kmeans_assign"),
    related_udf(name = "ccs_select"),
)]
#[derive(Debug, Default)]
pub struct ClusterBalancedSampleFunc;

impl TableFunctionImpl for ClusterBalancedSampleFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[5, 6])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let cluster = args.column(2, "cluster_column", &table_name, &schema)?;
        let embedded = is_vector_type(cluster.field.data_type());
        if !embedded && !cluster.field.data_type().is_integer() {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: cluster column '{}' must hold integers (clusters 0 to k - 1, e.g. kmeans_assign(...)['cluster']) or \
                 embeddings to cluster, got {}",
                cluster.field.name(),
                cluster.field.data_type()
            )));
        }
        let quality = args.number_column(3, "quality_column", &table_name, &schema)?;
        let budget = args.budget(4)?;
        let (clusters, seed) = match (args.len(), embedded) {
            (6, true) => args.spec(5, "clusters=64,seed=1", parse_spec).map(|(k, seed)| (Some(k), seed))?,
            (6, false) => (None, args.seed(5)?),
            (_, true) => (Some(64), 1),
            (_, false) => (None, 1),
        };
        let function = ClusterBalanced { source: Source { table_name, table, id }, cluster, clusters, quality, budget, seed };
        Ok(deferred_table(Arc::new(function)))
    }
}

documented_table_function!(ClusterBalancedSampleFunc, NAME);

#[async_trait]
impl DeferredFunction for ClusterBalanced {
    fn function(&self) -> &'static str {
        NAME
    }

    fn source(&self) -> &Source {
        &self.source
    }

    fn describe(&self) -> String {
        format!(
            "table={}, id={}, cluster={}, quality={}, budget={}, seed={}",
            self.source.table_name,
            self.source.id.field.name(),
            self.cluster.field.name(),
            self.quality.field.name(),
            self.budget,
            self.seed
        )
    }

    async fn plan(&self, ctx: &SessionContext) -> Result<Planned> {
        let (column, quality) = (ident(self.cluster.field.name()), ident(self.quality.field.name()));
        // `eligible` is cheap to test: a row without a cluster all the same
        // (a NaN in its embedding) is dropped by its NULL group, so that
        // kmeans_assign runs once a row in each plan.
        let (cluster, eligible) = match self.clusters {
            None => (column.clone(), column.is_not_null().and(is_finite(quality.clone()))),
            Some(k) => {
                // Spherical k-means of the embedding column, as the authors cluster.
                let usable = has_direction(column.clone()).and(is_finite(quality.clone()));
                let rows = ctx.read_table(Arc::clone(&self.source.table))?.filter(usable.clone())?;
                let count = rows.clone().count().await? as u64;
                let model = fit(rows, column.clone(), k.min(count.max(1)), &kmeans_spec(self.seed)).await?;
                (get_field(kmeans_assign_udf().call(vec![column, lit(model)]), "cluster"), usable)
            }
        };
        let counts = ctx
            .read_table(Arc::clone(&self.source.table))?
            .filter(eligible.clone())?
            .aggregate(vec![cast(cluster.clone(), DataType::Int64).alias("cluster")], vec![count_all().alias("rows")])?
            .collect()
            .await?;
        let mut sizes: Vec<u64> = Vec::new();
        for batch in &counts {
            let clusters = cast_array(batch.column(0), &DataType::Int64)?;
            let (clusters, rows) = (clusters.as_primitive::<Int64Type>(), batch.column(1).as_primitive::<Int64Type>());
            for i in (0..batch.num_rows()).filter(|&i| clusters.is_valid(i)) {
                let c = clusters.value(i);
                if !(0..MAX_CLUSTERS).contains(&c) {
                    return Err(DataFusionError::Execution(format!(
                        "{NAME}: cluster column '{}' holds {c}; clusters must be numbered from 0 to k - 1 (at most {MAX_CLUSTERS}), \
                         as kmeans_assign gives them; renumber others with DENSE_RANK() OVER (ORDER BY label) - 1",
                        self.cluster.field.name()
                    )));
                }
                let c = c as usize;
                if sizes.len() <= c {
                    sizes.resize(c + 1, 0);
                }
                sizes[c] = rows.value(i) as u64;
            }
        }
        let budget = resolve_budget(ctx, &self.source.table, self.budget).await?;
        let strata = when(eligible, make_array(vec![cast(cluster, DataType::Float64), cast(quality, DataType::Float64)])).end()?;
        Ok(Planned::Strata(Strata { view: strata_view(ctx, &self.source.table, strata)?, quotas: water_fill(budget, &sizes), seed: self.seed }))
    }
}
