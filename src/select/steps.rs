//! The statements of sql/select.sql that `odis select` acts on, found by
//! the `-- step: NAME` line before each.

use crate::engine::Engine;
use crate::error::{OdisError, Result};

/// The pipeline, as shipped in `sql/select.sql`.
pub const SELECT_SQL: &str = include_str!("../../sql/select.sql");

/// The statements of sql/select.sql that `select` acts on, each marked in
/// the script by a `-- step: NAME` line just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Corpus,
    Score,
    Duplicates,
    Kept,
    Scaling,
    Projected,
    Select,
    Fetch,
    Report,
    Examples,
    FilterReport,
    DedupReport,
}

impl Step {
    const ALL: [Step; 12] = [
        Step::Corpus,
        Step::Score,
        Step::Duplicates,
        Step::Kept,
        Step::Scaling,
        Step::Projected,
        Step::Select,
        Step::Fetch,
        Step::Report,
        Step::Examples,
        Step::FilterReport,
        Step::DedupReport,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::Corpus => "corpus",
            Step::Score => "score",
            Step::Duplicates => "duplicates",
            Step::Kept => "kept",
            Step::Scaling => "scaling",
            Step::Projected => "projected",
            Step::Select => "select",
            Step::Fetch => "fetch",
            Step::Report => "report",
            Step::Examples => "examples",
            Step::FilterReport => "filter_report",
            Step::DedupReport => "dedup_report",
        }
    }
}

/// Which step each statement of `script` is (None for the statements
/// `select` runs as they are): a `-- step: NAME` line names the statement
/// that follows it. Every step must be named once.
pub(crate) fn named_steps(engine: &Engine, script: &str) -> Result<Vec<Option<Step>>> {
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
pub(crate) const TRANSIENT_NAMES: [&str; 14] =
    ["examples", "rule_examples", "least_alike", "odis_shard", "method_input", "odis_dedup_keys", "duplicates", "projected", "loadings", "selected", "scaled", "kept", "raw_scores", "corpus"];

/// Drops `names`, whether tables or views: DataFusion's DROP TABLE leaves a
/// view of that name in place (and DROP VIEW a table), and a user's session
/// may hold either.
pub(crate) fn drops(names: &[&str]) -> String {
    names.iter().map(|n| format!("DROP VIEW IF EXISTS {n}; DROP TABLE IF EXISTS {n}; ")).collect()
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::engine::Engine;
    use crate::script_vars::substitute;

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
        assert!(of(Step::Fetch).starts_with("COPY") && of(Step::Fetch).contains("JOIN CORPUS"));
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
}
