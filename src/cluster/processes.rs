//! The processes of a cluster: Ballista's scheduler and executor with
//! odis's functions, settings, object stores and codec, so that plans using
//! them decode and run. Also a cluster inside this process, for tests and
//! examples.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::context::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use odis_udfs::OdisOptions;

use crate::cluster::codec::OdisCodec;
use crate::error::{OdisError, Result};
use crate::runtime::odis_runtime;

/// How often an executor tells the scheduler it is alive, and how long the
/// scheduler waits before it gives a silent executor's tasks to others.
/// Ballista's defaults (60 s and 180 s) leave a query waiting minutes after
/// a machine dies.
const HEARTBEAT_SECONDS: u64 = 5;
pub const DEFAULT_EXECUTOR_TIMEOUT_SECONDS: u64 = 20;

/// The largest message (a plan, a task) the processes and clients send each
/// other. Ballista's 16 MiB is too little for a selection's fetch, whose
/// plan carries the picks (some 30 bytes each: half a million at 16 MiB).
pub const MESSAGE_LIMIT: u32 = 1 << 30;

/// The configuration every process of the cluster starts from: Ballista's
/// and odis's settings (so that `SET odis.*` and `SET ballista.*` of a
/// client apply on the executors).
pub fn cluster_config() -> SessionConfig {
    with_message_limit(SessionConfig::new_with_ballista().with_option_extension(OdisOptions::default()))
}

/// `config` with [`MESSAGE_LIMIT`] for its gRPC clients.
pub fn with_message_limit(mut config: SessionConfig) -> SessionConfig {
    let _ = config.options_mut().set("ballista.client.grpc_max_message_size", &MESSAGE_LIMIT.to_string());
    config
}

/// The runtime every odis session starts from (`runtime.rs`: odis's object
/// stores, no cached directory listings, the merges of spilled runs), with
/// the executor's spill directory.
fn runtime(temp_dir: Option<&PathBuf>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder = odis_runtime();
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir);
    }
    builder.build_arc()
}

/// A session with every odis function: what the scheduler decodes plans
/// with, and where the executors' function registry comes from.
fn odis_session(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> datafusion::error::Result<SessionState> {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::functions::register_functions(&ctx).map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    Ok(ctx.state())
}

fn function_registry() -> Result<BallistaFunctionRegistry> {
    let state = odis_session(cluster_config(), runtime(None)?)?;
    Ok((&state).into())
}

fn ballista_error(what: &str, e: impl std::fmt::Display) -> OdisError {
    OdisError::Cluster(format!("{what}: {e}"))
}

/// `odis scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// Seconds without a heartbeat after which an executor is taken for
    /// dead and its tasks run elsewhere.
    pub executor_timeout_seconds: u64,
}

/// Runs a scheduler until the process ends.
pub async fn run_scheduler(options: &SchedulerOptions) -> Result<()> {
    let mut config = SchedulerConfig::default()
        .with_hostname(options.bind.ip().to_string())
        .with_port(options.bind.port())
        // One task per executor in turn, not every slot of the first
        // executor first (Ballista's default): a stage with fewer tasks
        // than the cluster has slots otherwise runs on one machine.
        .with_task_distribution(ballista_scheduler::config::TaskDistributionPolicy::RoundRobin)
        .with_grpc_server_max_decoding_message_size(MESSAGE_LIMIT)
        .with_grpc_server_max_encoding_message_size(MESSAGE_LIMIT)
        .with_override_config_producer(Arc::new(cluster_config))
        .with_override_session_builder(Arc::new(|config: SessionConfig| odis_session(config, runtime(None)?)));
    let timeout = options.executor_timeout_seconds.max(HEARTBEAT_SECONDS * 2);
    config.executor_timeout_seconds = timeout;
    config.expire_dead_executor_interval_seconds = (timeout / 4).max(1);
    config.no_executors_grace_period_seconds = timeout;
    config.override_physical_codec = Some(OdisCodec::shared());
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| ballista_error("cannot start the scheduler", e))?;
    start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(|e| ballista_error(&format!("the scheduler on {} stopped", options.bind), e))
}

