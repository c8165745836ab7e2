//! The functions' documentation, by family: one doc section per folder of
//! functions (the label `\h` and docs/functions.md group them under), and
//! the Markdown that docs/functions.md is generated from.
//!
//! A function's `#[user_doc]` names its section by label; the label must be
//! its family's (a test holds every registered function to it).

use std::fmt::Write as _;

use datafusion::logical_expr::{DocSection, Documentation};

/// A family of functions: the folder they live in and their doc section.
#[derive(Debug, Clone)]
pub struct Family {
    /// The folder of `udfs/src/` (or the file, for `odis_version`).
    pub module: &'static str,
    pub section: DocSection,
}

const fn family(module: &'static str, label: &'static str, description: &'static str) -> Family {
    Family { module, section: DocSection { include: true, label, description: Some(description) } }
}

pub const FILTER: Family = family(
    "filter",
    "ODiS Quality Filter Functions",
    "Step 0: the published document quality rules (Gopher, C4, FineWeb; odis's definitions, or datatrove's).",
);
pub const DEDUP: Family = family(
    "dedup",
    "ODiS Dedup Functions",
    "Before selection: exact, near (MinHash LSH) and semantic (SemDeDup) duplicates.",
);
pub const SIGNALS: Family = family(
    "signals",
    "ODiS Quality Rating Functions",
    "Step 1: raw quality dimensions without an LLM: bounded ratings, and the statistics behind them.",
);
pub const PCA: Family = family(
    "pca",
    "ODiS PCA Functions",
    "Step 2: scale the dimensions and decorrelate them into orthogonal components.",
);
pub const SCORE: Family = family(
    "score",
    "ODiS Scoring Functions",
    "Step 3: score the corpus with an ONNX model inside the query.",
);
pub const SELECT: Family = family(
    "select",
    "ODiS Selection Functions",
    "Step 4: table functions that select rows of a registered table or view: ODiS, its baselines and the methods it is compared with.",
);
pub const CLUSTERING: Family = family(
    "clustering",
    "ODiS Clustering Functions",
    "Embedding space: k-means clusters of document embeddings.",
);
pub const MEASURE: Family = family("measure", "ODiS Diversity Measures", "How diverse a set of documents is.");
pub const TEXT: Family = family(
    "text",
    "ODiS Text Functions",
    "What a document costs: the tokens that token and byte budgets are spent in.",
);
pub const SYSTEM: Family = family("odis_version", "ODiS System Functions", "The installation: versions and native libraries.");

/// Every family, in the order of the method's steps.
pub const FAMILIES: [Family; 10] = [FILTER, DEDUP, SIGNALS, PCA, SCORE, SELECT, CLUSTERING, MEASURE, TEXT, SYSTEM];

/// The family whose section has `label`.
pub fn family_of(label: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.section.label == label)
}

/// One function's documentation as Markdown: a heading, the description,
/// the syntax, the arguments, the example and related functions.
pub fn markdown(name: &str, kind: &str, doc: &Documentation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### `{name}`\n\n_{kind}_\n");
    let _ = writeln!(out, "{}\n", doc.description.trim());
    let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example.trim());
    if let Some(arguments) = doc.arguments.as_ref().filter(|a| !a.is_empty()) {
        let _ = writeln!(out, "Arguments:\n");
        for (argument, description) in arguments {
            let _ = writeln!(out, "- `{argument}`: {}", description.trim());
        }
        out.push('\n');
    }
    if let Some(example) = &doc.sql_example {
        let _ = writeln!(out, "Example:\n\n{}\n", example.trim());
    }
    if let Some(related) = doc.related_udfs.as_ref().filter(|r| !r.is_empty()) {
        let links: Vec<String> = related.iter().map(|r| format!("[`{r}`](#{r})")).collect();
        let _ = writeln!(out, "See also: {}\n", links.join(", "));
    }
    out
}

/// A table function with its documentation (DataFusion's table function
/// trait carries neither its name nor its documentation).
pub trait DocumentedTableFunction: datafusion::catalog::TableFunctionImpl {
    fn name(&self) -> &'static str;
    fn documentation(&self) -> &Documentation;
}

/// `documented_table_function!(Func, NAME)`: the table function `Func`,
/// documented by its `#[user_doc]`, is named `NAME` in SQL.
macro_rules! documented_table_function {
    ($function:ty, $name:expr) => {
        impl $crate::docs::DocumentedTableFunction for $function {
            fn name(&self) -> &'static str {
                $name
            }

            fn documentation(&self) -> &datafusion::logical_expr::Documentation {
                self.doc().expect("documented by #[user_doc]")
            }
        }
    };
}
pub(crate) use documented_table_function;
