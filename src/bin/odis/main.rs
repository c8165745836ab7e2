//! `odis`: the command-line shell of the odis engine.

// jemalloc, with freed pages returned by a background thread 100 ms after
// they were last used. DataFusion's sorts, merges and joins free and take
// batch-sized buffers all the time: an allocator that keeps freed pages
// holds each finished step's memory while the next one runs (glibc malloc:
// 478 MiB over the last steps of near_duplicates at 16M signatures under
// --memory-limit 128M), and one that returns them at once faults every new
// buffer in afresh (mimalloc returning them at once: 259 MiB in 2.6x the
// time of glibc's 16 s). jemalloc's decay keeps the pages of the step that
// runs and returns the last one's: 278 MiB in 1.5x (docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start; `_RJEM_MALLOC_CONF` in the
/// environment is read after them and wins. (`background_thread`: the
/// decay runs while threads sleep in I/O too; `muzzy_decay_ms:0`: a page
/// is returned outright, not first made lazily reclaimable, which keeps
/// counting in the resident size until the kernel wants it.)
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: AllocatorOptions = AllocatorOptions(c"background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0".as_ptr());

/// A C string of options, as jemalloc reads `malloc_conf`.
#[repr(transparent)]
struct AllocatorOptions(*const std::ffi::c_char);

// SAFETY: it points to a string literal, never written.
unsafe impl Sync for AllocatorOptions {}

mod exec;
mod help;
mod print;
mod progress;
mod repl;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use odis::Engine;

use crate::exec::{Runner, Stop};
use crate::print::Format;

static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!("{} (DataFusion {})", env!("CARGO_PKG_VERSION"), datafusion::DATAFUSION_VERSION)
});

/// SQL for selecting LLM training data that is both high-quality and diverse.
///
/// With no -c or -f, starts an interactive shell (\? lists its commands).
#[derive(Debug, Parser)]
#[command(name = "odis", version = VERSION.as_str(), about, long_about)]
struct Cli {
    /// Run this SQL (repeatable; runs in order with -f, then exits)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Run the SQL statements in FILE (repeatable)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Set a script variable: ${NAME} or ${NAME:-default} in -c and -f SQL (repeatable)
    #[arg(short = 'v', long = "var", value_name = "NAME=VALUE", value_parser = odis::script_vars::parse_assignment)]
    vars: Vec<(String, String)>,

    /// How to print results
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Print results only: no banner or progress
    #[arg(short, long)]
    quiet: bool,

    /// Partitions DataFusion plans for (default: the number of CPUs)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    target_partitions: Option<u16>,

    /// Memory the engine's operators may reserve before sorts and aggregations spill to disk: 4G, 512M or unlimited (default: 3/4 of the machine's memory)
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<odis::engine::MemoryLimit>,

    /// Name a model directory for odis_score(text, 'NAME') (repeatable)
    #[arg(long = "model", value_name = "NAME=DIR", value_parser = parse_model)]
    models: Vec<(String, PathBuf)>,

    /// Where odis_score runs: cpu or cuda:N (SET odis.device)
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,

    /// ONNX Runtime sessions per model (SET odis.sessions; 0: automatic)
    #[arg(long, value_name = "N")]
    sessions: Option<usize>,

    /// Threads per ONNX Runtime session (SET odis.threads; 0: automatic)
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Rows per inference call (SET odis.micro_batch)
    #[arg(long, value_name = "N")]
    micro_batch: Option<usize>,

    /// Run statements on the cluster whose scheduler listens here (see `odis scheduler`); also for `odis select`
    #[arg(long, value_name = "df://HOST:PORT", global = true)]
    cluster: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Select a high-quality, diverse subset of a corpus in one command (runs sql/select.sql)
    Select(SelectArgs),
    /// Distil an annotated sample into a scorer for odis_score: PCA of the ratings, a frozen encoder, one ridge head per component
    Train(TrainArgs),
    /// Run a cluster's scheduler: clients connect with --cluster df://HOST:PORT, executors with --scheduler HOST:PORT
    Scheduler(SchedulerArgs),
    /// Run one of a cluster's executors: it takes tasks from the scheduler and serves their output to the others
    Executor(ExecutorArgs),
}

