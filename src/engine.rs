//! The embeddable engine: a DataFusion `SessionContext` with every odis
//! function and object store registered, plus the statement hooks that make
//! S3 options and atomic `COPY` work.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext, execute_stream};
use datafusion::common::stats::Precision;
use odis_udfs::ModelRegistry;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use futures::TryStreamExt;

#[cfg(feature = "cluster")]
use crate::cluster::{Cluster, ClusterPlanner};
use crate::error::{OdisError, Result};
use datafusion::execution::session_state::SessionStateBuilder;
use crate::file_tables::enable_file_tables;
use crate::output::stage_copy;
use crate::runtime::odis_runtime;
use crate::scalar_subqueries::inline_scalar_subqueries;
use crate::scan_progress::count_scanned_rows;
use odis_udfs::score::progress::ScoreProgress;
use crate::stores::{AwsOptions, is_remote_scheme, s3_store};
pub use crate::functions::register_functions;

/// How to build an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    config: Option<SessionConfig>,
    target_partitions: Option<usize>,
    memory_limit: Option<MemoryLimit>,
    #[cfg(feature = "cluster")]
    cluster: Option<String>,
}

pub use odis_udfs::plan::memory::{MIN_MEMORY_LIMIT, MemoryLimit};
use odis_udfs::plan::memory::spilling_pool;

/// Partitions a scan is split into on a cluster, unless the engine is told
/// otherwise.
#[cfg(feature = "cluster")]
pub const CLUSTER_PARTITIONS: usize = 16;

/// Rows per row group of the Parquet files a `COPY` writes, unless set
/// (`SET datafusion.execution.parquet.max_row_group_size`, or a config
/// given to the builder).
pub const PARQUET_ROW_GROUP: usize = 1 << 16;

impl EngineBuilder {
    /// Starts from this DataFusion configuration instead of the default one
    /// (whose settings then stand as they are, the Parquet row group's
    /// included).
    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// How many partitions DataFusion plans for (default: the number of CPUs).
    pub fn with_target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n);
        self
    }

    /// The memory limit of the engine's operators (default:
    /// [`MemoryLimit::default_for_machine`]). Sorts and aggregations spill
    /// to the system's temporary directory when they reach it.
    pub fn with_memory_limit(mut self, limit: MemoryLimit) -> Self {
        self.memory_limit = Some(limit);
        self
    }

    /// Runs statements on the cluster whose scheduler listens at `url`
    /// (`df://HOST:PORT`): every statement that reads files or scores with
    /// a model is planned here and run by the cluster's executors. `build`
    /// fails within seconds if no scheduler answers there. (Cargo feature
    /// `cluster`, on by default.)
    #[cfg(feature = "cluster")]
    pub fn cluster(mut self, url: impl Into<String>) -> Self {
        self.cluster = Some(url.into());
        self
    }

    pub fn build(self) -> Result<Engine> {
        let given = self.config.is_some();
        let mut config = self
            .config
            .unwrap_or_default()
            .with_information_schema(true)
            // Off until `odis select` turns it on for its run.
            .with_extension(Arc::new(odis_udfs::select::selection_plan::DraftReuse::default()));
        if !given {
            // A Parquet writer buffers a whole row group: at DataFusion's
            // 1M rows, a COPY of documents holds gigabytes of text, and a
            // table of scores grows with the corpus up to 1M rows.
            config.options_mut().execution.parquet.max_row_group_size = PARQUET_ROW_GROUP;
        }
        if let Some(n) = self.target_partitions {
            if n == 0 {
                return Err(OdisError::InvalidArgument(
                    "target_partitions must be at least 1".into(),
                ));
            }
            config = config.with_target_partitions(n);
        }
        let mut runtime = odis_runtime();
        if let MemoryLimit::Bytes(bytes) = self.memory_limit.unwrap_or_else(MemoryLimit::default_for_machine) {
            runtime = runtime.with_memory_pool(spilling_pool(bytes));
        }
        let runtime = runtime.build_arc()?;
        // (Changed only by the cluster's setup below.)
        #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
        let mut state = SessionStateBuilder::new().with_runtime_env(runtime).with_default_features();
        #[cfg(feature = "cluster")]
        if let Some(url) = &self.cluster {
            use ballista_core::extension::SessionConfigExt;
            let cluster = Cluster::connect(url)?;
            // Ballista's settings (so that SET ballista.* works) and its
            // restrictions on plans (no round-robin repartitions).
            // A scan's partitions are the cluster's tasks: unless told,
            // plan for more than this machine's cores (Ballista's default).
            if self.target_partitions.is_none() {
                let partitions = config.target_partitions().max(CLUSTER_PARTITIONS);
                config = config.with_target_partitions(partitions);
            }
            config = crate::cluster::with_message_limit(config.upgrade_for_ballista())
                .with_extension(Arc::new(odis_udfs::plan::remote::RemotePlans(cluster.clone())));
            state = state.with_query_planner(Arc::new(ClusterPlanner::new(Arc::clone(&cluster))));
        }
        let state = state.with_config(config).build();
        let ctx = enable_file_tables(SessionContext::new_with_state(state));
        let models = register_functions(&ctx)?;
        Ok(Engine { ctx, models })
    }
}

