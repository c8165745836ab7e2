//! A session's cluster, as the selection functions see it: an engine
//! connected to one puts [`RemotePlans`] into the session's config, and the
//! selection's plans (the candidate pass, the fetch) then run through it
//! instead of in this process.

use std::fmt;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
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

