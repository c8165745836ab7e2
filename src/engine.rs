//! The embeddable engine: a DataFusion `SessionContext` with every odis
//! function and object store registered, plus the statement hooks that make
//! S3 options and atomic `COPY` work.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::SendableRecordBatchStream;
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

use crate::error::{OdisError, Result};
use crate::file_tables::enable_file_tables;
use crate::output::stage_copy;
use crate::stores::{AwsOptions, OdisObjectStoreRegistry, is_remote_scheme, s3_store};

/// Adds the odis SQL functions, the `odis.*` settings and the `aws.*`
/// statement options to a `SessionContext` you already have; returns the
/// registry of models `odis_score` uses in that context.
///
/// S3 buckets are then reachable once you register their stores (see
/// [`crate::stores::s3_store`]); an [`Engine`] creates them on demand.
pub fn register_functions(ctx: &SessionContext) -> Result<Arc<ModelRegistry>> {
    let models = odis_udfs::register(ctx)?;
    ctx.register_table_options_extension(AwsOptions::default());
    Ok(models)
}

/// How to build an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    config: Option<SessionConfig>,
    target_partitions: Option<usize>,
}

impl EngineBuilder {
    /// Starts from this DataFusion configuration instead of the default one.
    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// How many partitions DataFusion plans for (default: the number of CPUs).
    pub fn with_target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n);
        self
    }

    pub fn build(self) -> Result<Engine> {
        let mut config = self
            .config
            .unwrap_or_default()
            .with_information_schema(true);
        if let Some(n) = self.target_partitions {
            if n == 0 {
                return Err(OdisError::InvalidArgument(
                    "target_partitions must be at least 1".into(),
                ));
            }
            config = config.with_target_partitions(n);
        }
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(OdisObjectStoreRegistry::new()))
            .build_arc()?;
        let ctx = enable_file_tables(SessionContext::new_with_config_rt(config, runtime));
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
        Ok(DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?.into())
    }

    /// Plans and runs one statement; the result streams.
    pub async fn execute(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        self.execute_plan(plan).await
    }

    /// Runs a logical plan, registering the object stores its options name
    /// and staging `COPY` outputs so that a failed write leaves nothing.
    pub async fn execute_plan(&self, plan: LogicalPlan) -> Result<SendableRecordBatchStream> {
        match self.prepare_stores(plan)? {
            LogicalPlan::Copy(copy) => {
                let (copy, staged) = stage_copy(&self.ctx.state(), copy)?;
                let df = self.ctx.execute_logical_plan(LogicalPlan::Copy(copy)).await?;
                let schema = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await?;
                if let Some(staged) = staged {
                    staged.commit().await?;
                }
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            plan => {
                let df = self.ctx.execute_logical_plan(plan).await?;
                let task = Arc::new(df.task_ctx());
                let physical = df.create_physical_plan().await?;
                odis_udfs::progress::start_statement(rows_to_score(physical.as_ref()));
                Ok(execute_stream(physical, task)?)
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

/// How many rows the plan's model scoring (odis_score) will see, when the
/// inputs' statistics say; for progress and ETA.
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
