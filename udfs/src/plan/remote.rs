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
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionConfig;

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
