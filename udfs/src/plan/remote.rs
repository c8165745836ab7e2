//! A session's cluster, as the table functions see it: an engine connected
//! to one puts [`RemotePlans`] into the session's config, and the plans the
//! functions run of their own (a selection's candidate pass and fetch, a
//! dedup's grouped counts, per-cluster work) then run through it instead of
//! in this process: [`run`] chooses.

use std::fmt;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, execute_stream};
use datafusion::prelude::{DataFrame, SessionConfig};

/// Runs a plan somewhere else than in this process.
pub trait PlanRunner: fmt::Debug + Send + Sync {
    /// Starts every partition of `plan` and streams its output, as one
    /// stream (the plan's own partitions are the runner's business).
    fn execute(&self, plan: Arc<dyn ExecutionPlan>, config: &SessionConfig) -> Result<SendableRecordBatchStream>;

    /// The plan of a table's scan, with its partitions, for use as the
    /// input of a larger plan the runner will run: a runner may have
    /// wrapped a view's plan into a node of its own.
    fn scan_input(&self, scan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        scan
    }
}

/// The session's cluster, as a config extension: present, the selection
/// functions send their passes over the table to it.
#[derive(Debug, Clone)]
pub struct RemotePlans(pub Arc<dyn PlanRunner>);

/// The cluster of a session, if it has one.
pub fn remote(config: &SessionConfig) -> Option<Arc<RemotePlans>> {
    config.get_extension::<RemotePlans>()
}

/// The physical plan of `rows`, as it would run here or on the session's
/// cluster.
pub async fn plan_of(rows: DataFrame, state: &SessionState) -> Result<Arc<dyn ExecutionPlan>> {
    let scan = rows.into_view().scan(state, None, &[], None).await?;
    Ok(match remote(state.config()) {
        Some(remote) => remote.0.scan_input(scan),
        None => scan,
    })
}

/// Work done one key at a time: `input` hash-partitioned by the first
/// column of `ordering` and each partition sorted by `ordering` (a sort
/// that spills), `node` run over the sorted partitions, its output in one.
/// A task then holds the rows of one key, never the table's.
pub fn by_key(
    input: Arc<dyn ExecutionPlan>,
    ordering: LexOrdering,
    partitions: usize,
    node: impl FnOnce(Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let key = Arc::clone(&ordering.first().expr);
    by_key_sorted(input, key, ordering, partitions, node)
}

/// [`by_key`] with the key apart from the ordering, for an ordering whose
/// first column holds the key and more (band_pairs.rs: key and id in one).
pub fn by_key_sorted(
    input: Arc<dyn ExecutionPlan>,
    key: Arc<dyn PhysicalExpr>,
    ordering: LexOrdering,
    partitions: usize,
    node: impl FnOnce(Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let repartitioned = Arc::new(RepartitionExec::try_new(input, Partitioning::Hash(vec![key], partitions.max(1)))?);
    let sorted = Arc::new(SortExec::new(ordering, repartitioned).with_preserve_partitioning(true));
    Ok(Arc::new(CoalescePartitionsExec::new(node(sorted)?)))
}

/// Runs a plan: on the session's cluster when it has one, else here.
pub fn run(plan: Arc<dyn ExecutionPlan>, state: &SessionState) -> Result<SendableRecordBatchStream> {
    match remote(state.config()) {
        Some(remote) => remote.0.execute(plan, state.config()),
        None => execute_stream(plan, state.task_ctx()),
    }
}

/// The DataFusion session state behind a table function's session, which
/// the functions plan with.
pub fn session_state(session: &dyn Session) -> Result<SessionState> {
    session
        .as_any()
        .downcast_ref::<SessionState>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("odis's table functions need a DataFusion SessionState".into()))
}