/// An odis engine: run SQL, get Arrow record batches.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> odis::Result<()> {
/// let engine = odis::Engine::new()?;
/// let batches = engine.sql("SELECT 41 + 1 AS x").await?;
/// assert_eq!(batches[0].num_rows(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    models: Arc<ModelRegistry>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("session_id", &self.ctx.session_id()).finish()
    }
}

impl Engine {
    /// An engine with the default configuration.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The DataFusion context underneath, to register tables or functions of
    /// your own.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The models `odis_score` can use by name, and every model loaded so far.
    pub fn models(&self) -> &Arc<ModelRegistry> {
        &self.models
    }

    /// Names a model directory for `odis_score(text, 'NAME')`. The directory
    /// is loaded and checked now.
    pub fn register_model(&self, name: &str, dir: impl AsRef<std::path::Path>) -> Result<()> {
        self.models.register(name, dir.as_ref())?;
        Ok(())
    }

    /// Splits `sql` into statements, in the session's SQL dialect.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let dialect_name = self.ctx.state().config().options().sql_parser.dialect.to_string();
        let dialect = dialect_from_str(&dialect_name).ok_or_else(|| {
            OdisError::InvalidArgument(format!("unsupported SQL dialect '{dialect_name}'"))
        })?;
        let mut statements: Vec<Statement> = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?.into();
        statements.iter_mut().for_each(crate::named_arguments::unname_table_arguments);
        Ok(statements)
    }

    /// Plans and runs one statement; the result streams.
    pub async fn execute(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        self.execute_plan(plan).await
    }

    /// Runs a logical plan, registering the object stores its options name
    /// and staging `COPY` outputs so that a failed write leaves nothing.
    pub async fn execute_plan(&self, plan: LogicalPlan) -> Result<SendableRecordBatchStream> {
        self.run_plan(plan, None, None).await
    }

    /// Plans and runs one statement like [`Engine::execute`], counting into
    /// `progress` as it runs (for progress bars).
    pub async fn execute_watched(&self, statement: Statement, progress: &StatementProgress) -> Result<SendableRecordBatchStream> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        self.run_plan(plan, Some(progress), None).await
    }

    /// Plans and runs one statement like [`Engine::execute_watched`], within
    /// `bounds`: its sorts and aggregations hold at most `bounds.memory`
    /// bytes (never more than the engine's limit) in a pool of their own,
    /// past which they spill sorted runs to disk, in batches of
    /// `bounds.batch_rows` rows; a sort runs in one partition. For a
    /// statement whose memory would otherwise grow with its input until
    /// the engine's whole limit, such as `odis select`'s fetch. On a
    /// cluster, the executors' own limits apply.
    pub async fn execute_bounded(&self, statement: Statement, progress: &StatementProgress, bounds: Bounds) -> Result<SendableRecordBatchStream> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        self.run_plan(plan, Some(progress), Some(bounds)).await
    }

    async fn run_plan(&self, plan: LogicalPlan, progress: Option<&StatementProgress>, bounds: Option<Bounds>) -> Result<SendableRecordBatchStream> {
        let unwatched = StatementProgress::default();
        let progress = progress.unwrap_or(&unwatched);
        if let LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set)) = &plan {
            check_odis_setting(&self.ctx, &set.variable, &set.value)?;
        }
        // EXPLAIN prints the options of the statement it explains: keep its
        // secrets out of that text.
        if let Some(aws) = explained_secrets(&plan)? {
            let df = self.ctx.execute_logical_plan(plan).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?.iter().map(|b| redact_batch(b, &aws)).collect::<Result<Vec<_>>>()?;
            return Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?));
        }
        let plan = inline_scalar_subqueries(&self.ctx, plan).await?;
        let counted = |plan: Arc<dyn ExecutionPlan>| count_scanned_rows(plan, &progress.rows_read);
        match self.prepare_stores(plan)? {
            LogicalPlan::Copy(copy) => {
                let (copy, staged) = stage_copy(&self.ctx.state(), copy)?;
                let df = self.ctx.execute_logical_plan(LogicalPlan::Copy(copy)).await?;
                let schema = Arc::new(df.schema().as_arrow().clone());
                let (physical, task) = physical_plan(df, &progress.scoring, bounds).await?;
                #[cfg(feature = "cluster")]
                let on_cluster = physical.downcast_ref::<crate::cluster::ClusterExec>().is_some();
                #[cfg(not(feature = "cluster"))]
                let on_cluster = false;
                let batches = datafusion::physical_plan::collect(counted(physical)?, task).await?;
                // A cluster's scans count their rows in other processes: a
                // COPY's progress is then its row count, when it is done.
                if on_cluster {
                    progress.rows_read.fetch_add(copied_rows(&batches), std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(staged) = staged {
                    staged.commit().await?;
                }
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            plan => {
                let df = self.ctx.execute_logical_plan(plan).await?;
                let (physical, task) = physical_plan(df, &progress.scoring, bounds).await?;
                Ok(execute_stream(counted(physical)?, task)?)
            }
        }
    }

    /// Runs every statement of `sql` in order and returns the result of the
    /// last one.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut last = Vec::new();
        for statement in self.parse(sql)? {
            last = self.execute(statement).await?.try_collect().await?;
        }
        Ok(last)
    }

    /// `CREATE EXTERNAL TABLE` and `COPY` may carry `aws.*` options: build
    /// the stores they describe before DataFusion looks for them, and keep
    /// secrets out of the stored table definition.
    fn prepare_stores(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut cmd)) => {
                if let Some(aws) = AwsOptions::from_statement_options(&cmd.options)? {
                    for location in &cmd.locations {
                        self.register_s3_store(location, &aws)?;
                    }
                    cmd.definition = cmd.definition.map(|d| aws.redact(&d));
                }
                Ok(LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)))
            }
            LogicalPlan::Copy(copy) => {
                if let Some(aws) = AwsOptions::from_statement_options(&copy.options)? {
                    self.register_s3_store(&copy.output_url, &aws)?;
                }
                Ok(LogicalPlan::Copy(copy))
            }
            plan => Ok(plan),
        }
    }

    fn register_s3_store(&self, location: &str, aws: &AwsOptions) -> Result<()> {
        let url = ListingTableUrl::parse(location)?;
        let object_store_url = url.object_store();
        let store_url: &url::Url = object_store_url.as_ref();
        if !is_remote_scheme(store_url.scheme()) {
            return Err(OdisError::InvalidArgument(format!(
                "'aws.*' options apply only to s3:// locations, not '{location}'; remove them"
            )));
        }
        self.ctx.register_object_store(store_url, s3_store(store_url, Some(aws))?);
        Ok(())
    }
}

