//! The SQL functions of odis, for Apache DataFusion.
//!
//! One function per file, each with its signature, documentation (shown by
//! the CLI's `\h NAME`) and tests. [`register`] adds them all to a
//! `SessionContext`.
//!
//! | function | kind | ODiS step |
//! |---|---|---|
//! | `quality_filter(text [, spec])` | scalar | 0: the published document quality rules (Gopher, C4, FineWeb) |
//! | `quality_ratings(text)`, `quality_ratings_vector(text)` | scalar | 1: bounded, higher-is-better ratings without an LLM |
//! | `quality_signals(text)`, `quality_signals_vector(text)` | scalar | 1: the raw text statistics behind them |
//! | `quantile_fit(scores [, knots])`, `quantile_transform(scores, model)` | aggregate, scalar | 2: rank-based scaling before the PCA |
//! | `pca_fit(scores, k [, standardize])` | aggregate | 2: decorrelate the quality dimensions |
//! | `pca_project(scores, model)` | scalar | 2: project onto the components |
//! | `pca_loadings(model [, names])` | scalar | 2: read what each component means |
//! | `top_k_per_dim(table, id, scores, budget [, weights] [, cost])` | table | 4: select per dimension under one budget of rows or tokens |
//! | `top_k_per_dim_report(...)` | table | 4: quotas, thresholds, overlap |
//! | `top_k_average`, `sample_by_average`, `sample_uniform` | table | baselines |
//! | `ccs_select`, `cluster_balanced_sample` | table | stratified selection: CCS, Diversify-and-Conquer's kMQ |
//! | `dpp_select(table, id, embedding, quality, budget [, spec])` | table | embedding space: greedy MAP of a DPP |
//! | `mig_select(table, id, label, quality, budget [, spec])` | table | embedding space: MIG's information gain over a label graph |
//! | `odis_score(text, model)` | scalar (async) | 3: score the corpus with an ONNX model |
//! | `token_count(text, tokenizer)` | scalar | budgets: a document's tokens (a tokenizer.json, or `approx`) |
//! | `odis_models()` | table | the session's models |
//! | `vendi_score(embedding [, q])` | aggregate | measure: the diversity of a selection |
//! | `kmeans_fit(embedding, k [, spec])`, `kmeans_assign(embedding, model)` | aggregate, scalar | embedding space: k-means clusters |
//! | `semantic_duplicates(table, id, embedding [, spec])` | table | embedding space: SemDeDup |
//! | `odis_version()` | scalar | installation check |

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::error::Result;
use datafusion::logical_expr::async_udf::AsyncScalarUDF;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, ScalarUDFImpl};

pub use score::model_registry::ModelRegistry;
pub use score::options::OdisOptions;
use datafusion::prelude::SessionContext;

pub mod blas;
pub mod client_table;
pub mod clustering;
pub mod dedup;
pub mod filter;
pub mod measure;
pub mod pca;
pub mod score;
pub mod select;
pub mod signals;
pub mod spec;
pub mod text;
pub mod literals;
pub mod odis_version;
pub mod vectors;

/// Every scalar function odis adds.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        odis_version::odis_version_udf(),
        pca::pca_project::pca_project_udf(),
        pca::pca_loadings::pca_loadings_udf(),
        filter::quality_filter::quality_filter_udf(),
        signals::quality_ratings::quality_ratings_udf(),
        signals::quality_ratings_vector::quality_ratings_vector_udf(),
        signals::quality_signals::quality_signals_udf(),
        pca::quantile_transform::quantile_transform_udf(),
        signals::quality_signals_vector::quality_signals_vector_udf(),
        dedup::text_fingerprint::text_fingerprint_udf(),
        dedup::text_minhash::text_minhash_udf(),
        dedup::minhash_bands::minhash_bands_udf(),
        dedup::minhash_band::minhash_band_udf(),
        dedup::minhash_pack::minhash_pack_udf(),
        clustering::kmeans_assign::kmeans_assign_udf(),
    ]
}

/// Every aggregate function odis adds.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        pca::pca_fit::pca_fit_udaf(),
        pca::quantile_fit::quantile_fit_udaf(),
        measure::vendi_score::vendi_score_udaf(),
        clustering::kmeans_fit::kmeans_fit_udaf(),
    ]
}

