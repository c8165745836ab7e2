//! What `odis select` is asked to do: its options, and how it reports
//! progress to its caller.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use odis_udfs::dedup::minhash::MinHashSpec;
pub use odis_udfs::dedup::semantic_duplicates::SemDedupSpec;
use odis_udfs::filter::filter_rules::FilterSpec;
pub use odis_udfs::plan::budget::{Budget, CostUnit};

use crate::engine::{Bounds, MemoryLimit};
pub use crate::select::formats::{Compression, FileFormat, InputFormat};
use crate::error::select::{SelectError, SelectOption};
pub use crate::select::dedup::Dedup;
pub use crate::select::method::SelectionMethod;

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
    /// A stage of the dedup step still runs, `elapsed` after it started
    /// (every 10 s).
    fn still(&self, _stage: &str, _elapsed: std::time::Duration) {}
    /// A pass over the corpus starts: `done` counts the rows read so far,
    /// out of `total` (0: not known before the pass, as for JSON Lines); it
    /// may start above zero (a resumed pass).
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

/// How pass 1 counts each kept document's tokens (`odis_tokens`).
#[derive(Debug, Clone, PartialEq)]
pub enum Tokenizer {
    /// `token_count(text, 'approx')`: UTF-8 bytes / 4, an estimate.
    Approx,
    /// A model directory holding tokenizer.json, or the file itself.
    File(PathBuf),
}

impl Tokenizer {
    /// The tokenizer.json a path names: the file itself, or the one in the
    /// model directory (`None` for `approx`).
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            Tokenizer::Approx => None,
            Tokenizer::File(path) => Some(Self::file_at(path)),
        }
    }

    /// The tokenizer.json a `--tokenizer` path names.
    pub fn file_at(path: &Path) -> PathBuf {
        if path.is_dir() { path.join(odis_udfs::score::model::TOKENIZER_FILE) } else { path.to_path_buf() }
    }

    /// What reports call the count: an estimate, or the tokenizer's.
    pub fn describe(&self) -> String {
        match self {
            Tokenizer::Approx => "approx: UTF-8 bytes / 4, an estimate".to_string(),
            Tokenizer::File(path) => path.display().to_string(),
        }
    }
}

impl std::str::FromStr for Tokenizer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "" => Err("expected a model directory, a tokenizer.json file or 'approx'".into()),
            "approx" => Ok(Tokenizer::Approx),
            path => Ok(Tokenizer::File(PathBuf::from(path))),
        }
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

/// The quality rules a document must pass first: a `quality_filter` spec
/// (`default`, `none`, `gopher,c4`, `default,gopher_min_words=20`), parsed
/// when it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    spec: FilterSpec,
}

impl Filter {
    /// The spec as it was written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The rules and thresholds it names.
    pub fn spec(&self) -> &FilterSpec {
        &self.spec
    }
}

