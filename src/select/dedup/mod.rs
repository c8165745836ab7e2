//! `--dedup`: how duplicates among the documents that pass the filter are
//! found before the PCA. Each mode is a file here implementing
//! [`DedupMode`]: what pass 1 keeps of each document, the table function
//! that lists the duplicates, whether it needs embeddings, and how the
//! report names it. A mode's settings are parsed once, when it is made, so
//! a wrong spec is an error then and never turns a step off later.
//!
//! A new mode is its file, its `mod` line and its line in [`MODES`].

pub mod exact;
pub mod minhash;
pub mod mode;
pub mod none;
pub mod semantic;

use std::fmt;
use std::sync::Arc;

use exact::Exact;
pub use mode::DedupMode;
use none::NoDedup;

/// A mode as `--dedup` names it.
struct Mode {
    name: &'static str,
    /// Whether it takes settings (`--dedup-spec`).
    takes_settings: bool,
    /// The mode made from its settings ("" for its defaults).
    make: fn(&str) -> Result<Arc<dyn DedupMode>, String>,
}

/// A mode without settings, as it is by default.
fn as_default<M: DedupMode + Default + 'static>(_spec: &str) -> Result<Arc<dyn DedupMode>, String> {
    Ok(Arc::new(M::default()))
}

/// Every mode, in the order `--help` lists them.
const MODES: [Mode; 4] = [
    Mode { name: "minhash", takes_settings: true, make: minhash::make },
    Mode { name: "exact", takes_settings: false, make: as_default::<Exact> },
    Mode { name: "semantic", takes_settings: true, make: semantic::make },
    Mode { name: "none", takes_settings: false, make: as_default::<NoDedup> },
];

/// A mode with its settings.
#[derive(Clone)]
pub struct Dedup(Arc<dyn DedupMode>);

/// Why a mode name and settings make no mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupError {
    /// No mode has this name.
    UnknownMode(String),
    /// Settings were given to a mode that takes none.
    TakesNoSettings(&'static str),
    /// The mode's settings do not parse: why.
    Settings(&'static str, String),
}

impl fmt::Display for DedupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DedupError::UnknownMode(name) => write!(f, "expected {}, got '{name}'", or_list(&Dedup::names())),
            DedupError::TakesNoSettings(mode) => {
                write!(f, "settings go with {}, not with {mode}", or_list(&Dedup::with_settings()))
            }
            DedupError::Settings(mode, why) => write!(f, "{mode}: {why}"),
        }
    }
}

impl std::error::Error for DedupError {}

/// `a, b, c or d`.
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

impl Dedup {
    /// A mode of your own.
    pub fn new(mode: impl DedupMode + 'static) -> Self {
        Dedup(Arc::new(mode))
    }

    /// The mode `name` with its settings `spec` ("" for its defaults).
    pub fn parse(name: &str, spec: &str) -> Result<Self, DedupError> {
        let mode = MODES.iter().find(|m| m.name == name).ok_or_else(|| DedupError::UnknownMode(name.to_string()))?;
        if !mode.takes_settings && !spec.trim().is_empty() {
            return Err(DedupError::TakesNoSettings(mode.name));
        }
        (mode.make)(spec).map(Dedup).map_err(|why| DedupError::Settings(mode.name, why))
    }

    /// The names of the modes.
    pub fn names() -> Vec<&'static str> {
        MODES.iter().map(|m| m.name).collect()
    }

    /// The names of the modes that take settings.
    pub fn with_settings() -> Vec<&'static str> {
        MODES.iter().filter(|m| m.takes_settings).map(|m| m.name).collect()
    }

    /// The mode.
    pub fn mode(&self) -> &dyn DedupMode {
        self.0.as_ref()
    }
}

impl std::ops::Deref for Dedup {
    type Target = dyn DedupMode;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// MinHash near duplicates at FineWeb's settings.
impl Default for Dedup {
    fn default() -> Self {
        Dedup::new(minhash::MinHash::default())
    }
}

impl fmt::Debug for Dedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dedup({})", self.describe())
    }
}

/// Two modes are the same when they are named and set alike.
impl PartialEq for Dedup {
    fn eq(&self, other: &Self) -> bool {
        self.describe() == other.describe()
    }
}

/// A mode name at its default settings.
impl std::str::FromStr for Dedup {
    type Err = DedupError;

    fn from_str(name: &str) -> Result<Self, DedupError> {
        Dedup::parse(name, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_parses_its_settings_once_and_says_what_is_wrong() {
        assert_eq!(Dedup::names(), ["minhash", "exact", "semantic", "none"]);
        let minhash = Dedup::parse("minhash", "threshold=0.9").unwrap();
        assert_eq!(minhash.describe(), "minhash (threshold=0.9,ngram=5,bands=14,rows=8,seed=1,bits=8)");
        assert_eq!(Dedup::default().describe(), "minhash (threshold=0.8,ngram=5,bands=14,rows=8,seed=1,bits=8)");
        assert_ne!(minhash, Dedup::default());
        assert_eq!(Dedup::parse("exact", "").unwrap().describe(), "exact");
        assert!(Dedup::parse("semantic", "").unwrap().needs_embeddings());
        let e = Dedup::parse("minhash", "threshold=2").unwrap_err();
        assert!(matches!(&e, DedupError::Settings("minhash", why) if why.contains("threshold")), "{e}");
        assert_eq!(Dedup::parse("exact", "bands=4").unwrap_err(), DedupError::TakesNoSettings("exact"));
        assert_eq!(
            Dedup::parse("fuzzy", "").unwrap_err().to_string(),
            "expected minhash, exact, semantic or none, got 'fuzzy'"
        );
        // The key pass 1 keeps: none for semantic and none.
        assert_eq!(Dedup::parse("none", "").unwrap().key("\"text\""), None);
        assert_eq!(Dedup::parse("exact", "").unwrap().key("\"text\"").as_deref(), Some("text_fingerprint(\"text\")"));
    }
}
