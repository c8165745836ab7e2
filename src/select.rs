//! The whole ODiS method in one call (`odis select`): runs `sql/select.sql`
//! over a corpus and gathers what a data engineer checks before trusting a
//! selection. The SQL is the same script people can read and run with
//! `odis -f`; this module fills in its variables, checks the arguments
//! first, times each stage and collects the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

pub use odis_udfs::select::selection::DimensionReport;

use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};

use crate::engine::Engine;
use crate::work_dir::{InputFile, ScoringIdentity, WorkDir};
use crate::error::{OdisError, Result};
use crate::script_vars::{escape_ident as ident, escape_string as quote, substitute};

/// The pipeline, as shipped in `sql/select.sql`.
pub const SELECT_SQL: &str = include_str!("../sql/select.sql");

/// The statements of sql/select.sql that `select` acts on, each marked in
/// the script by a `-- step: NAME` line just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Corpus,
    Score,
    Kept,
    Scaling,
    Projected,
    Select,
    Fetch,
    Report,
    FilterReport,
}

impl Step {
    const ALL: [Step; 9] = [
        Step::Corpus,
        Step::Score,
        Step::Kept,
        Step::Scaling,
        Step::Projected,
        Step::Select,
        Step::Fetch,
        Step::Report,
        Step::FilterReport,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::Corpus => "corpus",
            Step::Score => "score",
            Step::Kept => "kept",
            Step::Scaling => "scaling",
            Step::Projected => "projected",
            Step::Select => "select",
            Step::Fetch => "fetch",
            Step::Report => "report",
            Step::FilterReport => "filter_report",
        }
    }
}

/// Which step each statement of `script` is (None for the statements
/// `select` runs as they are): a `-- step: NAME` line names the statement
/// that follows it. Every step must be named once.
fn named_steps(engine: &Engine, script: &str) -> Result<Vec<Option<Step>>> {
    let broken = |why: String| OdisError::InvalidArgument(format!("sql/select.sql: {why}"));
    let mut steps = vec![None; engine.parse(script)?.len()];
    let mut offset = 0;
    for line in script.split_inclusive('\n') {
        if let Some(name) = line.trim().strip_prefix("-- step:") {
            let name = name.trim();
            let step = Step::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| broken(format!("unknown step '{name}'")))?;
            let index = engine.parse(&script[..offset])?.len();
            match steps.get_mut(index) {
                Some(slot @ None) => *slot = Some(step),
                _ => return Err(broken(format!("the step '{name}' names no statement of its own"))),
            }
        }
        offset += line.len();
    }
    for step in Step::ALL {
        if !steps.contains(&Some(step)) {
            return Err(broken(format!("no statement is marked `-- step: {}`", step.name())));
        }
    }
    Ok(steps)
}

/// The names sql/select.sql registers on the engine, but the fitted models.
const TRANSIENT_NAMES: [&str; 8] = ["odis_shard", "projected", "loadings", "selected", "scaled", "kept", "raw_scores", "corpus"];

/// Drops `names`, whether tables or views: DataFusion's DROP TABLE leaves a
/// view of that name in place (and DROP VIEW a table), and a user's session
/// may hold either.
fn drops(names: &[&str]) -> String {
    names.iter().map(|n| format!("DROP VIEW IF EXISTS {n}; DROP TABLE IF EXISTS {n}; ")).collect()
}

/// Where the raw quality dimensions come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreSource {
    /// `quality_ratings_vector(text)`: bounded, higher-is-better ratings; no
    /// model needed.
    Ratings,
    /// A column of the corpus holding one list of ratings per row.
    Column(String),
    /// `odis_score(text, DIR)`: an ONNX model directory.
    Model(PathBuf),
}

/// What `select` tells its caller while it runs, for progress displays.
pub trait Progress: Sync {
    /// A stage starts (a short phrase, e.g. "selecting").
    fn stage(&self, _stage: &str) {}
    /// A pass over the corpus starts: `done` counts the rows read so far,
    /// out of `total`; it may start above zero (a resumed pass).
    fn pass(&self, _name: &str, _total: u64, _done: Arc<AtomicU64>) {}
    /// The pass that started last is over.
    fn pass_finished(&self) {}
}

/// No progress shown.
impl Progress for () {}

/// Only the stages, to a closure.
impl<F: Fn(&str) + Sync> Progress for F {
    fn stage(&self, stage: &str) {
        self(stage)
    }
}

/// How each raw dimension is scaled before the PCA (then standardised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scaling {
    /// Onto its empirical CDF (quantile_fit / quantile_transform).
    #[default]
    Rank,
    /// Only standardised (z-scores).
    Standard,
}

impl Scaling {
    pub fn name(self) -> &'static str {
        match self {
            Scaling::Rank => "rank",
            Scaling::Standard => "standard",
        }
    }
}

impl std::str::FromStr for Scaling {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "rank" => Ok(Scaling::Rank),
            "standard" => Ok(Scaling::Standard),
            _ => Err(format!("expected rank or standard, got '{text}'")),
        }
    }
}

/// How many rows to select.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Rows(u64),
    /// A fraction of the corpus, in (0, 1).
    Fraction(f64),
}

impl std::str::FromStr for Budget {
    type Err = String;

    /// `10%`, `0.1` or `5000`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let fail = || format!("expected a row count (5000), a percentage (10%) or a fraction (0.1), got '{text}'");
        let text = text.trim();
        let fraction = if let Some(percent) = text.strip_suffix('%') {
            percent.trim().parse::<f64>().map_err(|_| fail())? / 100.0
        } else if let Ok(rows) = text.parse::<u64>() {
            return if rows == 0 { Err("the budget must be at least 1 row".into()) } else { Ok(Budget::Rows(rows)) };
        } else {
            text.parse::<f64>().map_err(|_| fail())?
        };
        if fraction > 0.0 && fraction < 1.0 {
            Ok(Budget::Fraction(fraction))
        } else {
            Err(format!("a fractional budget must be between 0% and 100% (exclusive), got '{text}'"))
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Rows(n) => write!(f, "{n}"),
            Budget::Fraction(x) => write!(f, "{x}"),
        }
    }
}