#[derive(Debug, clap::Args)]
struct SchedulerArgs {
    /// Where to listen
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050", value_parser = parse_address)]
    bind: std::net::SocketAddr,

    /// Seconds without news from an executor after which its tasks run elsewhere
    #[arg(long, value_name = "SECONDS", default_value_t = odis::cluster::DEFAULT_EXECUTOR_TIMEOUT_SECONDS)]
    executor_timeout: u64,
}

#[derive(Debug, clap::Args)]
struct ExecutorArgs {
    /// The scheduler to take tasks from
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    scheduler: (String, u16),

    /// Where to serve task output to the other executors and clients (Arrow Flight)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051", value_parser = parse_executor_address)]
    bind: std::net::SocketAddr,

    /// The host name other machines reach this executor at (default: the --bind address)
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,

    /// Shuffle files and spills (default: a temporary directory)
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Tasks to run at once (default: the number of CPUs)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    concurrent_tasks: Option<u16>,
}

/// HOST:PORT as a host and a port number.
fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("expected HOST:PORT, e.g. 127.0.0.1:50050, got '{text}'");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match port.parse::<u16>() {
        Ok(port) if !host.is_empty() => Ok((host.to_string(), port)),
        _ => Err(bad()),
    }
}

/// HOST:PORT to listen on, resolved.
fn parse_address(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let (host, port) = parse_host_port(text)?;
    (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{host}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{host}' has no address"))
}

/// An executor's HOST:PORT: it also listens on PORT+1 (Ballista's task
/// service), so PORT must be fixed and leave room for the next one.
fn parse_executor_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let address = parse_address(text)?;
    odis::cluster::executor_task_port(address.port())?;
    Ok(address)
}

/// Log lines of a cluster process on stderr: `default` unless RUST_LOG says
/// otherwise.
fn init_logging(default: &str) {
    let env = env_logger::Env::default().default_filter_or(default);
    env_logger::Builder::from_env(env).format_timestamp_secs().init();
}

async fn scheduler(args: SchedulerArgs) -> ExitCode {
    init_logging("warn,ballista_scheduler=info");
    let options = odis::cluster::SchedulerOptions { bind: args.bind, executor_timeout_seconds: args.executor_timeout };
    eprintln!("odis scheduler: listening on {} (clients: --cluster df://{})", args.bind, args.bind);
    finish(odis::cluster::run_scheduler(&options), |()| ()).await
}

async fn executor(args: ExecutorArgs) -> ExitCode {
    init_logging("warn");
    let options = odis::cluster::ExecutorOptions {
        scheduler: args.scheduler.clone(),
        bind: args.bind,
        external_host: args.external_host,
        work_dir: args.work_dir,
        concurrent_tasks: args.concurrent_tasks.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from),
    };
    // The scheduler may be starting too: give it a few seconds.
    if let Err(e) = odis::cluster::check_scheduler(&args.scheduler.0, args.scheduler.1, std::time::Duration::from_secs(5)).await {
        eprintln!("Error: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "odis executor: serving on {} for the scheduler at {}:{} ({} tasks at once)",
        args.bind, args.scheduler.0, args.scheduler.1, options.concurrent_tasks
    );
    finish(odis::cluster::run_executor(&options), |()| ()).await
}

/// Where the documents are, for `select` and `train`.
#[derive(Debug, clap::Args)]
struct DocumentArgs {
    /// The documents: Parquet or JSON Lines (.jsonl, .json, .ndjson; plain or .gz, .zst, .bz2, .xz) files, as a file, directory or glob, local or s3://
    #[arg(long, value_name = "FILES")]
    input: String,

    /// The column with the documents' text
    #[arg(long, default_value = "text", value_name = "COLUMN")]
    text_column: String,

