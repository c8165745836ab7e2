//! What `odis select` is asked to do: its options, and how it reports
//! progress to its caller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use odis_udfs::dedup::minhash::MinHashSpec;
pub use odis_udfs::select::budget::Budget;

use crate::script_vars::{escape_ident as ident, escape_string as quote};

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

/// How duplicates among the documents that pass the filter are found (and
/// all but one of each cluster removed) before the PCA.
#[derive(Debug, Clone, PartialEq)]
pub enum Dedup {
    /// Keep every document.
    None,
    /// Equal `text_fingerprint`s: the same text but for case, spacing and
    /// Unicode composition.
    Exact,
    /// MinHash LSH near duplicates (`near_duplicates`), with a spec of
    /// MinHash settings ("" for FineWeb's defaults).
    MinHash(String),
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup::MinHash(String::new())
    }
}

impl Dedup {
    /// `minhash`, `exact` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            Dedup::None => "none",
            Dedup::Exact => "exact",
            Dedup::MinHash(_) => "minhash",
        }
    }

    /// The MinHash settings, checked.
    pub fn minhash_spec(&self) -> Result<Option<MinHashSpec>, String> {
        match self {
            Dedup::MinHash(spec) => MinHashSpec::parse(&format!("bits=8,{spec}")).map(Some),
            _ => Ok(None),
        }
    }

    /// sql/select.sql's `dedup_key` (what pass 1 keeps) and `dedup` (the
    /// spec near_duplicates reads it with). The key leaves the threshold
    /// out: another threshold reuses pass 1.
    fn script_vars(&self, text: &str) -> (String, String) {
        match self.minhash_spec() {
            Ok(Some(m)) => (
                format!("text_minhash({text}, 'ngram={},bands={},rows={},seed={},bits={}')", m.ngram, m.bands, m.rows, m.seed, m.bits),
                m.to_string(),
            ),
            _ if *self == Dedup::Exact => (format!("text_fingerprint({text})"), "exact".into()),
            // No dedup: a key that is NULL everywhere finds no duplicate.
            _ => ("CAST(NULL AS VARCHAR)".into(), "exact".into()),
        }
    }
}

impl std::str::FromStr for Dedup {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "minhash" => Ok(Dedup::MinHash(String::new())),
            "exact" => Ok(Dedup::Exact),
            "none" => Ok(Dedup::None),
            _ => Err(format!("expected minhash, exact or none, got '{text}'")),
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
    /// Duplicates removed after the filter, before the PCA.
    pub dedup: Dedup,
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

impl SelectOptions {
    /// The variables of sql/select.sql for these options.
    pub fn script_vars(&self, work: &Path) -> BTreeMap<String, String> {
        let text = format!("\"{}\"", ident(&self.text_column));
        let (dedup_key, dedup) = self.dedup.script_vars(&text);
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
            ("dedup_key", dedup_key),
            ("dedup", quote(&dedup)),
            ("scaling", self.scaling.name().to_string()),
            ("components", self.components.to_string()),
            ("budget", self.budget.sql_literal()),
            ("work", quote(&work.display().to_string())),
            ("out", quote(&self.out.display().to_string())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
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