/// odis's default rules.
impl Default for Filter {
    fn default() -> Self {
        Filter { text: "default".into(), spec: FilterSpec::default() }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A spec that does not parse is an error naming the option.
impl std::str::FromStr for Filter {
    type Err = SelectError;

    fn from_str(text: &str) -> Result<Self, SelectError> {
        match FilterSpec::parse(text) {
            Ok(spec) => Ok(Filter { text: text.to_string(), spec }),
            Err(e) => {
                let text = text.to_string();
                Err(SelectError::new(SelectOption::Filter, move |o| format!("{} '{text}': {e}", o.filter)))
            }
        }
    }
}

/// What to select from where.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectOptions {
    /// Parquet or JSON Lines files (plain or compressed): a file, a
    /// directory or a glob, local or `s3://`.
    pub input: String,
    /// What the input's files hold; `None`: what their names say
    /// ([`crate::select::formats`]).
    pub input_format: Option<InputFormat>,
    pub text_column: String,
    pub id_column: String,
    pub budget: Budget,
    pub components: usize,
    pub scores: ScoreSource,
    /// Duplicates removed after the filter, before the PCA.
    pub dedup: Dedup,
    /// The quality rules a document must pass first.
    pub filter: Filter,
    /// How each raw dimension is scaled before the PCA.
    pub scaling: Scaling,
    /// A model whose embeddings measure the selection's diversity (Vendi
    /// score), next to a random sample of the same size.
    pub diversity: Option<PathBuf>,
    /// The file to write, local or `s3://bucket/key`: Parquet, or JSON
    /// Lines when its name ends in `.jsonl` (`.jsonl.gz`, `.jsonl.zst`,
    /// ...); with `out_files`, the directory (or prefix) of the files.
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
    /// Input files are scored in shards of about this many bytes (a
    /// larger Parquet or uncompressed JSON Lines file in byte ranges of at
    /// most this, but at least 4 MiB; a compressed file whole): the unit a
    /// resumed run does not score again.
    pub shard_bytes: u64,
    /// Where to write the HTML report (None: no report file).
    pub report: Option<PathBuf>,
    /// Where to write the report as JSON (None: none, unless `report` is
    /// set: then `report.json` beside it).
    pub report_json: Option<PathBuf>,
    /// A directory (local or `s3://`) for every input document's
    /// annotations: its filter verdict, duplicate, ratings, components and
    /// whether it was selected, one Parquet file per input shard.
    pub annotations: Option<String>,
    /// An encoder model directory: pass 1 keeps each kept document's
    /// embedding in the work directory, for `--dedup semantic` and the
    /// embedding-space methods.
    pub embed: Option<PathBuf>,
    /// How the budget is spent.
    pub method: SelectionMethod,
    /// k-means clusters of the embedding-space methods (kmeans, dpp, mig);
    /// `None`: the method's default ([`SelectionMethod::selection`]).
    pub clusters: Option<u64>,
    /// How tokens are counted (`odis_tokens`); `None`: the `--model`'s
    /// tokenizer for a token budget, else no count.
    pub tokenizer: Option<Tokenizer>,
    /// What the fetch (pass 2) may hold of the selected documents while it
    /// sorts them into component and rank order: past it, the sort spills
    /// sorted runs to the temporary directory and merges them. `None`:
    /// [`FETCH_MEMORY`]; `Unlimited`: the engine's limit. Never more than
    /// the engine's limit.
    pub fetch_memory: Option<MemoryLimit>,
    /// What the dedup step's sorts, joins and counts may hold before they
    /// spill. `None`: [`default_dedup_memory`]; `Unlimited`: the engine's
    /// limit.
    /// Never more than the engine's limit.
    pub dedup_memory: Option<MemoryLimit>,
}

/// A step's bound in bytes: `default` when none is given; `Unlimited` is
/// the engine's limit, which applies to every bound anyway.
fn bound_bytes(given: Option<MemoryLimit>, default: usize) -> usize {
    match given {
        None => default,
        Some(MemoryLimit::Bytes(bytes)) => bytes,
        Some(MemoryLimit::Unlimited) => usize::MAX,
    }
}

/// What the fetch's sort holds unless told otherwise.
pub const FETCH_MEMORY: usize = 256 << 20;

pub use odis_udfs::plan::memory::{DEDUP_MEMORY_MIN, DEDUP_MEMORY_PER_PARTITION, default_dedup_memory};

/// The text a batch of the fetch holds. A sort that spilled merges its
/// sorted runs holding a batch of each: batches of a fixed row count would
/// make that grow with the documents' width, and 1 MiB keeps it a small
/// part of the fetch's memory.
pub const FETCH_BATCH_BYTES: u64 = 1 << 20;

impl SelectOptions {
    /// `odis select`'s defaults, reading `input` and writing `out`: a 10%
    /// budget over 4 components of the quality ratings, the default filter,
    /// MinHash dedup, rank scaling, one output file, no HTML report.
    pub fn new(input: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        SelectOptions {
            input: input.into(),
            input_format: None,
            text_column: "text".into(),
            id_column: "id".into(),
            budget: Budget::Fraction(0.1),
            components: 4,
            scores: ScoreSource::Ratings,
            dedup: Dedup::default(),
            filter: Filter::default(),
            scaling: Scaling::default(),
            diversity: None,
            out: out.into(),
            out_files: None,
            work_dir: None,
            keep_work: false,
            shard_bytes: crate::select::work_dir::SHARD_BYTES,
            report: None,
            report_json: None,
            annotations: None,
            embed: None,
            method: SelectionMethod::default(),
            clusters: None,
            tokenizer: None,
            fetch_memory: None,
            dedup_memory: None,
        }
    }