/// What to select from where.
#[derive(Debug, Clone)]
pub struct SelectOptions {
    /// Parquet file, directory or glob, local or `s3://`.
    pub input: String,
    pub text_column: String,
    pub id_column: String,
    pub budget: Budget,
    pub components: usize,
    pub scores: ScoreSource,
    /// The quality rules a document must pass first (a `quality_filter`
    /// spec: `default`, `none`, `gopher,c4`, `default,gopher_min_words=20`).
    pub filter: String,
    /// How each raw dimension is scaled before the PCA.
    pub scaling: Scaling,
    /// A model whose embeddings measure the selection's diversity (Vendi
    /// score), next to a random sample of the same size.
    pub diversity: Option<PathBuf>,
    /// The Parquet file to write, local or `s3://bucket/key`; with
    /// `out_files`, the directory (or prefix) of the files.
    pub out: PathBuf,
    /// Write the selection as this many Parquet files in the directory
    /// `out` (part-00000.parquet, ...), in component and rank order across
    /// them; `None` writes one file.
    pub out_files: Option<usize>,
    /// Where the raw scores are kept per shard while the run lasts, so that
    /// a killed run resumes; `None`: beside the output.
    pub work_dir: Option<PathBuf>,
    /// Keep the work directory after a successful run, so that the corpus
    /// can be selected again (another budget, components, scaling) without
    /// scoring it again.
    pub keep_work: bool,
    /// Input files are scored in shards of about this many bytes (one file
    /// at least): the unit a resumed run does not score again.
    pub shard_bytes: u64,
    /// Where to write the HTML report (None: no report file).
    pub report: Option<PathBuf>,
}

/// A document shown as an example of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub dim: i32,
    pub rank: i64,
    pub id: String,
    pub score: f64,
    pub text: String,
}

/// Documents the quality filter removed under one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterRemoval {
    pub rule: String,
    pub documents: u64,
    /// The start of one removed document (the one with the smallest id).
    pub example: String,
}

/// Vendi scores of the selection and of a uniform sample of the same size
/// of the documents that passed the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Diversity {
    pub selection: f64,
    pub random: f64,
}

