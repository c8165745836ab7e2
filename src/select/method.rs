//! `--method`: how the budget is spent on the documents that pass the
//! filter and the dedup. Every fact of a method is here: its name, what it
//! takes and needs, the SQL that selects and reports, and how the report
//! names its groups and scores.

/// How the budget is spent. Each method other than `odis` weighs a
/// document's quality as the mean of its components (the PC average of the
/// baselines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectionMethod {
    /// The top of each orthogonal component (`top_k_per_dim`).
    #[default]
    Odis,
    /// Diversify-and-Conquer's kMQ: equal quotas over k-means clusters of
    /// the embeddings, drawn ∝ exp(quality) (`cluster_balanced_sample`).
    KMeans,
    /// Coverage-centric Coreset Selection over the quality (`ccs_select`).
    Ccs,
    /// Greedy MAP of a DPP per k-means cluster (`dpp_select`).
    Dpp,
    /// MIG over k-means clusters of the embeddings (`mig_select`, quality
    /// exp(mean)).
    Mig,
    /// A uniform sample (`sample_uniform`).
    Random,
}

/// The table the other methods select from (sql/select.sql's
/// `method_input`) and its id column.
const INPUT: &str = "'method_input', 'odis_id'";

/// k-means clusters of kmeans and mig when --clusters is not given.
const DEFAULT_CLUSTERS: u64 = 64;

impl SelectionMethod {
    pub const ALL: [SelectionMethod; 6] =
        [SelectionMethod::Odis, SelectionMethod::KMeans, SelectionMethod::Ccs, SelectionMethod::Dpp, SelectionMethod::Mig, SelectionMethod::Random];

    pub fn name(self) -> &'static str {
        match self {
            SelectionMethod::Odis => "odis",
            SelectionMethod::KMeans => "kmeans",
            SelectionMethod::Ccs => "ccs",
            SelectionMethod::Dpp => "dpp",
            SelectionMethod::Mig => "mig",
            SelectionMethod::Random => "random",
        }
    }

    /// Whether the method can spend a token or byte budget.
    pub fn takes_cost_budgets(self) -> bool {
        matches!(self, SelectionMethod::Odis | SelectionMethod::Random)
    }

    /// Whether the method reads document embeddings (`embed`).
    pub fn needs_embeddings(self) -> bool {
        matches!(self, SelectionMethod::KMeans | SelectionMethod::Dpp | SelectionMethod::Mig)
    }

    /// What its groups (`odis_dim`) are, one and many.
    pub fn group_names(self) -> (&'static str, &'static str) {
        match self {
            SelectionMethod::Odis => ("pc", "components"),
            SelectionMethod::Ccs => ("stratum", "strata"),
            SelectionMethod::Random => ("group", "groups"),
            SelectionMethod::KMeans | SelectionMethod::Dpp | SelectionMethod::Mig => ("cluster", "clusters"),
        }
    }

    /// What `odis_score` holds for its rows.
    pub fn score_name(self) -> &'static str {
        match self {
            SelectionMethod::Odis => "score",
            SelectionMethod::Dpp | SelectionMethod::Mig => "gain",
            // kMQ, CCS and random draw rows by a seeded key.
            SelectionMethod::KMeans | SelectionMethod::Ccs | SelectionMethod::Random => "sampling key",
        }
    }

    /// sql/select.sql's `selection`: the table function that selects, with
    /// the budget's argument and, for an amount of text, `cost`
    /// (`, cost => 'odis_tokens'`; empty for rows).
    /// `clusters`: what --clusters gave; without it 64 k-means clusters,
    /// and for dpp as many as its budget needs (`clusters=auto`).
    pub(crate) fn selection(self, budget: &str, cost: &str, clusters: Option<u64>) -> String {
        let dpp_clusters = clusters.map_or("auto".to_string(), |k| k.to_string());
        let clusters = clusters.unwrap_or(DEFAULT_CLUSTERS);
        match self {
            SelectionMethod::Odis => format!("top_k_per_dim('projected', 'odis_id', 'odis_pc', {budget}{cost})"),
            SelectionMethod::KMeans => {
                format!("cluster_balanced_sample({INPUT}, 'odis_embedding', 'odis_quality', {budget}, 'clusters={clusters},seed=1')")
            }
            SelectionMethod::Ccs => format!("ccs_select({INPUT}, 'odis_quality', {budget}, 'hard=low')"),
            SelectionMethod::Dpp => format!("dpp_select({INPUT}, 'odis_embedding', 'odis_quality', {budget}, 'clusters={dpp_clusters}')"),
            SelectionMethod::Mig => format!("mig_select({INPUT}, 'odis_embedding', 'odis_weight', {budget}, 'clusters={clusters}')"),
            SelectionMethod::Random => format!("sample_uniform({INPUT}, {budget}, 1{cost})"),
        }
    }

    /// sql/select.sql's `selection_report`: ODiS's overlap report, or the
    /// rows another method selected per group, in the same columns.
    /// `budget` and `cost` as for [`Self::selection`]; `quota`: the
    /// budget's amount and the column it is spent in, for an amount of text.
    pub(crate) fn report(self, budget: &str, cost: &str, quota: Option<(u64, &str)>) -> String {
        let (cost_quota, selected_cost) = match quota {
            Some((amount, column)) => (format!("CAST({amount} AS BIGINT)"), format!("CAST(sum({column}) AS BIGINT)")),
            None => ("CAST(NULL AS BIGINT)".to_string(), "CAST(NULL AS BIGINT)".to_string()),
        };
        match self {
            SelectionMethod::Odis => format!("top_k_per_dim_report('projected', 'odis_id', 'odis_pc', {budget}{cost})"),
            _ => format!(
                "(SELECT CAST(odis_dim AS INT) AS dim, count(*) AS quota, count(*) AS selected, min(odis_score) AS threshold, \
                  CAST(0 AS BIGINT) AS overlap, CAST(NULL AS DOUBLE) AS overlap_ratio, {cost_quota} AS cost_quota, \
                  {selected_cost} AS selected_cost, CAST(NULL AS BIGINT) AS overlap_cost, CAST(NULL AS DOUBLE) AS overlap_cost_ratio \
                  FROM selected GROUP BY odis_dim ORDER BY odis_dim) AS groups"
            ),
        }
    }
}

impl std::str::FromStr for SelectionMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        SelectionMethod::ALL.into_iter().find(|m| m.name() == text).ok_or_else(|| {
            let names: Vec<&str> = SelectionMethod::ALL.iter().map(|m| m.name()).collect();
            format!("expected one of {}, got '{text}'", names.join(", "))
        })
    }
}
