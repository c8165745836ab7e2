//! odis on a cluster of machines, through Apache DataFusion Ballista: the
//! scheduler and executor processes (with odis's functions), the client
//! that sends them plans, and the codec plans travel with.
//!
//! - `client.rs`: [`Cluster`] (a scheduler's address, checked on connect),
//!   the query planner of an engine with a cluster, [`ClusterExec`].
//! - `processes.rs`: `odis scheduler`, `odis executor`, and a cluster inside
//!   this process for tests and examples.
//! - `codec.rs`: Ballista's nodes and odis's selection nodes, as bytes.

mod client;
mod codec;
mod processes;

pub use client::{Cluster, ClusterExec, ClusterPlanner, parse_url};
pub use codec::OdisCodec;
pub use processes::{
    DEFAULT_EXECUTOR_TIMEOUT_SECONDS, ExecutorOptions, SchedulerOptions, check_scheduler, cluster_config, executor_task_port, run_executor, run_scheduler, with_message_limit, MESSAGE_LIMIT,
    start_standalone,
};
