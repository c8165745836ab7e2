//! `semantic_duplicates(table, id_column, embedding_column [, spec])`:
//! SemDeDup (Abbas et al., "SemDeDup: Data-efficient learning at web-scale
//! through semantic deduplication", 2023).
//!
//! A plan fits spherical k-means to the embeddings (`kmeans_fit`, on a
//! sample of 64 rows a centroid; one cluster per 1,000 rows, at most 1,000
//! unless `clusters` says), a second one assigns every row
//! (`kmeans_assign`); clusters of more than 20,000 rows are split by a
//! second k-means fitted on their rows into parts of about 5,000. A third
//! plan hash-partitions the rows by group and sorts each partition, and each
//! group's rows are compared by blocked matrix products in the task that
//! holds them (`clustering/per_group.rs`), each row with at most the 20,000
//! rows before it: a task's memory and work per row are bounded whatever
//! the table's size. The duplicates stream back sorted (a sort that
//! spills); this process holds the cluster sizes, never a row per document.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;

use datafusion::dataframe::DataFrame;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::{Expr, when};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{SessionContext, cast, col, ident, lit};
use futures::StreamExt;
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::plan::client::{ClientJob, ClientTable, batch_stream};
use crate::clustering::kmeans::KMeansSpec;
use crate::clustering::kmeans_assign::kmeans_assign_udf;
use crate::clustering::per_group::{EMBEDDING, GROUP, GroupSpec, GroupWork, ID, ORDER, SEMDEDUP_WINDOW, fit, has_direction, kmeans_spec, stream_per_group};
use crate::plan::memory::within_dedup_memory;
use crate::plan::stages::Stages;
use crate::plan::id_keys::IdCodec;
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "semantic_duplicates";
const USAGE: &str = "semantic_duplicates('table', 'id_column', 'embedding_column' [, 'eps=0.05,clusters=100,order=far,seed=1'])";
const EXAMPLE: &str = "eps=0.05,clusters=100,order=far,seed=1";

/// Rows a cluster holds on average when `clusters` is not given: the work
/// within clusters grows with this, the k-means fit with the cluster count.
const ROWS_PER_CLUSTER: u64 = 1000;

/// The most clusters chosen when `clusters` is not given: NeMo Curator's
/// default (the SemDeDup paper clustered LAION-440M into 50,000). Beyond
/// 1,000,000 rows clusters grow, and those too large are split.
const MAX_CLUSTERS: u64 = 1000;

/// A cluster of more rows than one task compares in full (the window of
/// `per_group.rs`) is split by a second k-means over the rows of such
/// clusters, into parts of about this many rows.
const SPLIT_SIZE: u64 = 5000;

/// Which rows of a cluster come first, and so are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Order {
    /// Farthest from the centroid first (SemDeDup's "hard").
    Far,
    /// Nearest first.
    Near,
}

/// The settings of `spec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SemDedupSpec {
    pub eps: f64,
    pub clusters: Option<u64>,
    pub order: Order,
    pub seed: u64,
}

impl Default for SemDedupSpec {
    fn default() -> Self {
        SemDedupSpec { eps: 0.05, clusters: None, order: Order::Far, seed: 1 }
    }
}

impl fmt::Display for SemDedupSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eps={}", self.eps)?;
        if let Some(k) = self.clusters {
            write!(f, ",clusters={k}")?;
        }
        let order = match self.order {
            Order::Far => "far",
            Order::Near => "near",
        };
        write!(f, ",order={order},seed={}", self.seed)
    }
}

impl SemDedupSpec {
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut parsed = SemDedupSpec::default();
        for item in crate::spec::items(spec, EXAMPLE) {
            let (key, value) = item?;
            match key {
                "eps" => parsed.eps = crate::spec::number(key, value, |e| e > 0.0 && e < 1.0, "a number in (0, 1)")?,
                "clusters" => parsed.clusters = Some(crate::spec::integer(key, value, 1, 1 << 20)?),
                "order" => {
                    parsed.order = match value {
                        "far" => Order::Far,
                        "near" => Order::Near,
                        _ => return Err(format!("order must be far or near, got '{value}'")),
                    }
                }
                "seed" => parsed.seed = crate::spec::integer(key, value, 0, u64::MAX)?,
                other => return Err(format!("unknown key '{other}'; the keys are eps, clusters, order, seed")),
            }
        }
        Ok(parsed)
    }
}

#[derive(Debug)]
struct SemanticDuplicates {
    table_name: String,
    table: Arc<dyn TableProvider>,
    id: Column,
    embedding: Column,
    spec: SemDedupSpec,
}

