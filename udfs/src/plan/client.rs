//! Table functions that do their work in the client: a job runs plans of its
//! own over the table (here, or on the session's cluster: the session's
//! config says which) and does the small part in between itself. Their plan
//! node, [`ClientExec`], never travels to a cluster ([`runs_in_client`]): the
//! selection functions, the dedup functions and their reports are all jobs
//! on it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::TryStreamExt;

use crate::plan::remote::session_state;

/// A table function's work, once its arguments are resolved.
#[async_trait]
pub trait ClientJob: fmt::Debug + Send + Sync {
    /// The function's name, for EXPLAIN and errors.
    fn function(&self) -> &'static str;
    /// The arguments, for EXPLAIN.
    fn describe(&self) -> String;
    /// The result's columns.
    fn schema(&self) -> SchemaRef;
    /// The result's columns `projection` (indices into [`Self::schema`]).
    async fn run(&self, state: SessionState, projection: Vec<usize>) -> Result<SendableRecordBatchStream>;
}

/// A [`ClientJob`]'s result as a table.
#[derive(Debug)]
pub struct ClientTable(pub Arc<dyn ClientJob>);

#[async_trait]
impl TableProvider for ClientTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projection = projection.cloned().unwrap_or_else(|| (0..self.0.schema().fields().len()).collect());
        Ok(Arc::new(ClientExec::new(Arc::clone(&self.0), session_state(session)?, projection)?))
    }
}

/// Runs a [`ClientJob`] in this process.
#[derive(Debug)]
pub struct ClientExec {
    job: Arc<dyn ClientJob>,
    state: SessionState,
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ClientExec {
    /// The node that runs `job` in this process and yields its columns
    /// `projection` (indices into the job's schema), as one partition.
    pub fn new(job: Arc<dyn ClientJob>, state: SessionState, projection: Vec<usize>) -> Result<Self> {
        let schema = Arc::new(job.schema().project(&projection)?);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(ClientExec { job, state, projection, schema, properties })
    }
}

impl DisplayAs for ClientExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClientExec: {}({})", self.job.function(), self.job.describe())
    }
}

impl ExecutionPlan for ClientExec {
    fn name(&self) -> &str {
        "ClientExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!("ClientExec has one partition, asked for {partition}")));
        }
        // The job's plans share the memory pool of the statement that runs
        // it, which may be a bounded one of its own.
        let state = SessionStateBuilder::new_from_existing(self.state.clone()).with_runtime_env(context.runtime_env()).build();
        let (job, projection) = (Arc::clone(&self.job), self.projection.clone());
        let future = async move { job.run(state, projection).await };
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), futures::stream::once(future).try_flatten())))
    }
}

/// One batch as a stream of its columns `projection`.
pub fn batch_stream(batch: datafusion::arrow::array::RecordBatch, projection: &[usize]) -> Result<SendableRecordBatchStream> {
    let batch = batch.project(projection)?;
    let schema = batch.schema();
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter([Ok(batch)]))))
}

/// Whether `plan` must run in the client, never on a cluster's executors:
/// the nodes that drive passes of their own over a table (on the cluster,
/// when there is one) and do their work in between.
pub fn runs_in_client(plan: &dyn ExecutionPlan) -> bool {
    plan.downcast_ref::<ClientExec>().is_some()
}