    /// A unique, non-NULL id column
    #[arg(long, default_value = "id", value_name = "COLUMN")]
    id_column: String,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// The annotated sample (with a list column of ratings); its ids order the held-out split
    #[command(flatten)]
    documents: DocumentArgs,

    /// The list column of raw ratings (e.g. 11 LLM-rated metrics)
    #[arg(long, value_name = "COLUMN")]
    scores: String,

    /// The frozen encoder: an odis model directory (e.g. from scripts/setup.sh --models)
    #[arg(long, value_name = "DIR")]
    encoder: PathBuf,

    /// Principal components to train a head for
    #[arg(long, default_value_t = 4, value_name = "K")]
    components: usize,

    /// The model directory to create
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

async fn train(engine: Engine, args: TrainArgs, quiet: bool) -> ExitCode {
    let options = odis::train::TrainOptions {
        input: args.documents.input,
        text_column: args.documents.text_column,
        id_column: args.documents.id_column,
        scores_column: args.scores,
        encoder: args.encoder,
        components: args.components,
        out: args.out,
    };
    let show = !quiet && std::io::stderr().is_terminal();
    let on_stage = |stage: &str| {
        if show {
            eprintln!("odis train: {stage}...");
        }
    };
    let work = odis::train::train(&engine, &options, on_stage);
    finish(work, |report| {
        println!("odis train: {} rows ({} held out) -> {}", report.rows, report.holdout_rows, options.out.display());
        println!("  pc  explained  ridge penalty  held-out R2");
        for (c, head) in report.heads.iter().enumerate() {
            let explained = 100.0 * report.explained_variance_ratio[c];
            println!("  {c:>2}  {explained:>8.1}%  {:>13.3e}  {:>11.3}", head.lambda, head.holdout_r2);
        }
        println!("score with: odis_score(text, '{}')", options.out.display());
    })
    .await
}

#[derive(Debug, clap::Args)]
struct SelectArgs {
    #[command(flatten)]
    documents: DocumentArgs,

    /// How much to select: rows (5000), a percentage of the documents that pass the filter and dedup (10%) or a fraction (0.1), tokens ('30B tokens', '500K tokens'; see --tokenizer) or UTF-8 bytes of text (20GB, 512MB); K, M, B and KB, MB, GB are decimal
    #[arg(long, default_value = "10%")]
    budget: odis::select::Budget,

    /// How tokens are counted (token budgets, the output's odis_tokens): a model directory holding tokenizer.json, the file itself, or approx (UTF-8 bytes / 4, an estimate); default with a token budget: the --model's tokenizer
    #[arg(long, value_name = "DIR|approx")]
    tokenizer: Option<odis::select::Tokenizer>,

    /// Principal components to select along
    #[arg(long, default_value_t = 4, value_name = "K")]
    components: usize,

    /// Raw scores from this list column (LLM ratings, higher is better) instead of quality_ratings
    #[arg(long, value_name = "COLUMN", conflicts_with = "model")]
    scores: Option<String>,

    /// Raw scores from this ONNX model directory (odis_score) instead of quality_ratings
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,

    /// Quality rules a document must pass first: default, none, gopher, c4, fineweb, all, or with thresholds, e.g. 'default,gopher_min_words=20' (\h quality_filter)
    #[arg(long, default_value = "default", value_name = "SPEC")]
    filter: String,

    /// Remove duplicates among the documents that pass the filter, before the PCA (a cluster keeps its smallest id): minhash (near duplicates, MinHash LSH), exact (the same text but for case and spacing), semantic (SemDeDup on the --embed embeddings) or none
    #[arg(long, default_value = "minhash", value_name = "minhash|exact|semantic|none", value_parser = parse_dedup_mode)]
    dedup: String,

