//! The client side of a cluster: an engine plans every statement itself,
//! with its own catalog, and sends the physical plan to the scheduler when
//! it reads files or scores with a model. The scheduler cuts it into stages
//! at its shuffles; the executors run them; the result streams back.
//!
//! Shipping physical plans, not logical ones, is what lets everything the
//! engine knows travel: tables registered in this session, `FROM 'path'`
//! tables, fitted models inlined as literals, the `aws.*` options of a
//! table. The executors need only odis's functions and codec.

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::catalog::Session;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::SessionConfig;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;
use odis_udfs::plan::remote::PlanRunner;
use odis_udfs::runs_in_client;

use crate::cluster::codec::OdisCodec;
use crate::error::{OdisError, Result};

/// How long the first contact with a scheduler may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A scheduler to send plans to.
pub struct Cluster {
    /// As the user wrote it: df://HOST:PORT.
    url: String,
    /// What Ballista's client connects to.
    endpoint: String,
    codec: Arc<dyn PhysicalExtensionCodec>,
    /// The scheduler-side session of this client.
    session_id: String,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").field("url", &self.url).finish()
    }
}

/// `df://HOST:PORT` as host and port.
pub fn parse_url(url: &str) -> Result<(String, u16)> {
    let bad = |why: &str| {
        OdisError::InvalidArgument(format!(
            "--cluster '{url}': {why}; give the scheduler's address as df://HOST:PORT (what `odis scheduler --bind` listens on)"
        ))
    };
    let rest = url.strip_prefix("df://").ok_or_else(|| bad("not a df:// address"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port.parse().map_err(|_| bad(&format!("'{port}' is not a port number")))?;
    Ok((host.to_string(), port))
}

impl Cluster {
    /// Checks that a scheduler answers at `url` (df://HOST:PORT), within
    /// seconds, so that a wrong address fails before any work starts.
    pub fn connect(url: &str) -> Result<Arc<Self>> {
        let (host, port) = parse_url(url)?;
        let unreachable = |why: String| {
            OdisError::Cluster(format!(
                "cannot reach a scheduler at {url}: {why}; start one there with `odis scheduler --bind {host}:{port}`, \
                 or check the address"
            ))
        };
        off_async_threads(|| listens(&host, port, CONNECT_TIMEOUT)).map_err(unreachable)?;
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        Ok(Arc::new(Self {
            url: url.to_string(),
            endpoint: format!("http://{host}:{port}"),
            codec: OdisCodec::shared(),
            session_id: format!("odis-{}-{}", std::process::id(), unique()),
        }))
    }

    /// The address as given (df://HOST:PORT).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `plan` on the cluster; its output streams back as one stream.
    fn submit(&self, plan: Arc<dyn ExecutionPlan>, config: SessionConfig) -> SendableRecordBatchStream {
        let schema = plan.schema();
        let plan = without_nested_clusters(plan);
        let (endpoint, codec, session) = (self.endpoint.clone(), Arc::clone(&self.codec), self.session_id.clone());
        let url = self.url.clone();
        let started = async move {
            let ballista = config.ballista_config();
            execute_physical_plan::<PhysicalPlanNode>(endpoint, &ballista, plan, codec.as_ref(), session, config).await
        };
        let stream = futures::stream::once(started)
            .try_flatten()
            .map_err(move |e| on_cluster(&url, e));
        Box::pin(RecordBatchStreamAdapter::new(schema, stream))
    }

    /// `plan` as this engine runs it: on the cluster when it reads files or
    /// scores with a model (and holds no node that must run here), else as
    /// it is.
    pub fn distribute(self: &Arc<Self>, plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let (mut client_only, mut reads) = (false, false);
        let _ = plan.apply(|node| {
            if runs_in_client(node.as_ref()) {
                client_only = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            reads |= reads_data(node.as_ref());
            Ok(TreeNodeRecursion::Continue)
        });
        if client_only || !reads {
            plan
        } else {
            Arc::new(ClusterExec::new(Arc::clone(self), plan))
        }
    }
}

/// `plan` with every [`ClusterExec`] inside it (a view's plan, planned when
/// the view was scanned) replaced by the plan it would send, merged into one
/// partition as the `ClusterExec` was: the whole plan goes to the cluster.
fn without_nested_clusters(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    use datafusion::common::tree_node::Transformed;
    use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
    let unwrapped = Arc::clone(&plan).transform_up(|node| {
        let Some(nested) = node.downcast_ref::<ClusterExec>() else {
            return Ok(Transformed::no(node));
        };
        let inner = Arc::clone(&nested.plan);
        Ok(Transformed::yes(if inner.properties().output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(inner)) as Arc<dyn ExecutionPlan>
        } else {
            inner
        }))
    });
    unwrapped.map(|t| t.data).unwrap_or(plan)
}

/// Runs a blocking check (a connect with a timeout) from a synchronous API
/// without stalling the async runtime its caller may be on: a worker of a
/// multi-threaded tokio runtime hands its other tasks over first.
fn off_async_threads<T>(check: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(check)
        }
        _ => check(),
    }
}