/// Everything `odis select` reports.
#[derive(Debug, Clone)]
pub struct SelectReport {
    pub rows_in: u64,
    /// Documents that passed the quality filter.
    pub rows_kept: u64,
    /// What the filter removed, most documents first.
    pub removed: Vec<FilterRemoval>,
    pub rows_out: u64,
    /// Names of the raw dimensions (signal names, or dim0, dim1, ...).
    pub dimension_names: Vec<String>,
    pub explained_variance_ratio: Vec<f64>,
    /// components × dimensions.
    pub loadings: Vec<Vec<f64>>,
    pub dimensions: Vec<DimensionReport>,
    /// The first few documents of each component.
    pub examples: Vec<Example>,
    /// A sample of documents on the first two components: (pc1, pc2, the
    /// component that selected it, if any).
    pub scatter: Vec<(f64, f64, Option<i32>)>,
    /// (stage, wall time), in order.
    pub stages: Vec<(&'static str, Duration)>,
    pub total: Duration,
    pub diversity: Option<Diversity>,
}

pub(crate) fn invalid(message: String) -> OdisError {
    OdisError::InvalidArgument(message)
}


impl SelectOptions {
    /// The variables of sql/select.sql for these options.
    pub fn script_vars(&self, work: &Path) -> BTreeMap<String, String> {
        let text = format!("\"{}\"", ident(&self.text_column));
        let scores = match &self.scores {
            ScoreSource::Ratings => format!("quality_ratings_vector({text})"),
            ScoreSource::Column(column) => format!("\"{}\"", ident(column)),
            ScoreSource::Model(dir) => format!("odis_score({text}, '{}')", quote(&dir.display().to_string())),
        };
        [
            ("input", quote(&self.input)),
            ("id", ident(&self.id_column)),
            ("text", ident(&self.text_column)),
            ("scores", scores),
            ("filter", quote(&self.filter)),
            ("scaling", self.scaling.name().to_string()),
            ("components", self.components.to_string()),
            ("budget", self.budget.to_string()),
            ("work", quote(&work.display().to_string())),
            ("out", quote(&self.out.display().to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn text_at(column: &dyn Array, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(column, &options).map(|f| f.value(row).to_string()).unwrap_or_default()
}

fn f64s(column: &dyn Array) -> Result<Vec<Option<f64>>> {
    let values = cast(column, &DataType::Float64).map_err(datafusion::error::DataFusionError::from)?;
    let values = values.as_primitive::<Float64Type>();
    Ok((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))).collect())
}

fn i64s(column: &dyn Array) -> Result<Vec<i64>> {
    Ok(f64s(column)?.into_iter().map(|v| v.unwrap_or(0.0) as i64).collect())
}

async fn rows(engine: &Engine, sql: &str) -> Result<Vec<RecordBatch>> {
    engine.sql(sql).await
}

/// Runs the ODiS pipeline of `sql/select.sql` with `options`, writing the
/// selection (and the report, if asked) atomically.
///
/// `progress` hears each stage as it starts and gets a row counter for each
/// pass over the corpus (`()` shows nothing; a closure hears the stages).
pub async fn select(engine: &Engine, options: &SelectOptions, progress: impl Progress) -> Result<SelectReport> {
    // The script reads text as plain Utf8 (see its first statement); the
    // engine gets its own setting back, and loses the script's transient
    // names, however the run ends.
    let view_types = engine.context().state().config().options().execution.parquet.schema_force_view_types;
    let result = run(engine, options, &progress).await;
    progress.pass_finished();
    let cleanup = async {
        engine.sql(&drops(&TRANSIENT_NAMES)).await?;
        engine.sql(&format!("SET datafusion.execution.parquet.schema_force_view_types = {view_types}")).await
    };
    match (result, cleanup.await) {
        (Ok(report), Ok(_)) => Ok(report),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// Where the work directory goes when the options name none: beside a
/// local output (so that the same command finds it again), or under the
/// temporary directory for an object-store output.
pub fn default_work_dir(options: &SelectOptions) -> PathBuf {
    let out = options.out.display().to_string();
    if is_url(&out) {
        // FNV-1a of the URL: stable across runs and odis versions.
        let hash = out.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        return std::env::temp_dir().join(format!("odis-work-{hash:016x}"));
    }
    let name = options.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "selected".into());
    options.out.with_file_name(format!("{name}.odis-work"))
}

/// The directory a local output is written into, which must exist.
fn local_out_dir(options: &SelectOptions) -> Result<PathBuf> {
    let out_dir = match options.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        return Err(invalid(format!(
            "--out {}: the directory '{}' does not exist; create it first",
            options.out.display(),
            out_dir.display()
        )));
    }
    match options.out_files {
        None if options.out.is_dir() => {
            Err(invalid(format!("--out {} is a directory; name the Parquet file to write", options.out.display())))
        }
        Some(_) if options.out.is_file() => Err(invalid(format!(
            "--out {} is a file; with --out-files, name the directory to write the files into",
            options.out.display()
        ))),
        _ => Ok(out_dir),
    }
}

async fn run(engine: &Engine, options: &SelectOptions, progress: &impl Progress) -> Result<SelectReport> {
    let started = Instant::now();
    if options.components == 0 {
        return Err(invalid("--components must be at least 1 (the paper keeps about 4)".into()));
    }
    if options.out_files == Some(0) {
        return Err(invalid("--out-files must be at least 1 (the number of Parquet files to write)".into()));
    }
    if let ScoreSource::Ratings = options.scores {
        check_components(options, odis_udfs::signals::text_ratings::RATINGS.len())?;
    }
    odis_udfs::filter::filter_rules::FilterSpec::parse(&options.filter)
        .map_err(|e| invalid(format!("--filter '{}': {e}", options.filter)))?;
    if let Some(dir) = &options.diversity {
        engine.models().load(dir).map_err(|e| invalid(format!("--diversity {}: {}", dir.display(), OdisError::from(e))))?;
    }
    if let ScoreSource::Model(dir) = &options.scores {
        // Load (and check) the model before reading any data.
        engine.models().load(dir).map_err(|e| invalid(format!("--model {}: {}", dir.display(), OdisError::from(e))))?;
    }
    let out = options.out.display().to_string();
    if is_url(&out) {
        // The output goes to an object store, written as objects that
        // appear only when complete. Check the bucket now, not after hours
        // of scoring; the work directory stays on this machine.
        check_output_location(engine, &out, options.out_files.is_some()).await?;
    } else {
        local_out_dir(options)?;
    }
    let work_path = options.work_dir.clone().unwrap_or_else(|| default_work_dir(options));
    // An earlier run interrupted on this engine may have left the script's names.
    engine.sql(&drops(&[&TRANSIENT_NAMES[..], &["scaling", "pca"]].concat())).await?;
    let mut vars = options.script_vars(&work_path);
    // The fetch writes one sorted file in the work directory: it is checked
    // (one row per selected id) before it becomes the output, or is split
    // into the output files.
    let fetched = work_path.join("fetched.parquet");
    vars.insert("out".into(), quote(&fetched.display().to_string()));
    let script = substitute(SELECT_SQL, &vars)?;
    let steps = named_steps(engine, &script)?;
    let statements = engine.parse(&script)?;
    let mut stages: Vec<(&'static str, Duration)> = Vec::new();
    let mut rows_in = 0u64;
    let mut dims_len = 0usize;
    let mut rows_kept = 0u64;
    let mut report_rows = Vec::new();
    let mut filter_rows = Vec::new();
    let mut scaling_start = None;
    let mut work = None;
    for (statement, step) in statements.into_iter().zip(steps) {
        let stage_start = Instant::now();
        match step {
            Some(Step::Score) => progress.stage("filtering and scoring every document"),
            Some(Step::Scaling) => progress.stage("scaling and fitting the PCA"),
            Some(Step::Select) => progress.stage("selecting"),
            Some(Step::Fetch) => progress.stage("fetching the selected documents"),
            Some(Step::Report) => progress.stage("measuring overlap"),
            Some(Step::FilterReport) => progress.stage("summarising the filter"),
            _ => {}
        }
        let batches: Vec<RecordBatch> = {
            use futures::TryStreamExt;
            match step {
                // Pass 1 runs shard by shard (below), resuming a killed run.
                Some(Step::Score) => Vec::new(),
                Some(Step::Fetch) => {
                    let done = Arc::new(AtomicU64::new(0));
                    let selected = selected_rows(engine).await?;
                    progress.pass("fetching", rows_in + selected, Arc::clone(&done));
                    let batches: Vec<RecordBatch> = engine.execute_counting(statement, &done).await?.try_collect().await?;
                    progress.pass_finished();
                    if first_count(&batches)? != selected {
                        return Err(duplicate_ids(engine, options, &fetched).await);
                    }
                    batches
                }
                // A corpus that cannot be read is named as the --input it is.
                Some(Step::Corpus) => {
                    let register = async {
                        let stream = engine.execute(statement).await?;
                        Ok::<Vec<RecordBatch>, OdisError>(stream.try_collect().await?)
                    };
                    let cannot_read =
                        |why: String| OdisError::InvalidArgument(format!("--input '{}' cannot be read: {why}", options.input));
                    match crate::panic_guard::catch(register).await {
                        Ok(Ok(batches)) => batches,
                        Ok(Err(e)) => return Err(cannot_read(e.to_string())),
                        Err(panic) => return Err(cannot_read(format!("it is corrupt or not Parquet ({panic})"))),
                    }
                }
                _ => engine.execute(statement).await?.try_collect().await?,
            }
        };
        match step {
            // The corpus is registered: check the arguments against it
            // before any costly step, then open (or reopen) the work
            // directory for its files.
            Some(Step::Corpus) => {
                rows_in = check_corpus(engine, options).await?;
                work = Some(open_work_dir(engine, options, &work_path).await?);
            }
            Some(Step::Score) => {
                let work = work.as_ref().expect("opened with the corpus");
                score_shards(engine, &vars, work, rows_in, progress).await.map_err(|e| kept_scores_hint(e, work))?;
                stages.push(("filter + raw scores (pass 1)", stage_start.elapsed()));
            }
            Some(Step::Kept) => {
                let work = work.as_ref().expect("opened with the corpus");
                (dims_len, rows_kept) = check_raw_scores(engine, options).await.map_err(|e| kept_scores_hint(e, work))?;
            }
            Some(Step::Scaling) => scaling_start = Some(stage_start),
            Some(Step::Projected) => stages.push(("scale + pca_fit + project", scaling_start.map_or(stage_start, |s| s).elapsed())),
            Some(Step::Select) => stages.push(("select", stage_start.elapsed())),
            Some(Step::Fetch) => {
                match options.out_files {
                    Some(files) => split_output(engine, options, &work_path, files).await?,
                    None => publish(engine, options, &fetched).await?,
                }
                stages.push(("fetch + write (pass 2)", stage_start.elapsed()));
            }
            Some(Step::Report) => {
                stages.push(("overlap report", stage_start.elapsed()));
                report_rows = batches;
            }
            Some(Step::FilterReport) => {
                stages.push(("filter report", stage_start.elapsed()));
                filter_rows = batches;
            }
            _ => {}
        }
    }
    let report = finish_report(engine, options, progress, Finished {
        started, stages, rows_in, dims_len, rows_kept, report_rows, filter_rows,
    })
    .await?;
    // The names over the work directory go before it does.
    engine.sql(&drops(&TRANSIENT_NAMES)).await?;
    if let Some(work) = work {
        if options.keep_work {
            drop(work);
        } else {
            work.remove()?;
        }
    }
    Ok(report)
}

/// The fetch found more rows than ids it was given: an id of the corpus
/// is on several rows. Names one.
async fn duplicate_ids(engine: &Engine, options: &SelectOptions, fetched: &Path) -> OdisError {
    let fetched = quote(&fetched.display().to_string());
    let id = ident(&options.id_column);
    let sql = format!(
        "SELECT CAST(odis_dup AS VARCHAR), n FROM (SELECT \"{id}\" AS odis_dup, count(*) AS n FROM '{fetched}' \
         GROUP BY \"{id}\" HAVING count(*) > 1) ORDER BY n DESC, odis_dup LIMIT 1"
    );
    let example = match rows(engine, &sql).await {
        Ok(batches) => batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .map(|b| format!("id {} is on {} rows", text_at(b.column(0), 0), text_at(b.column(1), 0)))
            .unwrap_or_else(|| "the fetch found more rows than it selected".into()),
        Err(e) => return e,
    };
    invalid(format!(
        "--id-column '{}' is not unique in {}: {example}; give every document its own id (or remove the duplicates) \
         and run again: the scores are kept",
        options.id_column, options.input
    ))
}

/// Moves the checked selection from the work directory to `--out`: a
/// rename when they share a file system, else a copy (staged, atomic).
async fn publish(engine: &Engine, options: &SelectOptions, fetched: &Path) -> Result<()> {
    let out = options.out.display().to_string();
    if !is_url(&out) && std::fs::rename(fetched, &options.out).is_ok() {
        if let Some(dir) = options.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        return Ok(());
    }
    let from = quote(&fetched.display().to_string());
    engine
        .sql(&format!("COPY (SELECT * FROM '{from}' ORDER BY odis_dim, odis_rank) TO '{}' STORED AS PARQUET", quote(&out)))
        .await?;
    Ok(())
}

/// The first value of the first row of `batches`, as a count (0 for none).
fn first_count(batches: &[RecordBatch]) -> Result<u64> {
    Ok(batches.first().map(|b| i64s(b.column(0))).transpose()?.and_then(|v| v.first().copied()).unwrap_or(0) as u64)
}

/// The count a `SELECT count(*) ...` returns.
async fn count(engine: &Engine, sql: &str) -> Result<u64> {
    first_count(&rows(engine, sql).await?)
}

/// Rows in the selected-ids work file.
async fn selected_rows(engine: &Engine) -> Result<u64> {
    count(engine, "SELECT count(*) FROM selected").await
}

/// An error after some shards were scored says that they are kept.
fn kept_scores_hint(e: OdisError, work: &crate::work_dir::WorkDir) -> OdisError {
    let done = (0..work.shards()).filter(|&i| work.is_done(i)).count();
    if done == 0 {
        return e;
    }
    invalid(format!(
        "{e} (the raw scores of {done} of {} shards are kept in {}: the same command, fixed, reuses them)",
        work.shards(),
        work.path().display()
    ))
}

/// What the statements gathered, for the report.
struct Finished {
    started: Instant,
    stages: Vec<(&'static str, Duration)>,
    rows_in: u64,
    dims_len: usize,
    rows_kept: u64,
    report_rows: Vec<RecordBatch>,
    filter_rows: Vec<RecordBatch>,
}

async fn finish_report(engine: &Engine, options: &SelectOptions, progress: &impl Progress, done: Finished) -> Result<SelectReport> {
    let Finished { started, mut stages, rows_in, dims_len, rows_kept, report_rows, filter_rows } = done;
    let on_stage = |stage: &str| progress.stage(stage);
    on_stage("writing the report");
    let report_start = Instant::now();
    let mut dimensions = Vec::new();
    for batch in &report_rows {
        let dim = i64s(batch.column(0))?;
        let quota = i64s(batch.column(1))?;
        let selected = i64s(batch.column(2))?;
        let threshold = f64s(batch.column(3))?;
        let overlap = i64s(batch.column(4))?;
        let ratio = f64s(batch.column(5))?;
        for r in 0..batch.num_rows() {
            dimensions.push(DimensionReport {
                dim: dim[r] as usize,
                quota: quota[r] as u64,
                selected: selected[r] as u64,
                threshold: threshold[r],
                overlap: overlap[r] as u64,
                overlap_ratio: ratio[r],
            });
        }
    }
    let rows_out = dimensions.iter().map(|d| d.selected).sum();
    let mut removed = Vec::new();
    for batch in &filter_rows {
        let documents = i64s(batch.column(1))?;
        for r in 0..batch.num_rows() {
            removed.push(FilterRemoval {
                rule: text_at(batch.column(0), r),
                documents: documents[r] as u64,
                example: text_at(batch.column(2), r),
            });
        }
    }

    let dimension_names: Vec<String> = match options.scores {
        ScoreSource::Ratings => odis_udfs::signals::text_ratings::RATINGS.iter().map(|(n, _, _)| n.to_string()).collect(),
        _ => (0..dims_len).map(|i| format!("dim{i}")).collect(),
    };
    let mut explained_variance_ratio = vec![0.0; options.components];
    let mut loadings = vec![vec![0.0; dims_len]; options.components];
    for batch in rows(engine, "SELECT component, dimension, loading, explained_variance_ratio FROM loadings").await? {
        let (c, d, l, e) = (i64s(batch.column(0))?, i64s(batch.column(1))?, f64s(batch.column(2))?, f64s(batch.column(3))?);
        for r in 0..batch.num_rows() {
            let (c, d) = (c[r] as usize, d[r] as usize);
            if c < loadings.len() && d < dims_len {
                loadings[c][d] = l[r].unwrap_or(0.0);
                explained_variance_ratio[c] = e[r].unwrap_or(0.0);
            }
        }
    }

    let out = quote(&written(options));
    let text = ident(&options.text_column);
    let id = ident(&options.id_column);
    let mut examples = Vec::new();
    let examples_sql = format!(
        "SELECT odis_dim, odis_rank, CAST(\"{id}\" AS VARCHAR), odis_score, substr(CAST(\"{text}\" AS VARCHAR), 1, 400) \
         FROM '{out}' WHERE odis_rank <= 3 ORDER BY odis_dim, odis_rank"
    );
    for batch in rows(engine, &examples_sql).await? {
        let (dim, rank, score) = (i64s(batch.column(0))?, i64s(batch.column(1))?, f64s(batch.column(3))?);
        for r in 0..batch.num_rows() {
            examples.push(Example {
                dim: dim[r] as i32,
                rank: rank[r],
                id: text_at(batch.column(2), r),
                score: score[r].unwrap_or(f64::NAN),
                text: text_at(batch.column(4), r),
            });
        }
    }

    // A uniform, seeded sample of the corpus on the first two components.
    let sample = rows_in.min(3000);
    let mut scatter = Vec::new();
    if sample > 0 {
        let second = if options.components > 1 { "p.odis_pc[2]" } else { "0.0" };
        let scatter_sql = format!(
            "SELECT p.odis_pc[1], {second}, s.odis_dim \
             FROM sample_uniform('projected', 'odis_id', {sample}, 7) p \
             LEFT JOIN selected s ON p.odis_id = s.odis_id"
        );
        for batch in rows(engine, &scatter_sql).await? {
            let (x, y, dim) = (f64s(batch.column(0))?, f64s(batch.column(1))?, f64s(batch.column(2))?);
            for r in 0..batch.num_rows() {
                if let (Some(x), Some(y)) = (x[r], y[r]) {
                    scatter.push((x, y, dim[r].map(|d| d as i32)));
                }
            }
        }
    }
    stages.push(("report", report_start.elapsed()));

    let diversity = match &options.diversity {
        Some(model) => {
            on_stage("measuring diversity");
            let started = Instant::now();
            let measured = measure_diversity(engine, options, model, rows_out).await?;
            stages.push(("diversity", started.elapsed()));
            Some(measured)
        }
        None => None,
    };
    // The fitted `scaling` and `pca` tables stay, for inspection.

    let report = SelectReport {
        rows_in,
        rows_kept,
        removed,
        rows_out,
        dimension_names,
        explained_variance_ratio,
        loadings,
        dimensions,
        examples,
        scatter,
        stages,
        total: started.elapsed(),
        diversity,
    };
    if let Some(path) = &options.report {
        crate::output::write_atomically(path, crate::select_report::html(&report, options).as_bytes())?;
    }
    Ok(report)
}

/// Where to read the written selection back: the file, or the directory of
/// files.
fn written(options: &SelectOptions) -> String {
    let out = options.out.display().to_string();
    match options.out_files {
        Some(_) => format!("{}/", out.trim_end_matches('/')),
        None => out,
    }
}

/// The corpus's files, listed as its table lists them, in path order.
async fn input_files(engine: &Engine, listing: &ListingTable) -> Result<Vec<InputFile>> {
    use futures::TryStreamExt;
    let state = engine.context().state();
    let mut files = Vec::new();
    for url in listing.table_paths() {
        let store = state.runtime_env().object_store(url.object_store())?;
        let store_url = url.object_store();
        let mut listed = url.list_all_files(&state, store.as_ref(), &listing.options().file_extension).await?;
        while let Some(meta) = listed.try_next().await? {
            files.push(InputFile::from_meta(store_url.as_str(), &meta));
        }
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    files.dedup_by(|a, b| a.location == b.location);
    Ok(files)
}

fn corpus_listing(provider: &Arc<dyn datafusion::catalog::TableProvider>) -> Result<&ListingTable> {
    provider
        .as_ref()
        .downcast_ref::<ListingTable>()
        .ok_or_else(|| invalid("the corpus is not a table of files; odis select reads Parquet files".into()))
}

/// Opens the work directory for this corpus and scorer.
async fn open_work_dir(engine: &Engine, options: &SelectOptions, path: &Path) -> Result<WorkDir> {
    let provider = engine.context().table_provider("corpus").await?;
    let files = input_files(engine, corpus_listing(&provider)?).await?;
    let vars = options.script_vars(path);
    let identity = ScoringIdentity {
        odis_version: env!("CARGO_PKG_VERSION").to_string(),
        id_column: options.id_column.clone(),
        text_column: options.text_column.clone(),
        scores: vars["scores"].clone(),
        model_files: match &options.scores {
            ScoreSource::Model(dir) => crate::work_dir::model_fingerprint(dir),
            _ => Vec::new(),
        },
        filter: options.filter.clone(),
    };
    WorkDir::open(path, &options.input, identity, files, options.shard_bytes, options.work_dir.is_none())
}

/// Pass 1, shard by shard: every shard the work directory lacks is scored
/// by the script's scoring statement over a table of just its files.
async fn score_shards(
    engine: &Engine,
    vars: &BTreeMap<String, String>,
    work: &WorkDir,
    rows_in: u64,
    progress: &impl Progress,
) -> Result<()> {
    use futures::TryStreamExt;
    let provider = engine.context().table_provider("corpus").await?;
    let listing = corpus_listing(&provider)?;
    // The files' own columns (a hive-partitioned corpus's partition values
    // come from its directory names, which a table of single files lacks).
    let mut shard_options = listing.options().clone();
    let partitions: Vec<String> = shard_options.table_partition_cols.drain(..).map(|(name, _)| name).collect();
    let table_schema = provider.schema();
    let file_schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
        table_schema.fields().iter().filter(|f| !partitions.contains(f.name())).cloned().collect::<Vec<_>>(),
    ));
    let finished = (0..work.shards()).filter(|&i| work.is_done(i)).count();
    let done_rows = if finished > 0 {
        let glob = quote(&work.shards_dir().join("part-*.parquet").display().to_string());
        count(engine, &format!("SELECT count(*) FROM '{glob}'")).await?
    } else {
        0
    };
    let done = Arc::new(AtomicU64::new(done_rows));
    progress.pass("scoring", rows_in, Arc::clone(&done));
    for shard in (0..work.shards()).filter(|&i| !work.is_done(i)) {
        let urls = work
            .shard_files(shard)
            .iter()
            .map(|f| ListingTableUrl::parse(&f.location))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(shard_options.clone())
            .with_schema(Arc::clone(&file_schema));
        let table = ListingTable::try_new(config)?;
        engine.context().deregister_table("odis_shard")?;
        engine.context().register_table("odis_shard", Arc::new(table))?;
        let mut shard_vars = vars.clone();
        shard_vars.insert("shard_table".into(), "odis_shard".into());
        shard_vars.insert("shard".into(), format!("part-{shard:05}"));
        let script = substitute(SELECT_SQL, &shard_vars)?;
        let index = named_steps(engine, &script)?.iter().position(|s| *s == Some(Step::Score)).expect("checked by named_steps");
        let statement = engine.parse(&script)?.swap_remove(index);
        let _: Vec<RecordBatch> = engine.execute_counting(statement, &done).await?.try_collect().await?;
    }
    engine.context().deregister_table("odis_shard")?;
    progress.pass_finished();
    Ok(())
}

/// `--out-files N`: splits the sorted selection in the work directory into
/// N files of consecutive (component, rank) ranges, written to a staging
/// directory that replaces `--out` when all are written.
async fn split_output(engine: &Engine, options: &SelectOptions, work: &Path, files: usize) -> Result<()> {
    let fetched = quote(&work.join("fetched.parquet").display().to_string());
    let total = count(engine, &format!("SELECT count(*) FROM '{fetched}'")).await?;
    // The first (dim, rank) of each file, by row number in output order.
    let starts: Vec<u64> = (0..files as u64).map(|f| f * total / files as u64 + 1).collect();
    let list = starts.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let mut bounds = Vec::new();
    for batch in rows(
        engine,
        &format!(
            "SELECT odis_dim, odis_rank FROM (SELECT odis_dim, odis_rank, row_number() OVER (ORDER BY odis_dim, \
             odis_rank) AS k FROM selected) WHERE k IN ({list}) ORDER BY k"
        ),
    )
    .await?
    {
        let (dims, ranks) = (i64s(batch.column(0))?, i64s(batch.column(1))?);
        bounds.extend(dims.into_iter().zip(ranks));
    }
    let out = options.out.display().to_string();
    let remote = is_url(&out);
    let target = out.trim_end_matches('/').to_string();
    let staging = if remote {
        target.clone()
    } else {
        let dir = local_out_dir(options)?;
        let name = options.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        dir.join(format!(".odis-tmp-{}-{name}", std::process::id())).display().to_string()
    };
    let write_all = async {
        for f in 0..files {
            let after = |(d, r): (i64, i64)| format!("(odis_dim > {d} OR (odis_dim = {d} AND odis_rank >= {r}))");
            let mut range = match bounds.get(f) {
                Some(&b) => after(b),
                None => "false".to_string(),
            };
            if let Some(&next) = bounds.get(f + 1) {
                range = format!("{range} AND NOT {}", after(next));
            }
            let part = quote(&format!("{staging}/part-{f:05}.parquet"));
            engine
                .sql(&format!(
                    "COPY (SELECT * FROM '{fetched}' WHERE {range} ORDER BY odis_dim, odis_rank) TO '{part}' STORED AS PARQUET"
                ))
                .await?;
        }
        Ok::<(), OdisError>(())
    };
    let written = write_all.await;
    if remote {
        // Objects appear one by one; a failure removes those written.
        if written.is_err() {
            let url = ListingTableUrl::parse(format!("{target}/"))?;
            let store = engine.context().runtime_env().object_store(url.object_store())?;
            use object_store::ObjectStoreExt;
            for f in 0..files {
                let _ = store.delete(&url.prefix().clone().join(format!("part-{f:05}.parquet"))).await;
            }
        }
        return written;
    }
    let staging = PathBuf::from(staging);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    // Replace an earlier output directory: move it aside, move the new one
    // in, remove the old one.
    let old = options.out.with_file_name(format!(".odis-old-{}", std::process::id()));
    let had_old = options.out.is_dir();
    let context = |what: &str| format!("cannot {what} '{}'", options.out.display());
    if had_old {
        std::fs::rename(&options.out, &old).map_err(|e| OdisError::io(context("replace"), e))?;
    }
    std::fs::rename(&staging, &options.out).map_err(|e| OdisError::io(context("write"), e))?;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Whether `location` is a URL (`s3://bucket/key`) rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.split_once("://").is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The object store of `out` answers for its bucket: listing the parent
/// prefix fails now for a missing bucket or wrong credentials.
async fn check_output_location(engine: &Engine, out: &str, directory: bool) -> Result<()> {
    let url = datafusion::datasource::listing::ListingTableUrl::parse(out)?;
    if !directory && url.file_extension().is_none() {
        return Err(invalid(format!("--out {out}: name the Parquet object to write, e.g. s3://bucket/selected.parquet")));
    }
    let store = engine.context().runtime_env().object_store(url.object_store())?;
    let parts: Vec<_> = url.prefix().parts().collect();
    let parent: object_store::path::Path = parts[..parts.len().saturating_sub(1)].iter().cloned().collect();
    let listing = store.list_with_delimiter(Some(&parent)).await;
    match listing {
        Ok(_) => Ok(()),
        Err(e) => {
            Err(invalid(format!(
                "--out {out}: cannot write there: {}; check that the bucket exists and the credentials may write to it",
                crate::error::one_line(&e.to_string())
            )))
        }
    }
}

/// The column `name` of the table read from `input`, or an error naming the
/// flag that asked for it and the columns there are.
pub(crate) fn input_column<'a>(
    schema: &'a datafusion::arrow::datatypes::Schema,
    input: &str,
    flag: &str,
    name: &str,
) -> Result<&'a datafusion::arrow::datatypes::Field> {
    schema.field_with_name(name).map_err(|_| {
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        invalid(format!("{flag} '{name}' is not a column of {input}; its columns are: {}", columns.join(", ")))
    })
}

/// The corpus has the id and text columns the options name, and enough rows
/// for the budget; returns its row count.
async fn check_corpus(engine: &Engine, options: &SelectOptions) -> Result<u64> {
    let table = engine.context().table("corpus").await?;
    let schema = table.schema().as_arrow().clone();
    let find = |flag: &str, name: &str| input_column(&schema, &options.input, flag, name);
    let text = find("--text-column", &options.text_column)?;
    if !matches!(text.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        return Err(invalid(format!(
            "--text-column '{}' holds {}, not text; name the column with the documents' text",
            options.text_column,
            text.data_type()
        )));
    }
    find("--id-column", &options.id_column)?;
    if let ScoreSource::Column(column) = &options.scores {
        let field = find("--scores", column)?;
        if !matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)) {
            return Err(invalid(format!(
                "--scores '{column}' holds {}, not a list of ratings; build one, e.g. make_array(a, b, c), or pass \
                 no --scores to use quality_ratings",
                field.data_type()
            )));
        }
        // The vectors' length, from the type or from the first row, so that
        // too many --components is said before the costly pass.
        let d = match field.data_type() {
            DataType::FixedSizeList(_, n) => Some(*n as u64),
            _ => {
                let column = ident(column);
                let sql = format!("SELECT array_length(\"{column}\") FROM corpus WHERE \"{column}\" IS NOT NULL LIMIT 1");
                let batches = engine.sql(&sql).await?;
                batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
                    let lengths = b.column(0).as_primitive_opt::<datafusion::arrow::datatypes::UInt64Type>()?;
                    lengths.is_valid(0).then(|| lengths.value(0))
                })
            }
        };
        if let Some(d) = d {
            check_components(options, usize::try_from(d).unwrap_or(usize::MAX))?;
        }
    }
    let rows_in = count(engine, "SELECT count(*) FROM corpus").await?;
    if rows_in == 0 {
        return Err(invalid(format!("--input {} has no rows", options.input)));
    }
    // Before the costly pass: a NULL id could not be fetched by pass 2, and
    // would be counted in but never selected. (Parquet statistics often
    // answer this without reading the column.)
    let nulls = count(engine, &format!("SELECT count(*) FROM corpus WHERE \"{}\" IS NULL", ident(&options.id_column))).await?;
    if nulls > 0 {
        return Err(invalid(format!(
            "--id-column '{}' is NULL in {nulls} of the {rows_in} rows; every document needs a unique, non-NULL id: \
             fill them in or filter those rows out first",
            options.id_column
        )));
    }
    if let Budget::Rows(n) = options.budget {
        if n > rows_in {
            return Err(invalid(format!(
                "--budget {n} is larger than the corpus ({rows_in} rows); ask for fewer rows or a percentage such as 10%"
            )));
        }
    }
    Ok(rows_in)
}