    /// Settings for --dedup minhash (threshold=0.8,ngram=5,bands=14,rows=8,seed=1 by default, FineWeb's; datatrove for the documents datatrove removes; \h near_duplicates) or --dedup semantic (eps=0.05,clusters=...,order=far; \h semantic_duplicates)
    #[arg(long, value_name = "SPEC", default_value = "")]
    dedup_spec: String,

    /// An encoder model directory (e.g. the MiniLM that scripts/setup.sh --models installs): pass 1 keeps each kept document's embedding in the work directory, for --dedup semantic and --method kmeans|dpp|mig
    #[arg(long, value_name = "DIR")]
    embed: Option<PathBuf>,

    /// How the budget is spent: odis (the top of each orthogonal component), kmeans (Diversify-and-Conquer's kMQ), ccs (Coverage-centric Coreset Selection), dpp (greedy MAP of a DPP per cluster), mig (MIG's information gain) or random; all but odis weigh the mean of the components as the quality
    #[arg(long, default_value = "odis", value_name = "odis|kmeans|ccs|dpp|mig|random")]
    method: odis::select::SelectionMethod,

    /// k-means clusters of the embedding-space methods (--method kmeans, dpp, mig): 64 by default; for dpp, enough that each cluster's greedy can give its share (2 x budget / embedding width)
    #[arg(long, value_name = "K")]
    clusters: Option<u64>,

    /// How each raw dimension is scaled before the PCA: rank (onto its empirical CDF) or standard (z-scores)
    #[arg(long, default_value = "rank", value_name = "rank|standard")]
    scaling: odis::select::Scaling,

    /// Report the Vendi score (diversity) of the selection and of a random sample of the same size of the documents that pass the filter, with this embedding model directory
    #[arg(long, value_name = "DIR")]
    diversity: Option<PathBuf>,

    /// The file to write, local or s3://bucket/key: Parquet, or JSON Lines for a name ending in .jsonl (.jsonl.gz, .jsonl.zst, .jsonl.bz2, .jsonl.xz); with --out-files, the directory or prefix. Every column of the corpus plus odis_method, odis_dim, odis_rank, odis_score, odis_tokens
    #[arg(long, value_name = "FILE")]
    out: PathBuf,

    /// Write the selection as N Parquet files (part-00000.parquet, ...) in the directory --out, in component and rank order across them
    #[arg(long, value_name = "N")]
    out_files: Option<usize>,

    /// Keep the raw scores here while the run lasts; a killed run, rerun with the same command, scores only what was not finished (default: OUT.odis-work beside a local --out)
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Keep the work directory after success, to select again from the same scores (another --budget, --components or --scaling) without scoring again
    #[arg(long)]
    keep_work: bool,

    /// Score the input in shards of about SIZE of files (larger Parquet and uncompressed JSON Lines files in byte ranges of at least 4 MiB; a compressed file whole): what a resumed run does not score again
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    shard_size: u64,

    /// Where to write the HTML report (default: report.html beside a local --out; none for s3://)
    #[arg(long, value_name = "FILE", conflicts_with = "no_report")]
    report: Option<PathBuf>,

    /// Write no HTML report (nor report.json beside it)
    #[arg(long)]
    no_report: bool,

    /// Where to write the report as JSON (default: report.json beside the HTML report); docs/report-json.md has its schema
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,

    /// What the --input files hold, when their names do not say: parquet or json (JSON Lines; compression still from a .gz, .zst, .bz2 or .xz name)
    #[arg(long, value_name = "parquet|json")]
    input_format: Option<odis::select::InputFormat>,

    /// Write every input document's annotations into DIR (local or s3://), one Parquet file per input shard: its filter verdict, duplicate_of, raw ratings, components, tokens and where it was selected (docs/annotations.md)
    #[arg(long, value_name = "DIR")]
    annotations: Option<String>,

