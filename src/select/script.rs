//! The boundary between typed options and SQL: the variables of
//! sql/select.sql, every one rendered here from the options' typed values
//! (a budget, a dedup mode with its parsed spec, a filter, a method). Specs
//! were parsed when the options were made, so nothing here can fail, and no
//! value can turn a step off by not parsing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::script_vars::{escape_ident as ident, escape_string as quote};
use crate::select::formats::Input;
use crate::select::options::{ScoreSource, SelectOptions, Tokenizer};

/// The table of the kept documents' dedup keys and embeddings that
/// sql/select.sql makes for the dedup step.
const DEDUP_KEYS: &str = "odis_dedup_keys";

/// The variables of sql/select.sql for `options`, with `work` as the work
/// directory.
pub(crate) fn script_vars(options: &SelectOptions, work: &Path) -> BTreeMap<String, String> {
    let text = format!("\"{}\"", ident(&options.text_column));
    // An expression of the model's output over the text.
    let scored = |dir: &Path| format!("odis_score({text}, '{}')", quote(&dir.display().to_string()));
    let scores = match &options.scores {
        ScoreSource::Ratings => format!("quality_ratings_vector({text})"),
        ScoreSource::Column(column) => format!("\"{}\"", ident(column)),
        ScoreSource::Model(dir) => scored(dir),
    };
    let tokens = match options.token_counter() {
        Some(Tokenizer::Approx) => format!("token_count({text}, 'approx')"),
        Some(Tokenizer::File(path)) => format!("token_count({text}, '{}')", quote(&path.display().to_string())),
        None => "CAST(NULL AS BIGINT)".to_string(),
    };
    let embedding = options.embed.as_deref().map_or_else(|| "CAST(NULL AS REAL[])".to_string(), scored);
    // The budget keeps its unit; an amount of text is spent over the work
    // table's column of it.
    let budget = options.budget.sql_argument();
    let cost_column = options.cost_column();
    let cost = cost_column.map(|c| format!(", cost => '{c}'")).unwrap_or_default();
    let cost_quota = cost_column.map(|c| (options.budget.resolve(0), c));
    let dedup = &options.dedup;
    [
        ("input", quote(&options.input)),
        ("id", ident(&options.id_column)),
        ("text", ident(&options.text_column)),
        ("scores", scores),
        ("filter", quote(options.filter.text())),
        ("dedup_key", dedup.key(&text).unwrap_or_else(|| "CAST(NULL AS VARCHAR)".to_string())),
        ("duplicates", dedup.finder(DEDUP_KEYS)),
        // The dedup statement runs in a pool of --dedup-memory's size
        // (`Engine::execute_bounded`): the functions take that pool as it is.
        ("dedup_memory", "unlimited".to_string()),
        ("embedding", embedding),
        ("scaling", options.scaling.name().to_string()),
        ("components", options.components.to_string()),
        ("tokens", tokens),
        ("budget", budget.clone()),
        ("cost", cost.clone()),
        ("selection", options.method.selection(&budget, &cost, options.clusters)),
        ("selection_report", options.method.report(&budget, &cost, cost_quota)),
        ("method", options.method.name().to_string()),
        ("work", quote(&work.display().to_string())),
        ("out", quote(&options.out.display().to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The variables that say how to read the input: where, its format and,
/// for JSON Lines, the compression.
pub(crate) fn input_vars(input: &Input) -> [(String, String); 3] {
    [
        ("input".into(), quote(&input.location)),
        ("format".into(), input.format.stored_as().into()),
        ("input_options".into(), input.format.options()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::options::{Budget, Dedup, SelectionMethod};

    fn vars(options: &SelectOptions) -> BTreeMap<String, String> {
        script_vars(options, Path::new("work"))
    }

    #[test]
    fn a_token_budget_keeps_its_unit_and_its_column_everywhere() {
        let options = SelectOptions {
            budget: "300K tokens".parse().unwrap(),
            tokenizer: Some(Tokenizer::Approx),
            ..SelectOptions::new("c.parquet", "o.parquet")
        };
        let v = vars(&options);
        assert_eq!(v["selection"], "top_k_per_dim('projected', 'odis_id', 'odis_pc', '300000 tokens', cost => 'odis_tokens')");
        assert_eq!(v["selection_report"], "top_k_per_dim_report('projected', 'odis_id', 'odis_pc', '300000 tokens', cost => 'odis_tokens')");
        assert_eq!(v["tokens"], "token_count(\"text\", 'approx')");
        let random = vars(&SelectOptions { method: SelectionMethod::Random, ..options });
        assert_eq!(random["selection"], "sample_uniform('method_input', 'odis_id', '300000 tokens', 1, cost => 'odis_tokens')");
        assert!(random["selection_report"].contains("CAST(300000 AS BIGINT) AS cost_quota"), "{}", random["selection_report"]);
    }

    #[test]
    fn each_dedup_mode_renders_its_key_and_its_finder() {
        let minhash = vars(&SelectOptions::new("c.parquet", "o.parquet"));
        assert_eq!(minhash["dedup_key"], "minhash_pack(text_minhash(\"text\", 'ngram=5,bands=14,rows=8,seed=1,bits=8'))");
        assert_eq!(
            minhash["duplicates"],
            "near_duplicates('odis_dedup_keys', 'odis_id', 'odis_dedup', 'threshold=0.8,ngram=5,bands=14,rows=8,seed=1,bits=8')"
        );
        let semantic = vars(&SelectOptions { dedup: Dedup::parse("semantic", "eps=0.1").unwrap(), ..SelectOptions::new("c", "o") });
        assert_eq!(semantic["dedup_key"], "CAST(NULL AS VARCHAR)");
        assert!(semantic["duplicates"].starts_with("semantic_duplicates('odis_dedup_keys', 'odis_id', 'odis_embedding', 'eps=0.1"));
        let rows = vars(&SelectOptions { budget: Budget::Rows(5000), ..SelectOptions::new("c", "o") });
        assert_eq!(rows["selection"], "top_k_per_dim('projected', 'odis_id', 'odis_pc', 5000)");
    }
}