/// The table function.
#[user_doc(
    doc_section(label = "ODiS Dedup Functions"),
    description = "Finds semantic duplicates by SemDeDup: spherical k-means clusters of the embeddings, then within each \
         cluster the rows in order of distance to the centroid (farthest first: the authors' default, which keeps \
         the least typical row of a group of copies), and a row is a duplicate when its cosine similarity to an \
         earlier row of the order exceeds 1 - eps. As in the authors' code, a row is compared with every earlier \
         row, dropped or not; so `duplicate_of` is the earlier row it is most similar to (the earliest on ties), \
         which may itself be a duplicate. Returns one row per duplicate: `id`, `duplicate_of`, `similarity`, in \
         (duplicate_of, id) order; the same rows whatever the partitioning. Rows whose embedding is NULL, holds a \
         NULL, NaN or infinite value, or is all zeros are never duplicates. Its plans spill past `SET \
         odis.dedup_memory`, as near_duplicates' do.\n\n\
         `spec`: eps (default 0.05: cosine similarity above 0.95; NeMo Curator's examples use 0.01 to 0.1), \
         clusters (default: one per 1,000 rows), order (far, the default, or near: nearest to the centroid first), \
         seed (of the k-means, default 1). Work within a cluster grows with its size squared: more clusters are \
         faster, but copies split across two clusters are not found.",
    syntax_example = "semantic_duplicates('table', 'id_column', 'embedding_column' [, 'eps=0.05,clusters=100,order=far,seed=1'])",
    sql_example = "```sql\n> SELECT * FROM semantic_duplicates('docs', 'id', 'embedding', 'eps=0.05');\n\
         > SELECT d.* FROM docs d WHERE d.id NOT IN (SELECT id FROM semantic_duplicates('docs', 'id', 'embedding'));\n```",
    argument(name = "table", description = "Name of a registered table or view, quoted: 'docs'."),
    argument(name = "id_column", description = "Name of a column of unique, non-NULL, orderable ids."),
    argument(name = "embedding_column", description = "Name of a column of embeddings (lists of numbers, e.g. from odis_score)."),
    argument(name = "spec", description = "Optional settings, e.g. 'eps=0.05,clusters=100,order=far,seed=1'."),
    related_udf(name = "near_duplicates"),
    related_udf(name = "kmeans_fit"),
)]
#[derive(Debug, Default)]
pub struct SemanticDuplicatesFunc;

impl TableFunctionImpl for SemanticDuplicatesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let args = Args::new(NAME, args.exprs(), args.session(), USAGE, &[3, 4])?;
        let (table_name, table) = args.table(0)?;
        let schema = table.schema();
        let id = args.id_column(1, &table_name, &schema)?;
        let embedding = args.embedding_column(2, &table_name, &schema)?;
        let spec = if args.len() == 4 { args.spec(3, EXAMPLE, SemDedupSpec::parse)? } else { SemDedupSpec::default() };
        Ok(Arc::new(ClientTable(Arc::new(SemanticDuplicates { table_name, table, id, embedding, spec }))))
    }
}

documented_table_function!(SemanticDuplicatesFunc, NAME);

fn output_schema(id_type: &DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", id_type.clone(), false),
        Field::new("duplicate_of", id_type.clone(), false),
        Field::new("similarity", DataType::Float64, false),
    ]))
}

/// The clusters of a SemDeDup run over `rows` rows.
pub fn cluster_count(spec: &SemDedupSpec, rows: u64) -> u64 {
    spec.clusters.unwrap_or(rows.div_ceil(ROWS_PER_CLUSTER).min(MAX_CLUSTERS)).clamp(1, rows.max(1))
}

#[async_trait]
impl ClientJob for SemanticDuplicates {
    fn function(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> String {
        format!("table={}, id={}, embedding={}, {}", self.table_name, self.id.field.name(), self.embedding.field.name(), self.spec)
    }

    fn schema(&self) -> SchemaRef {
        output_schema(self.id.field.data_type())
    }

    /// Within `odis.dedup_memory`.
    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        within_dedup_memory(state, NAME, |state| self.steps(state, projection)).await
    }
}