    /// Memory the fetch (pass 2) may hold of the selected documents while it sorts them by component and rank; past it the sort spills to the temporary directory (default: 256M; unlimited: up to --memory-limit)
    #[arg(long, value_name = "SIZE")]
    fetch_memory: Option<odis::engine::MemoryLimit>,
    /// Memory the dedup step's sorts, joins and counts may hold; past it they spill to the temporary directory (default: 64M per partition, at least 128M; unlimited: up to --memory-limit)
    #[arg(long, value_name = "SIZE")]
    dedup_memory: Option<odis::engine::MemoryLimit>,
}

/// Runs a subcommand's work until done or Ctrl-C, printing its result or
/// its error.
async fn finish<T>(work: impl Future<Output = odis::Result<T>>, print: impl FnOnce(T)) -> ExitCode {
    let work = async {
        match odis::panic_guard::catch(work).await {
            Ok(result) => result.map_err(Stop::Failed),
            Err(panic) => Err(Stop::Failed(odis::OdisError::Internal(panic))),
        }
    };
    match exec::cancellable(work).await {
        Ok(result) => {
            print(result);
            ExitCode::SUCCESS
        }
        Err(Stop::Cancelled) => {
            eprintln!("Query cancelled.");
            ExitCode::from(130)
        }
        Err(Stop::Failed(e)) => {
            eprintln!("Error: {}", in_flags(&e));
            ExitCode::FAILURE
        }
        Err(Stop::OutputClosed) => ExitCode::SUCCESS,
    }
}

/// The error as a person at the command line reads it: an option of
/// `odis select` is named by its flag.
fn in_flags(e: &odis::OdisError) -> String {
    match e {
        odis::OdisError::Select(e) => e.render(&|option| select_flag(option.field())),
        e => e.to_string(),
    }
}

/// The flag of `odis select` that sets the option `field` of
/// `SelectOptions` (the field itself where no flag does).
fn select_flag(field: &str) -> String {
    let command = Cli::command();
    let select = command.find_subcommand("select").expect("odis has a select command");
    let flag = select.get_arguments().find(|a| a.get_id() == field).and_then(|a| a.get_long());
    flag.map_or_else(|| field.to_string(), |long| format!("--{long}"))
}

/// `--dedup`'s mode: one of the modes' names.
fn parse_dedup_mode(text: &str) -> Result<String, String> {
    match odis::select::Dedup::names().contains(&text) {
        true => Ok(text.to_string()),
        false => Err(odis::select::dedup::DedupError::UnknownMode(text.to_string()).to_string()),
    }
}

/// Why the command line makes no options: an option's error (exit 1, as
/// the library's checks), or a misuse of the flags (exit 2, as clap's).
enum BadOptions {
    Option(odis::OdisError),
    Usage(String),
}

/// The typed options of `odis select`: specs are parsed here, once.
fn select_options(args: SelectArgs) -> Result<odis::select::SelectOptions, BadOptions> {
    use odis::select::dedup::DedupError;
    use odis::select::error::{SelectError, SelectOption};
    let scores = match (args.scores, args.model) {
        (Some(column), _) => odis::select::ScoreSource::Column(column),
        (None, Some(dir)) => odis::select::ScoreSource::Model(dir),
        (None, None) => odis::select::ScoreSource::Ratings,
    };
    let report = match (args.no_report, args.report) {
        (true, _) => None,
        (false, Some(path)) => Some(path),
        // An object-store output gets no report unless --report names a local file.
        (false, None) if odis::select::is_url(&args.out.display().to_string()) => None,
        (false, None) => Some(args.out.parent().unwrap_or(std::path::Path::new("")).join("report.html")),
    };
    let dedup = match odis::select::Dedup::parse(&args.dedup, &args.dedup_spec) {
        Ok(dedup) => dedup,
        Err(DedupError::Settings(mode, why)) => {
            let e = SelectError::new(SelectOption::Dedup, move |o| format!("{} {mode}: {why}", o.dedup));
            return Err(BadOptions::Option(e.into()));
        }
        Err(DedupError::TakesNoSettings(mode)) => {
            let with = odis::select::Dedup::with_settings().iter().map(|m| format!("--dedup {m}")).collect::<Vec<_>>().join(" or ");
            return Err(BadOptions::Usage(format!("--dedup-spec sets MinHash or SemDeDup settings; it goes with {with}, not --dedup {mode}")));
        }
        Err(e @ DedupError::UnknownMode(_)) => return Err(BadOptions::Usage(e.to_string())),
    };
    let filter = args.filter.parse().map_err(|e: SelectError| BadOptions::Option(e.into()))?;
    Ok(odis::select::SelectOptions {
        input: args.documents.input,
        input_format: args.input_format,
        text_column: args.documents.text_column,
        id_column: args.documents.id_column,
        budget: args.budget,
        components: args.components,
        scores,
        filter,
        dedup,
        scaling: args.scaling,
        diversity: args.diversity,
        out: args.out,
        out_files: args.out_files,
        work_dir: args.work_dir,
        keep_work: args.keep_work,
        shard_bytes: args.shard_size,
        report,
        report_json: args.report_json,
        annotations: args.annotations,
        embed: args.embed,
        method: args.method,
        clusters: args.clusters,
        tokenizer: args.tokenizer,
        fetch_memory: args.fetch_memory,
        dedup_memory: args.dedup_memory,
    })
}

async fn select(engine: Engine, args: SelectArgs, quiet: bool) -> ExitCode {
    let options = match select_options(args) {
        Ok(options) => options,
        Err(BadOptions::Option(e)) => {
            eprintln!("Error: {}", in_flags(&e));
            return ExitCode::FAILURE;
        }
        Err(BadOptions::Usage(message)) => {
            eprintln!("Error: {message}");
            return ExitCode::from(2);
        }
    };
    let work = odis::select::select(&engine, &options, progress::SelectProgress::new(quiet));
    finish(work, |report| {
        if let Some(short) = odis::select::render::shortfall(&report, &options) {
            eprintln!("odis select: warning: {short}");
        }
        print!("{}", odis::select::render::text(&report, &options))
    })
    .await
}

/// A size such as 256M or 1G, as --memory-limit takes it.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && scale > 0 => n.checked_mul(scale).ok_or_else(|| format!("'{text}' is too large")),
        _ => Err(format!("expected a size such as 256M or 1G, got '{text}'")),
    }
}