/// `odis executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// Where this executor serves its shuffle output (Arrow Flight).
    pub bind: SocketAddr,
    /// The host other processes reach this one at (default: the bind
    /// address, unless that is unspecified).
    pub external_host: Option<String>,
    /// Shuffle files and spills (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
    /// Tasks run at once (default: the number of CPUs).
    pub concurrent_tasks: usize,
}

/// Waits up to `patience` for the scheduler at `host:port` to accept a
/// connection (it may be starting at the same time), so that an executor
/// pointed at the wrong address says so instead of retrying in silence.
/// Connects and waits asynchronously: no runtime thread is held.
pub async fn check_scheduler(host: &str, port: u16, patience: std::time::Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let attempt = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::net::TcpStream::connect((host, port))).await;
        let why = match attempt {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 2 s".to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(OdisError::Cluster(format!(
                "no scheduler at {host}:{port} ({why}); start one there with `odis scheduler --bind {host}:{port}`, \
                 or check --scheduler"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The second port an executor listens on (Ballista's task service): the
/// one after its Arrow Flight port, which must therefore be fixed (not 0)
/// and below 65535.
pub fn executor_task_port(port: u16) -> std::result::Result<u16, String> {
    match port {
        0 => Err("the executor needs a fixed port (it also listens on PORT+1); choose one from 1 to 65534".into()),
        u16::MAX => Err("the executor also listens on PORT+1, so PORT 65535 leaves no room; choose one from 1 to 65534".into()),
        port => Ok(port + 1),
    }
}

/// Runs an executor until the process ends.
pub async fn run_executor(options: &ExecutorOptions) -> Result<()> {
    let grpc_port = executor_task_port(options.bind.port())
        .map_err(|e| OdisError::InvalidArgument(format!("executor address {}: {e}", options.bind)))?;
    if let Some(dir) = &options.work_dir {
        std::fs::create_dir_all(dir).map_err(|e| OdisError::io(format!("--work-dir '{}'", dir.display()), e))?;
    }
    let temp = options.work_dir.clone();
    let external_host = options
        .external_host
        .clone()
        .or_else(|| (!options.bind.ip().is_unspecified()).then(|| options.bind.ip().to_string()));
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host,
        port: options.bind.port(),
        grpc_port,
        scheduler_host: options.scheduler.0.clone(),
        scheduler_port: options.scheduler.1,
        scheduler_connect_timeout_seconds: 10,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir.as_ref().map(|d| d.display().to_string()),
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        grpc_max_decoding_message_size: MESSAGE_LIMIT,
        grpc_max_encoding_message_size: MESSAGE_LIMIT,
        override_function_registry: Some(Arc::new(function_registry()?)),
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| runtime(temp.as_ref()))),
        override_config_producer: Some(Arc::new(cluster_config)),
        override_physical_codec: Some(OdisCodec::shared()),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|e| {
        ballista_error(
            &format!("the executor for the scheduler at {}:{} stopped", options.scheduler.0, options.scheduler.1),
            e,
        )
    })
}

/// A scheduler and executors inside this process, on 127.0.0.1: the same
/// code paths as a real cluster but one address space (which hides bugs a
/// real cluster shows: test with processes too).
pub async fn start_standalone(executors: usize, concurrent_tasks: usize) -> Result<String> {
    let codec = BallistaCodec::new(
        Arc::new(ballista_core::serde::BallistaLogicalExtensionCodec::default()),
        OdisCodec::shared(),
    );
    let address = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        Arc::new(|config: SessionConfig| odis_session(config, runtime(None)?)),
        Arc::new(cluster_config),
        codec.clone(),
    )
    .await
    .map_err(|e| ballista_error("cannot start an in-process scheduler", e))?;
    let endpoint = format!("http://localhost:{}", address.port());
    for _ in 0..executors {
        let scheduler = SchedulerGrpcClient::connect(endpoint.clone())
            .await
            .map_err(|e| ballista_error("cannot reach the in-process scheduler", e))?;
        ballista_executor::new_standalone_executor_from_builder(
            scheduler,
            concurrent_tasks,
            Arc::new(cluster_config),
            Arc::new(|_: &SessionConfig| runtime(None)),
            codec.clone(),
            function_registry()?,
        )
        .await
        .map_err(|e| ballista_error("cannot start an in-process executor", e))?;
    }
    Ok(format!("df://localhost:{}", address.port()))
}