/// Vendi scores of the selection's embeddings under `model`, and of a
/// seeded uniform sample of the same size of the documents that passed the
/// filter (the fair baseline: junk is "diverse" too).
async fn measure_diversity(engine: &Engine, options: &SelectOptions, model: &Path, rows_out: u64) -> Result<Diversity> {
    let model = quote(&model.display().to_string());
    let text = ident(&options.text_column);
    let id = ident(&options.id_column);
    let out = quote(&written(options));
    let score = |sql: String| async move {
        let batches = rows(engine, &sql).await?;
        let value = batches.iter().find(|b| b.num_rows() > 0).map(|b| f64s(b.column(0))).transpose()?;
        Ok::<f64, OdisError>(value.and_then(|v| v.first().copied().flatten()).unwrap_or(f64::NAN))
    };
    let selection = score(format!("SELECT vendi_score(odis_score(\"{text}\", '{model}')) FROM '{out}'")).await?;
    let random = score(format!(
        "SELECT vendi_score(odis_score(c.\"{text}\", '{model}')) FROM corpus c \
         JOIN (SELECT odis_id FROM sample_uniform('kept', 'odis_id', {rows_out}, 7)) s ON c.\"{id}\" = s.odis_id"
    ))
    .await?;
    Ok(Diversity { selection, random })
}