/// The `aws.*` options of a `COPY` or `CREATE EXTERNAL TABLE` that an
/// `EXPLAIN` (or `EXPLAIN ANALYZE`) wraps.
fn explained_secrets(plan: &LogicalPlan) -> Result<Option<AwsOptions>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let inner = match plan {
        LogicalPlan::Explain(explain) => explain.plan.as_ref(),
        LogicalPlan::Analyze(analyze) => analyze.input.as_ref(),
        _ => return Ok(None),
    };
    let mut found = None;
    inner.apply(|node| {
        let options = match node {
            LogicalPlan::Copy(copy) => Some(&copy.options),
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(cmd)) => Some(&cmd.options),
            _ => None,
        };
        if let Some(options) = options {
            found = AwsOptions::from_statement_options(options).map_err(|e| DataFusionError::External(Box::new(e)))?;
        }
        Ok(if found.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

/// `batch` with every secret of `aws` in its text columns replaced.
fn redact_batch(batch: &RecordBatch, aws: &AwsOptions) -> Result<RecordBatch> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use datafusion::arrow::datatypes::DataType;
    let columns = batch
        .columns()
        .iter()
        .map(|column| -> ArrayRef {
            match column.data_type() {
                DataType::Utf8 => {
                    let text = column.as_string::<i32>();
                    Arc::new(text.iter().map(|v| v.map(|v| aws.redact(v))).collect::<StringArray>())
                }
                _ => Arc::clone(column),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns).map_err(DataFusionError::from)?)
}

/// The row count a `COPY` answers with.
fn copied_rows(batches: &[RecordBatch]) -> u64 {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::UInt64Type;
    batches
        .iter()
        .filter_map(|b| b.column(0).as_primitive_opt::<UInt64Type>())
        .flat_map(|counts| counts.iter().flatten())
        .sum()
}

/// How many rows the plan's model scoring (odis_score) will see, when the
/// inputs' statistics say; for progress and ETA.
/// What a caller watches of one statement while it runs.
#[derive(Debug, Clone, Default)]
pub struct StatementProgress {
    /// Rows the statement's scans have read so far.
    pub rows_read: Arc<AtomicU64>,
    /// Rows `odis_score` has scored so far, and how many it will.
    pub scoring: ScoreProgress,
}

/// How [`Engine::execute_bounded`] runs one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes its sorts and aggregations may hold before they spill.
    pub memory: usize,
    /// Rows per batch. A spilled sort's merge holds a batch of each sorted
    /// run: wide rows need short batches for it to fit in `memory`.
    pub batch_rows: usize,
}

/// The physical plan of `df` and the context to run it in, with `scoring`
/// in the statement's config for `odis_score` to count into, and within
/// `bounds` when given.
async fn physical_plan(
    df: datafusion::dataframe::DataFrame,
    scoring: &ScoreProgress,
    bounds: Option<Bounds>,
) -> Result<(Arc<dyn ExecutionPlan>, Arc<TaskContext>)> {
    let (mut state, plan) = df.into_parts();
    state.config_mut().options_mut().extensions.insert(scoring.clone());
    if let Some(bounds) = bounds {
        let options = state.config_mut().options_mut();
        options.execution.batch_size = datafusion::common::config::ConfigNonZeroUsize::try_new(bounds.batch_rows.max(1))?;
        // One sort, not one per partition and a merge across them: each
        // would take its own share of the bound, and the merge, last to
        // ask, would find none left.
        options.optimizer.repartition_sorts = false;
    }
    let physical = state.create_physical_plan(&plan).await?;
    scoring.set_expected(rows_to_score(physical.as_ref()));
    let mut task = TaskContext::from(&state);
    if let Some(bounds) = bounds {
        use datafusion::execution::memory_pool::MemoryLimit as PoolLimit;
        let runtime = state.runtime_env();
        let bytes = match runtime.memory_pool.memory_limit() {
            PoolLimit::Finite(limit) => bounds.memory.min(limit),
            PoolLimit::Infinite | PoolLimit::Unknown => bounds.memory,
        };
        // The same disk manager, caches and stores: only the pool differs.
        let bounded = RuntimeEnvBuilder::from_runtime_env(runtime).with_memory_pool(spilling_pool(bytes)).build_arc()?;
        task = task.with_runtime(bounded);
    }
    Ok((physical, Arc::new(task)))
}

fn rows_to_score(plan: &dyn ExecutionPlan) -> Option<u64> {
    let mut total = 0u64;
    let mut found = false;
    let mut pending = vec![plan];
    while let Some(node) = pending.pop() {
        if node.name() == "AsyncFuncExec" {
            found = true;
            let input = node.children().first().copied()?;
            let statistics = StatisticsContext::new().compute(input.as_ref(), &StatisticsArgs::new()).ok()?;
            match statistics.num_rows {
                Precision::Exact(n) | Precision::Inexact(n) => total += n as u64,
                Precision::Absent => return None,
            }
        }
        pending.extend(node.children().into_iter().map(|c| c.as_ref()));
    }
    found.then_some(total)
}

#[cfg(test)]
mod memory_limit_tests {
    use super::*;

    #[tokio::test]
    async fn a_sort_over_the_limit_spills_instead_of_failing() {
        let engine = Engine::builder()
            .with_memory_limit(MemoryLimit::Bytes(MIN_MEMORY_LIMIT))
            .with_target_partitions(1)
            .build()
            .unwrap();
        // About 250 MB of strings to sort (a window's full sort) under a 64 MiB limit.
        let batches = engine
            .sql(
                "SELECT max(n) FROM (SELECT row_number() OVER (ORDER BY s) AS n \
                 FROM (SELECT repeat(CAST(value % 977 AS VARCHAR), 80) AS s FROM generate_series(1, 1000000)))",
            )
            .await
            .unwrap();
        let n = datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Int64).unwrap();
        use datafusion::arrow::array::AsArray;
        assert_eq!(n.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0), 1_000_000);
    }

    /// Every partition's sort spills, and the merge across the partitions
    /// and the Parquet writer after it still find room in the smallest
    /// pool. (It passes with merges of 16 runs too: what failed at 16 was
    /// near_duplicates over 4M signatures under 128 MiB, a benchmark.)
    #[tokio::test]
    async fn sorts_of_several_partitions_merge_their_spilled_runs_in_the_smallest_pool() {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Int64Type;
        use futures::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sorted.parquet");
        let engine = Engine::builder()
            .with_memory_limit(MemoryLimit::Bytes(MIN_MEMORY_LIMIT))
            .with_target_partitions(2)
            .build()
            .unwrap();
        // About 200 MB of rows, sorted by a key that scatters them.
        engine
            .sql(&format!(
                "COPY (SELECT k, v, pad FROM (SELECT value AS v, (value * 2654435761) % 1000003 AS k, repeat('x', 100) AS pad \
                 FROM generate_series(1, 1500000)) ORDER BY k, v) TO '{}'",
                out.display()
            ))
            .await
            .unwrap();
        // Read back in file order.
        let reader = Engine::builder().with_target_partitions(1).build().unwrap();
        let sql = format!("SELECT k, v FROM '{}'", out.display());
        let mut rows = reader.execute(reader.parse(&sql).unwrap().remove(0)).await.unwrap();
        let (mut count, mut last) = (0usize, (i64::MIN, i64::MIN));
        while let Some(batch) = rows.next().await {
            let batch = batch.unwrap();
            let (k, v) = (batch.column(0).as_primitive::<Int64Type>(), batch.column(1).as_primitive::<Int64Type>());
            for i in 0..batch.num_rows() {
                let row = (k.value(i), v.value(i));
                assert!(row > last, "out of order: {row:?} after {last:?}");
                last = row;
            }
            count += batch.num_rows();
        }
        assert_eq!(count, 1_500_000);
    }

    /// The sort's spill count, as EXPLAIN ANALYZE reports it.
    async fn sort_spills(engine: &Engine, memory: Option<usize>) -> usize {
        use datafusion::arrow::array::AsArray;
        // About 250 MB of strings to sort.
        let sql = "EXPLAIN ANALYZE SELECT s FROM (SELECT repeat(CAST(value % 977 AS VARCHAR), 80) AS s \
                   FROM generate_series(1, 1000000)) ORDER BY s";
        let statement = engine.parse(sql).unwrap().remove(0);
        let stream = match memory {
            Some(memory) => engine.execute_bounded(statement, &StatementProgress::default(), Bounds { memory, batch_rows: 8192 }).await,
            None => engine.execute(statement).await,
        };
        let batches: Vec<RecordBatch> = stream.unwrap().try_collect().await.unwrap();
        let plan: String = batches.iter().flat_map(|b| b.column(1).as_string::<i32>().iter().flatten().map(str::to_string)).collect();
        let sort = plan.lines().find(|l| l.contains("SortExec")).expect("a SortExec in the plan");
        let count = sort.split("spill_count=").nth(1).expect("the sort's spill count");
        count.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    }

    /// The row counts of the row groups of the Parquet file at `path`.
    fn row_groups(path: &std::path::Path) -> Vec<i64> {
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect()
    }

    #[tokio::test]
    async fn a_copy_writes_row_groups_of_64k_rows_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let copy = |name: &str| {
            let path = dir.path().join(name);
            let sql = format!("COPY (SELECT value FROM generate_series(1, 150000)) TO '{}' STORED AS PARQUET", path.display());
            (path, sql)
        };
        let engine = Engine::builder().with_target_partitions(1).build().unwrap();
        let (path, sql) = copy("default.parquet");
        engine.sql(&sql).await.unwrap();
        assert_eq!(row_groups(&path), [65536, 65536, 18928]);
        // A setting of the session wins, and a config given to the builder.
        engine.sql("SET datafusion.execution.parquet.max_row_group_size = 100000").await.unwrap();
        let (path, sql) = copy("set.parquet");
        engine.sql(&sql).await.unwrap();
        assert_eq!(row_groups(&path), [100000, 50000]);
        let given = Engine::builder().with_config(SessionConfig::new().with_target_partitions(1)).build().unwrap();
        let (path, sql) = copy("given.parquet");
        given.sql(&sql).await.unwrap();
        assert_eq!(row_groups(&path), [150000]);
    }

    #[tokio::test]
    async fn a_bounded_statement_spills_in_its_own_pool() {
        let engine = Engine::builder().with_memory_limit(MemoryLimit::Unlimited).with_target_partitions(1).build().unwrap();
        assert_eq!(sort_spills(&engine, None).await, 0, "an unlimited engine holds the whole sort");
        assert!(sort_spills(&engine, Some(MIN_MEMORY_LIMIT)).await > 0, "bounded to 64 MiB, the sort spills");
        // The bound is the engine's limit at most.
        let limited = Engine::builder().with_memory_limit(MemoryLimit::Bytes(MIN_MEMORY_LIMIT)).with_target_partitions(1).build().unwrap();
        assert!(sort_spills(&limited, Some(usize::MAX)).await > 0, "a bound above the engine's limit keeps the limit");
    }
}

/// `SET odis.NAME = VALUE` is checked when it is set, not when a model first
/// runs with it: the value must parse and, with the other settings, resolve
/// to a usable execution (a real device, bounded sessions and threads).
fn check_odis_setting(ctx: &SessionContext, variable: &str, value: &str) -> Result<()> {
    let name = variable.to_ascii_lowercase();
    if !name.starts_with("odis.") {
        return Ok(());
    }
    let mut config = ctx.state().config().options().as_ref().clone();
    config
        .set(&name, value)
        .map_err(|e| OdisError::InvalidArgument(format!("{name} = '{value}': {}", crate::error::one_line(&e.to_string()))))?;
    let invalid = |e: DataFusionError| OdisError::InvalidArgument(crate::error::one_line(&e.to_string()));
    odis_udfs::plan::memory::dedup_memory(config.extensions.get::<odis_udfs::OdisOptions>(), 1).map_err(invalid)?;
    odis_udfs::score::options::Execution::from_config(&config).map(|_| ()).map_err(invalid)
}