/// Whether something accepts connections at `host:port` (any of its
/// addresses), within `timeout` per address; else why not.
pub(crate) fn listens(host: &str, port: u16, timeout: Duration) -> std::result::Result<(), String> {
    let addresses = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve '{host}': {e}"))?;
    let mut last = "no address".to_string();
    for addr in addresses {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A process-wide counter, so that two engines of one process get two
/// scheduler sessions.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (NEXT.fetch_add(1, Ordering::Relaxed) << 48)
}

/// Work worth sending: a file scan, a model scoring rows, or a view's plan
/// already bound for the cluster.
fn reads_data(node: &dyn ExecutionPlan) -> bool {
    if node.downcast_ref::<ClusterExec>().is_some() {
        return true;
    }
    if let Some(source) = node.downcast_ref::<DataSourceExec>() {
        return source.data_source().downcast_ref::<FileScanConfig>().is_some();
    }
    node.name() == "AsyncFuncExec"
}

/// A cluster's error, named as one: Ballista reports a failed task as a
/// chain of wrappers around the executor's own message.
fn on_cluster(url: &str, error: DataFusionError) -> DataFusionError {
    let text = error.to_string();
    // The innermost message is what the task itself said.
    let inner = text
        .rsplit("Execution(\"")
        .next()
        .filter(|_| text.contains("Execution(\""))
        .map(|s| s.split("\")").next().unwrap_or(s).replace("\\\"", "\"").replace("\\'", "'"));
    DataFusionError::Execution(match inner {
        Some(message) => format!("{message} (on the cluster at {url})"),
        None => format!("on the cluster at {url}: {text}"),
    })
}

impl PlanRunner for Cluster {
    fn execute(&self, plan: Arc<dyn ExecutionPlan>, config: &SessionConfig) -> DfResult<SendableRecordBatchStream> {
        Ok(self.submit(plan, config.clone()))
    }

    /// A view's scan comes wrapped for the cluster: its plan, with all its
    /// partitions, is the input the selection's nodes want.
    fn scan_input(&self, scan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        match scan.downcast_ref::<ClusterExec>() {
            Some(wrapped) => Arc::clone(&wrapped.plan),
            None => scan,
        }
    }
}

/// A whole plan run on the cluster, as a leaf of the client's plan.
#[derive(Debug)]
pub struct ClusterExec {
    cluster: Arc<Cluster>,
    plan: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl ClusterExec {
    fn new(cluster: Arc<Cluster>, plan: Arc<dyn ExecutionPlan>) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self { cluster, plan, properties }
    }

    /// The plan the cluster runs.
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.plan
    }
}

impl DisplayAs for ClusterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClusterExec: {}", self.cluster.url)
    }
}

impl ExecutionPlan for ClusterExec {
    fn name(&self) -> &str {
        "ClusterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    // A leaf: the plan it sends is the cluster's business, not the client
    // optimizer's.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!("ClusterExec has one partition, asked for {partition}")));
        }
        Ok(self.cluster.submit(Arc::clone(&self.plan), context.session_config().clone()))
    }
}

/// Plans locally, then hands the plan to the cluster (see
/// [`Cluster::distribute`]).
#[derive(Debug)]
pub struct ClusterPlanner {
    cluster: Arc<Cluster>,
}

impl ClusterPlanner {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self { cluster }
    }
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(&self, logical_plan: &LogicalPlan, session_state: &dyn Session) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = DefaultPhysicalPlanner::default().create_physical_plan(logical_plan, session_state).await?;
        // EXPLAIN shows the plan the client built (what the cluster gets).
        if matches!(logical_plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
            return Ok(plan);
        }
        Ok(self.cluster.distribute(plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_parse() {
        assert_eq!(parse_url("df://127.0.0.1:50050").unwrap(), ("127.0.0.1".to_string(), 50050));
        assert_eq!(parse_url("df://sched.internal:7/").unwrap(), ("sched.internal".to_string(), 7));
        assert_eq!(parse_url("df://[::1]:9").unwrap(), ("::1".to_string(), 9));
        for bad in ["http://h:1", "df://h", "df://:1", "df://h:port", "h:1"] {
            let e = parse_url(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("df://HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_unreachable_scheduler_is_named_within_seconds() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = std::time::Instant::now();
        let e = Cluster::connect(&format!("df://127.0.0.1:{port}")).unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(e.contains("cannot reach a scheduler") && e.contains("odis scheduler --bind"), "{e}");
    }
}