/// The raw score vectors of the documents that passed the filter are long
/// enough for the components asked for, and those documents cover the
/// budget; returns the vectors' length and the documents' count.
async fn check_raw_scores(engine: &Engine, options: &SelectOptions) -> Result<(usize, u64)> {
    let kept = count(engine, "SELECT count(*) FROM kept").await?;
    if kept < 2 {
        return Err(invalid(format!(
            "the quality filter (--filter '{}') kept {kept} of the documents; relax it (e.g. --filter \
             'default,gopher_min_words=20') or turn it off with --filter none",
            options.filter
        )));
    }
    if let Budget::Fraction(f) = options.budget {
        if (f * kept as f64).floor() < 1.0 {
            return Err(invalid(format!(
                "--budget {} selects no row of the {kept} documents that pass the quality filter; the smallest \
                 fraction that selects one is {:.6}%",
                options.budget,
                100.0 / kept as f64
            )));
        }
    }
    if let Budget::Rows(n) = options.budget {
        if n > kept {
            return Err(invalid(format!(
                "--budget {n} is more than the {kept} documents that pass the quality filter; ask for fewer rows, a \
                 percentage such as 10% (of the documents that pass), or relax --filter"
            )));
        }
    }
    let batches = rows(engine, "SELECT odis_raw FROM kept WHERE odis_raw IS NOT NULL LIMIT 1").await?;
    let d = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| match b.column(0).data_type() {
            DataType::FixedSizeList(_, n) => *n as usize,
            DataType::List(_) => b.column(0).as_list::<i32>().value(0).len(),
            DataType::LargeList(_) => b.column(0).as_list::<i64>().value(0).len(),
            _ => 0,
        })
        .ok_or_else(|| invalid("every raw score vector is NULL; check --scores or --text-column".into()))?;
    check_components(options, d)?;
    Ok((d, kept))
}