/// Every table function odis adds, with its documentation (DataFusion's
/// table function trait carries none).
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, &'static Documentation)> {
    vec![
        (select::top_k_per_dim::NAME, Arc::new(select::top_k_per_dim::TopKPerDimFunc), &*select::top_k_per_dim::DOCUMENTATION),
        (
            select::top_k_per_dim_report::NAME,
            Arc::new(select::top_k_per_dim_report::TopKPerDimReportFunc),
            &*select::top_k_per_dim_report::DOCUMENTATION,
        ),
        (select::top_k_average::NAME, Arc::new(select::top_k_average::TopKAverageFunc), &*select::top_k_average::DOCUMENTATION),
        (select::sample_by_average::NAME, Arc::new(select::sample_by_average::SampleByAverageFunc), &*select::sample_by_average::DOCUMENTATION),
        (select::sample_uniform::NAME, Arc::new(select::sample_uniform::SampleUniformFunc), &*select::sample_uniform::DOCUMENTATION),
        (select::ccs_select::NAME, Arc::new(select::ccs_select::CcsSelectFunc), &*select::ccs_select::DOCUMENTATION),
        (
            select::cluster_balanced_sample::NAME,
            Arc::new(select::cluster_balanced_sample::ClusterBalancedSampleFunc),
            &*select::cluster_balanced_sample::DOCUMENTATION,
        ),
        (select::dpp_select::NAME, Arc::new(select::dpp_select::DppSelectFunc), &*select::dpp_select::DOCUMENTATION),
        (select::mig_select::NAME, Arc::new(select::mig_select::MigSelectFunc), &*select::mig_select::DOCUMENTATION),
        (dedup::near_duplicates::NAME, Arc::new(dedup::near_duplicates::NearDuplicatesFunc), &*dedup::near_duplicates::DOCUMENTATION),
        (
            dedup::semantic_duplicates::NAME,
            Arc::new(dedup::semantic_duplicates::SemanticDuplicatesFunc),
            &*dedup::semantic_duplicates::DOCUMENTATION,
        ),
    ]
}

/// Whether `plan` must run in the client, never on a cluster's executors:
/// the nodes that drive passes of their own over a table (on the cluster,
/// when there is one) and do their work in between.
pub fn runs_in_client(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> bool {
    select::selection_plan::runs_in_client(plan) || plan.downcast_ref::<client_table::ClientExec>().is_some()
}

/// Adds every odis function and the `odis.*` settings to `ctx`; returns
/// the registry of the session's models (for `odis_score`).
pub fn register(ctx: &SessionContext) -> Result<Arc<ModelRegistry>> {
    let models = Arc::new(ModelRegistry::new());
    register_with_models(ctx, Arc::clone(&models))?;
    Ok(models)
}

/// [`register`], with a model registry of your own.
pub fn register_with_models(ctx: &SessionContext, models: Arc<ModelRegistry>) -> Result<()> {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    for (name, function, _) in table_functions() {
        ctx.register_udtf(name, function);
    }
    ctx.register_udf(text::token_count::token_count_udf(Arc::clone(&models)).as_ref().clone());
    let score = AsyncScalarUDF::new(Arc::new(score::odis_score::OdisScoreFunc::new(Arc::clone(&models))));
    ctx.register_udf(score.into_scalar_udf());
    ctx.register_udtf(score::odis_models::NAME, Arc::new(score::odis_models::OdisModelsFunc { models }));
    let state = ctx.state_ref();
    let mut state = state.write();
    if state.config().options().extensions.get::<OdisOptions>().is_none() {
        state.config_mut().options_mut().extensions.insert(OdisOptions::default());
    }
    Ok(())
}

/// The documentation of `odis_score` (it needs a registry to exist).
pub fn odis_score_documentation() -> &'static Documentation {
    static DOC: std::sync::LazyLock<Documentation> = std::sync::LazyLock::new(|| {
        score::odis_score::OdisScoreFunc::new(Arc::new(ModelRegistry::new()))
            .documentation()
            .cloned()
            .expect("odis_score is documented")
    });
    &DOC
}

/// The names of the functions odis adds, sorted, for help listings.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = scalar_functions()
        .iter()
        .map(|f| f.name().to_string())
        .chain(aggregate_functions().iter().map(|f| f.name().to_string()))
        .chain(table_functions().iter().map(|(name, _, _)| name.to_string()))
        .chain([odis_score_name(), score::odis_models::NAME.to_string(), text::token_count::NAME.to_string()])
        .collect();
    names.sort();
    names
}

fn odis_score_name() -> String {
    "odis_score".to_string()
}

/// Documentation of the table functions odis adds, by name.
pub fn table_function_documentation(name: &str) -> Option<&'static Documentation> {
    if name == score::odis_models::NAME {
        return Some(&score::odis_models::DOCUMENTATION);
    }
    table_functions().into_iter().find(|(n, _, _)| *n == name).map(|(_, _, doc)| doc)
}