fn parse_model(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, dir)) if !name.is_empty() && !dir.is_empty() => Ok((name.to_string(), PathBuf::from(dir))),
        _ => Err(format!("expected NAME=DIR, e.g. --model quality=models/quality, got '{text}'")),
    }
}

/// The scoring settings given as flags, as SET statements.
fn settings(cli: &Cli) -> String {
    let mut sql = String::new();
    if let Some(device) = &cli.device {
        sql.push_str(&format!("SET odis.device = '{}';", device.replace('\'', "")));
    }
    for (key, value) in [("sessions", cli.sessions), ("threads", cli.threads), ("micro_batch", cli.micro_batch)] {
        if let Some(v) = value {
            sql.push_str(&format!("SET odis.{key} = {v};"));
        }
    }
    sql
}

/// One thing to run from the command line, in the order it was given.
enum Script {
    Sql(String),
    File(PathBuf),
}

/// `-c` and `-f` in the order the user wrote them.
fn scripts_in_order(cli: &Cli, matches: &ArgMatches) -> Vec<Script> {
    let mut scripts: Vec<(usize, Script)> = Vec::new();
    if let Some(indices) = matches.indices_of("commands") {
        scripts.extend(indices.zip(&cli.commands).map(|(i, c)| (i, Script::Sql(c.clone()))));
    }
    if let Some(indices) = matches.indices_of("files") {
        scripts.extend(indices.zip(&cli.files).map(|(i, f)| (i, Script::File(f.clone()))));
    }
    scripts.sort_by_key(|(i, _)| *i);
    scripts.into_iter().map(|(_, s)| s).collect()
}