/// `--components` against the `d` raw dimensions of the score source; each
/// source's width is known at a different stage (the ratings' at once, a
/// column's from the corpus's first row, a model's after scoring), and each
/// stage calls this.
fn check_components(options: &SelectOptions, d: usize) -> Result<()> {
    if options.components <= d {
        return Ok(());
    }
    let source = match &options.scores {
        ScoreSource::Ratings => format!("quality_ratings gives {d} ratings"),
        ScoreSource::Column(c) => format!("--scores '{c}' has {d} values per row"),
        ScoreSource::Model(m) => format!("the model {} outputs {d} values", m.display()),
    };
    Err(invalid(format!("--components {} is more than the raw dimensions: {source}; pass --components {d} or fewer", options.components)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_steps_are_the_statements_select_expects() {
        let vars: BTreeMap<String, String> =
            ["input", "work", "out"].iter().map(|k| (k.to_string(), "x".to_string())).collect();
        let script = substitute(SELECT_SQL, &vars).unwrap();
        let engine = Engine::new().unwrap();
        let steps = named_steps(&engine, &script).unwrap();
        let statements: Vec<String> = engine.parse(&script).unwrap().iter().map(|s| s.to_string().to_uppercase()).collect();
        let of = |step: Step| &statements[steps.iter().position(|s| *s == Some(step)).unwrap()];
        assert!(of(Step::Corpus).starts_with("CREATE EXTERNAL TABLE CORPUS"), "{}", of(Step::Corpus));
        assert!(of(Step::Score).starts_with("COPY") && of(Step::Score).contains("QUALITY_FILTER("));
        assert!(of(Step::Kept).starts_with("CREATE VIEW KEPT"));
        assert!(of(Step::Scaling).starts_with("CREATE TABLE SCALING"));
        assert!(of(Step::Projected).starts_with("COPY") && of(Step::Projected).contains("PCA_PROJECT("));
        assert!(of(Step::Select).starts_with("COPY") && of(Step::Select).contains("TOP_K_PER_DIM("));
        assert!(of(Step::Fetch).starts_with("COPY") && of(Step::Fetch).contains("JOIN SELECTED"));
        assert!(of(Step::Report).contains("TOP_K_PER_DIM_REPORT("));
        assert!(of(Step::FilterReport).contains("ODIS_RULE"));
    }

    #[test]
    fn a_missing_or_unknown_step_is_named() {
        let engine = Engine::new().unwrap();
        let err = named_steps(&engine, "SELECT 1;").unwrap_err().to_string();
        assert!(err.contains("no statement is marked `-- step: corpus`"), "{err}");
        let err = named_steps(&engine, "-- step: scorer\nSELECT 1;").unwrap_err().to_string();
        assert!(err.contains("unknown step 'scorer'"), "{err}");
        let err = named_steps(&engine, "SELECT 1;\n-- step: corpus\n").unwrap_err().to_string();
        assert!(err.contains("'corpus' names no statement"), "{err}");
    }

    #[test]
    fn budgets_parse() {
        assert_eq!("10%".parse::<Budget>().unwrap(), Budget::Fraction(0.1));
        assert_eq!("0.25".parse::<Budget>().unwrap(), Budget::Fraction(0.25));
        assert_eq!("5000".parse::<Budget>().unwrap(), Budget::Rows(5000));
        assert!("100%".parse::<Budget>().unwrap_err().contains("between 0% and 100%"));
        assert!("0".parse::<Budget>().unwrap_err().contains("at least 1"));
        assert!("ten".parse::<Budget>().unwrap_err().contains("expected a row count"));
    }
}
