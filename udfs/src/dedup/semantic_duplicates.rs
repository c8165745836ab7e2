//! `semantic_duplicates(table, id_column, embedding_column [, spec])`:
//! SemDeDup (Abbas et al., "SemDeDup: Data-efficient learning at web-scale
//! through semantic deduplication", 2023).
//!
//! A plan fits spherical k-means to the embeddings (`kmeans_fit`), a second
//! one assigns every row (`kmeans_assign`), hash-partitions the rows by
//! cluster and sorts each partition, and each cluster's rows are compared
//! by blocked matrix products in the task that holds them
//! (`clustering/per_group.rs`): memory follows the largest cluster, never
//! the table. Only the duplicates come back.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;

use datafusion::prelude::{SessionContext, ident};
use datafusion_macros::user_doc;

use crate::docs::documented_table_function;
use crate::plan::client::{ClientJob, ClientTable, batch_stream};
use crate::clustering::per_group::{ClusterOrder, GroupSpec, GroupWork, clustered, fit, has_direction, kmeans_spec, run_per_group};
use crate::plan::id_keys::IdCodec;
use crate::plan::table_args::{Args, Column};

pub const NAME: &str = "semantic_duplicates";
const USAGE: &str = "semantic_duplicates('table', 'id_column', 'embedding_column' [, 'eps=0.05,clusters=100,order=far,seed=1'])";
const EXAMPLE: &str = "eps=0.05,clusters=100,order=far,seed=1";

/// Rows a cluster holds on average when `clusters` is not given: the work
/// within clusters grows with this, the k-means fit with the cluster count.
const ROWS_PER_CLUSTER: u64 = 1000;

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
         NULL, NaN or infinite value, or is all zeros are never duplicates.\n\n\
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
    spec.clusters.unwrap_or(rows.div_ceil(ROWS_PER_CLUSTER)).clamp(1, rows.max(1))
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

    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let ctx = SessionContext::new_with_state(state.clone());
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
        let model = fit(rows.clone(), embedding.clone(), cluster_count(&self.spec, count), &kmeans_spec(self.spec.seed)).await?;
        let order = match self.spec.order {
            Order::Far => ClusterOrder::Farthest,
            Order::Near => ClusterOrder::Nearest,
        };
        let input = clustered(rows, id, embedding, model, order)?;
        let work = GroupSpec { function: NAME.into(), work: GroupWork::SemanticDuplicates { eps: self.spec.eps } };
        let batches = run_per_group(&state, input, work).await?;
        let found = concat_batches(&schema, &batches)?;
        // Two rows sharing an id would show as a row that duplicates itself.
        let codec = IdCodec::new(self.id.field.data_type())?;
        let (ids, of) = (codec.keys(found.column(0))?, codec.keys(found.column(1))?);
        if let Some(i) = (0..found.num_rows()).find(|&i| ids.key(i) == of.key(i)) {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: id {} appears in more than one row of '{}'; ids in column '{}' must be unique",
                codec.display(&ids.key(i)),
                self.table_name,
                self.id.field.name()
            )));
        }
        let order = lexsort_to_indices(
            &[SortColumn { values: found.column(1).clone(), options: None }, SortColumn { values: found.column(0).clone(), options: None }],
            None,
        )?;
        batch_stream(take_record_batch(&found, &order)?, &projection)
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