    /// The fetch's bounds, for selected documents of `mean_bytes` of text
    /// each, in batches of at most `max_rows` rows.
    pub fn fetch_bounds(&self, mean_bytes: u64, max_rows: usize) -> Bounds {
        let memory = bound_bytes(self.fetch_memory, FETCH_MEMORY);
        let batch_rows = (FETCH_BATCH_BYTES / mean_bytes.max(1)).clamp(1, max_rows.max(1) as u64) as usize;
        Bounds { memory, batch_rows }
    }

    /// The dedup step's bounds, in batches of `max_rows` rows, on
    /// `partitions` partitions.
    pub fn dedup_bounds(&self, max_rows: usize, partitions: usize) -> Bounds {
        Bounds { memory: bound_bytes(self.dedup_memory, default_dedup_memory(partitions)), batch_rows: max_rows.max(1) }
    }

    /// How pass 1 counts tokens: the tokenizer given, or for a token budget
    /// the scoring model's; `None` counts none.
    pub fn token_counter(&self) -> Option<Tokenizer> {
        match (&self.tokenizer, &self.scores) {
            (Some(tokenizer), _) => Some(tokenizer.clone()),
            (None, ScoreSource::Model(dir)) if self.budget.unit() == Some(CostUnit::Tokens) => Some(Tokenizer::File(dir.clone())),
            _ => None,
        }
    }

    /// Where the JSON report goes: `report_json`, or `report.json` beside
    /// the HTML report.
    pub fn report_json_path(&self) -> Option<PathBuf> {
        self.report_json.clone().or_else(|| self.report.as_ref().map(|html| html.with_extension("json")))
    }

    /// The work-table column the budget is spent in, if not rows.
    pub fn cost_column(&self) -> Option<&'static str> {
        self.budget.unit().map(|unit| match unit {
            CostUnit::Tokens => "odis_tokens",
            CostUnit::Bytes => "odis_bytes",
        })
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

/// Whether `location` is a URL (`s3://bucket/key`) rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.split_once("://").is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_fetch_memory(fetch_memory: Option<MemoryLimit>) -> SelectOptions {
        SelectOptions { fetch_memory, ..SelectOptions::new("corpus.parquet", "out.parquet") }
    }

    #[test]
    fn the_fetch_sorts_in_batches_of_about_a_mebibyte_of_text() {
        let default = with_fetch_memory(None);
        assert_eq!(default.fetch_bounds(2048, 8192), Bounds { memory: 256 << 20, batch_rows: 512 });
        // Short documents: the configured batch size; very wide ones: one a batch.
        assert_eq!(default.fetch_bounds(10, 8192).batch_rows, 8192);
        assert_eq!(default.fetch_bounds(10, 1000).batch_rows, 1000);
        assert_eq!(default.fetch_bounds(50 << 20, 8192).batch_rows, 1);
        assert_eq!(default.fetch_bounds(0, 8192).batch_rows, 8192);
        assert_eq!(with_fetch_memory(Some(MemoryLimit::Bytes(1 << 30))).fetch_bounds(2048, 8192).memory, 1 << 30);
        assert_eq!(with_fetch_memory(Some(MemoryLimit::Unlimited)).fetch_bounds(2048, 8192).memory, usize::MAX);
    }

    #[test]
    fn the_dedup_step_holds_its_bound_unless_told_otherwise() {
        let default = SelectOptions::new("corpus.parquet", "out.parquet");
        // 64 MiB a partition, 128 MiB at least.
        assert_eq!(default.dedup_bounds(8192, 2), Bounds { memory: 128 << 20, batch_rows: 8192 });
        assert_eq!(default.dedup_bounds(8192, 1).memory, 128 << 20);
        assert_eq!(default.dedup_bounds(8192, 16).memory, 1 << 30);
        let given = SelectOptions { dedup_memory: Some(MemoryLimit::Bytes(300 << 20)), ..default.clone() };
        assert_eq!(given.dedup_bounds(8192, 16).memory, 300 << 20);
        let unlimited = SelectOptions { dedup_memory: Some(MemoryLimit::Unlimited), ..default };
        assert_eq!(unlimited.dedup_bounds(0, 2), Bounds { memory: usize::MAX, batch_rows: 1 });
    }
}