async fn run(mut cli: Cli, scripts: Vec<Script>) -> ExitCode {
    match cli.command.take() {
        Some(Command::Scheduler(args)) => return scheduler(args).await,
        Some(Command::Executor(args)) => return executor(args).await,
        other => cli.command = other,
    }
    let mut builder = Engine::builder();
    if let Some(url) = &cli.cluster {
        builder = builder.cluster(url.clone());
    }
    if let Some(limit) = cli.memory_limit {
        builder = builder.with_memory_limit(limit);
    }
    if let Some(n) = cli.target_partitions {
        builder = builder.with_target_partitions(n.into());
    }
    let engine = match builder.build() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, dir) in &cli.models {
        if let Err(e) = engine.register_model(name, dir) {
            eprintln!("Error: --model {name}={}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let settings = settings(&cli);
    if !settings.is_empty() {
        if let Err(e) = engine.sql(&settings).await {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    }
    match cli.command {
        Some(Command::Select(args)) => return select(engine, args, cli.quiet).await,
        Some(Command::Train(args)) => return train(engine, args, cli.quiet).await,
        Some(Command::Scheduler(_) | Command::Executor(_)) | None => {}
    }
    let mut runner = Runner::new(engine, cli.format);
    runner.progress = !cli.quiet && std::io::stderr().is_terminal();

    if scripts.is_empty() {
        return if repl::run(&mut runner, cli.quiet).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let vars: BTreeMap<String, String> = cli.vars.iter().cloned().collect();
    for script in scripts {
        let (sql, origin) = match script {
            Script::Sql(sql) => (sql, None),
            Script::File(path) => match std::fs::read_to_string(&path) {
                Ok(sql) => (sql, Some(path)),
                Err(e) => {
                    eprintln!("Error: cannot read SQL file '{}': {e}", path.display());
                    return ExitCode::FAILURE;
                }
            },
        };
        let sql = match odis::script_vars::substitute(&sql, &vars) {
            Ok(sql) => sql,
            Err(e) => {
                match origin {
                    Some(path) => eprintln!("Error: {}: {e}", path.display()),
                    None => eprintln!("Error: {e}"),
                }
                return ExitCode::FAILURE;
            }
        };
        // `-c` takes the shell's backslash commands too (`odis -c '\\h quality_filter'`).
        let result = if origin.is_none() && repl::is_backslash_command(&sql) {
            match repl::run_command_argument(&mut runner, &sql).await {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::FAILURE,
                Err(stop) => Err(stop),
            }
        } else {
            runner.run_sql(&sql).await
        };
        match result {
            Ok(()) => {}
            Err(Stop::OutputClosed) => return ExitCode::SUCCESS,
            Err(Stop::Cancelled) => {
                eprintln!("Query cancelled.");
                return ExitCode::from(130);
            }
            Err(Stop::Failed(e)) => {
                eprintln!("Error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    // A panic inside a statement becomes its one error line.
    odis::panic_guard::install_hook();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let scripts = scripts_in_order(&cli, &matches);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, scripts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `odis select`'s flags have one source of defaults, `SelectOptions::new`:
    /// a bare command line gives exactly those options.
    #[test]
    fn select_flags_default_to_select_options_new() {
        let cli = Cli::try_parse_from(["odis", "select", "--input", "c.parquet", "--out", "out/selected.parquet"]).unwrap();
        let Some(Command::Select(args)) = cli.command else { panic!("not the select command") };
        let options = select_options(args).ok().expect("the defaults make options");
        let defaults = odis::select::SelectOptions::new("c.parquet", "out/selected.parquet");
        // The one default of the command line alone: a report beside a local output.
        assert_eq!(options, odis::select::SelectOptions { report: Some("out/report.html".into()), ..defaults });
    }

    #[test]
    fn every_option_of_a_selection_is_named_by_its_flag() {
        for option in odis::select::error::SelectOption::ALL {
            let field = option.field();
            assert_eq!(select_flag(field), format!("--{}", field.replace('_', "-")), "{option:?}");
        }
    }
}