impl SemanticDuplicates {
    async fn steps(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let ctx = SessionContext::new_with_state(state.clone());
        let config = state.config().clone();
        let (id, embedding) = (ident(self.id.field.name()), ident(self.embedding.field.name()));
        let table = ctx.read_table(Arc::clone(&self.table))?;
        let null_ids = table.clone().filter(id.clone().is_null())?.count().await?;
        if null_ids > 0 {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: id column '{}' is NULL in {null_ids} rows of '{}'; every row needs a unique, non-NULL id",
                self.id.field.name(),
                self.table_name
            )));
        }
        let rows = table.filter(has_direction(embedding.clone()))?;
        let count = rows.clone().count().await? as u64;
        if count == 0 {
            return batch_stream(RecordBatch::new_empty(schema), &projection);
        }
        let k = cluster_count(&self.spec, count);
        Stages::say(&config, &format!("semantic dedup: {k} k-means clusters of {count} embeddings"));
        let kmeans = kmeans_spec(self.spec.seed);
        let model = fit(rows.clone(), embedding.clone(), k, &kmeans).await?;
        let assigned = rows
            .select(vec![id.alias(ID), embedding.clone().alias(EMBEDDING), kmeans_assign_udf().call(vec![embedding, lit(model)]).alias(ASSIGNMENT)])?
            .filter(col(ASSIGNMENT).is_not_null())?;
        let cluster = cast(get_field(col(ASSIGNMENT), "cluster"), DataType::Int64);
        let group = self.split_large(&config, assigned.clone(), cluster, k, &kmeans).await?;
        let distance = get_field(col(ASSIGNMENT), "distance");
        let order = match self.spec.order {
            Order::Far => distance,
            Order::Near => -distance,
        };
        let input = assigned.select(vec![group.alias(GROUP), col(ID), col(EMBEDDING), order.alias(ORDER)])?;
        Stages::say(&config, "semantic dedup: comparing the embeddings of each cluster");
        let work = GroupSpec { function: NAME.into(), work: GroupWork::SemanticDuplicates { eps: self.spec.eps } };
        let found = stream_per_group(&state, input, work, &["duplicate_of", "id"]).await?;
        // Two rows sharing an id would show as a row that duplicates itself.
        let codec = IdCodec::new(self.id.field.data_type())?;
        let (table_name, id_name) = (self.table_name.clone(), self.id.field.name().clone());
        let out = Arc::new(schema.project(&projection)?);
        let checked = found.map(move |batch| {
            let batch = RecordBatch::try_new(Arc::clone(&schema), batch?.columns().to_vec())?;
            let (ids, of) = (codec.keys(batch.column(0))?, codec.keys(batch.column(1))?);
            if let Some(i) = (0..batch.num_rows()).find(|&i| ids.key(i) == of.key(i)) {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: id {} appears in more than one row of '{table_name}'; ids in column '{id_name}' must be unique",
                    codec.display(&ids.key(i)),
                )));
            }
            Ok(batch.project(&projection)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out, checked)))
    }
}

/// The column of each row's cluster and distance to its centroid.
const ASSIGNMENT: &str = "__odis_assignment";

impl SemanticDuplicates {
    /// The group of each row: its cluster, or for a cluster of more rows
    /// than a task compares in full, its part of that cluster by a second
    /// k-means fitted on the rows of all such clusters (about SPLIT_SIZE
    /// rows a part). Cluster sizes are the only rows this process reads.
    async fn split_large(&self, config: &datafusion::prelude::SessionConfig, assigned: DataFrame, cluster: Expr, k: u64, kmeans: &KMeansSpec) -> Result<Expr> {
        let sizes = assigned
            .clone()
            .aggregate(vec![cluster.clone().alias("__odis_cluster")], vec![count_all().alias("__odis_rows")])?
            .filter(col("__odis_rows").gt(lit(SEMDEDUP_WINDOW as i64)))?
            .collect()
            .await?;
        let mut large = Vec::new();
        let mut parts = 0u64;
        for batch in &sizes {
            let (clusters, counts) = (batch.column(0).as_primitive::<Int64Type>(), batch.column(1).as_primitive::<Int64Type>());
            for i in 0..batch.num_rows() {
                large.push(lit(clusters.value(i)));
                parts += (counts.value(i) as u64).div_ceil(SPLIT_SIZE);
            }
        }
        if large.is_empty() {
            return Ok(cluster);
        }
        Stages::say(config, &format!("semantic dedup: splitting {} clusters of over {SEMDEDUP_WINDOW} rows into {parts} parts", large.len()));
        let in_large = cluster.clone().in_list(large, false);
        let model = fit(assigned.filter(in_large.clone())?, col(EMBEDDING), parts, kmeans).await?;
        let part = cast(get_field(kmeans_assign_udf().call(vec![col(EMBEDDING), lit(model)]), "cluster"), DataType::Int64);
        // Parts numbered after the k clusters, one range per cluster.
        Ok(when(in_large, lit(k as i64) + cluster.clone() * lit(parts as i64) + part).otherwise(cluster)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_what_is_wrong() {
        assert_eq!(SemDedupSpec::parse(""), Ok(SemDedupSpec::default()));
        let spec = SemDedupSpec::parse("eps=0.1, clusters=7, order=near, seed=3").unwrap();
        assert_eq!(spec, SemDedupSpec { eps: 0.1, clusters: Some(7), order: Order::Near, seed: 3 });
        assert_eq!(SemDedupSpec::parse(&spec.to_string()), Ok(spec));
        assert!(SemDedupSpec::parse("eps=0").unwrap_err().contains("(0, 1)"));
        assert!(SemDedupSpec::parse("order=hard").unwrap_err().contains("far or near"));
        assert!(SemDedupSpec::parse("clusters=0").unwrap_err().contains("from 1"));
        assert!(SemDedupSpec::parse("k=3").unwrap_err().contains("unknown key 'k'"));
        assert_eq!(cluster_count(&SemDedupSpec::default(), 2_500), 3);
        assert_eq!(cluster_count(&SemDedupSpec { clusters: Some(50), ..SemDedupSpec::default() }, 10), 10);
    }
}
