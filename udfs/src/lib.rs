//! The SQL functions of odis, for Apache DataFusion.
//!
//! One function per file, each with its signature, documentation (shown by
//! the CLI's `\h NAME`, and generated into docs/functions.md) and tests,
//! grouped in one folder per family ([`docs::FAMILIES`]). [`register`] adds
//! them all to a `SessionContext`; [`functions`] lists them with their
//! documentation.
//!
//! | family | functions |
//! |---|---|
//! | ODiS Quality Filter Functions | `quality_filter` |
//! | ODiS Dedup Functions | `text_fingerprint`, `text_minhash`, `minhash_pack`, `minhash_bands`, `minhash_band`, `minhash_similarity`, `near_duplicates`, `semantic_duplicates` |
//! | ODiS Quality Rating Functions | `quality_ratings`, `quality_ratings_vector`, `quality_signals`, `quality_signals_vector` |
//! | ODiS PCA Functions | `quantile_fit`, `quantile_transform`, `pca_fit`, `pca_project`, `pca_loadings` |
//! | ODiS Scoring Functions | `odis_score`, `odis_models` |
//! | ODiS Selection Functions | `top_k_per_dim`, `top_k_per_dim_report`, `top_k_average`, `sample_by_average`, `sample_uniform`, `ccs_select`, `cluster_balanced_sample`, `dpp_select`, `mig_select` |
//! | ODiS Clustering Functions | `kmeans_fit`, `kmeans_assign` |
//! | ODiS Diversity Measures | `vendi_score` |
//! | ODiS Text Functions | `token_count` |
//! | ODiS System Functions | `odis_version` |
//!
//! The modules stand in layers, each importing only those below it
//! (ARCHITECTURE.md; `tests/architecture.rs` checks it): the shared pieces
//! ([`docs`], [`blas`], [`spec`], [`literals`], [`vectors`],
//! [`model_dirs`]), then [`plan`] (table arguments, ids, budgets, client and
//! remote execution), then [`text`], then the steps.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::async_udf::AsyncScalarUDF;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, ScalarUDFImpl};
use datafusion::prelude::SessionContext;

pub use docs::DocumentedTableFunction;
pub use plan::client::runs_in_client;
pub use score::model_registry::ModelRegistry;
pub use plan::settings::OdisOptions;

pub mod blas;
pub mod clustering;
pub mod dedup;
pub mod docs;
pub mod filter;
pub mod literals;
pub mod measure;
pub mod model_dirs;
pub mod odis_version;
pub mod pca;
pub mod plan;
pub mod score;
pub mod select;
pub mod signals;
pub mod spec;
pub mod text;
pub mod vectors;

/// Every scalar function odis adds, `odis_score` and `token_count` with the
/// session's models.
pub fn scalar_functions(models: &Arc<ModelRegistry>) -> Vec<Arc<ScalarUDF>> {
    vec![
        filter::quality_filter::quality_filter_udf(),
        dedup::text_fingerprint::text_fingerprint_udf(),
        dedup::text_minhash::text_minhash_udf(),
        dedup::minhash_pack::minhash_pack_udf(),
        dedup::minhash_bands::minhash_bands_udf(),
        dedup::minhash_band::minhash_band_udf(),
        dedup::minhash_similarity::minhash_similarity_udf(),
        signals::text_ratings::quality_ratings_udf(),
        signals::text_ratings::quality_ratings_vector_udf(),
        signals::text_signals::quality_signals_udf(),
        signals::text_signals::quality_signals_vector_udf(),
        pca::quantile_transform::quantile_transform_udf(),
        pca::pca_project::pca_project_udf(),
        pca::pca_loadings::pca_loadings_udf(),
        Arc::new(AsyncScalarUDF::new(Arc::new(score::odis_score::OdisScoreFunc::new(Arc::clone(models)))).into_scalar_udf()),
        clustering::kmeans_assign::kmeans_assign_udf(),
        text::token_count::token_count_udf(Arc::clone(models.names())),
        odis_version::odis_version_udf(),
    ]
}

/// Every aggregate function odis adds.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        pca::quantile_fit::quantile_fit_udaf(),
        pca::pca_fit::pca_fit_udaf(),
        clustering::kmeans_fit::kmeans_fit_udaf(),
        measure::vendi_score::vendi_score_udaf(),
    ]
}

/// Every table function odis adds, `odis_models` with the session's models.
pub fn table_functions(models: &Arc<ModelRegistry>) -> Vec<Arc<dyn DocumentedTableFunction>> {
    vec![
        Arc::new(dedup::near_duplicates::NearDuplicatesFunc),
        Arc::new(dedup::semantic_duplicates::SemanticDuplicatesFunc),
        Arc::new(score::odis_models::OdisModelsFunc { models: Arc::clone(models) }),
        Arc::new(select::top_k_per_dim::TopKPerDimFunc),
        Arc::new(select::top_k_per_dim_report::TopKPerDimReportFunc),
        Arc::new(select::top_k_average::TopKAverageFunc),
        Arc::new(select::sample_by_average::SampleByAverageFunc),
        Arc::new(select::sample_uniform::SampleUniformFunc),
        Arc::new(select::ccs_select::CcsSelectFunc),
        Arc::new(select::cluster_balanced_sample::ClusterBalancedSampleFunc),
        Arc::new(select::dpp_select::DppSelectFunc),
        Arc::new(select::mig_select::MigSelectFunc),
    ]
}

/// What kind of SQL function a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Aggregate,
    Table,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar function",
            Kind::Aggregate => "aggregate function",
            Kind::Table => "table function",
        }
    }
}

/// A function odis adds, with its documentation.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub kind: Kind,
    pub documentation: Documentation,
}

/// Every function odis adds, in registration order, with its
/// documentation (for `\h` and docs/functions.md).
pub fn functions() -> Vec<Function> {
    let models = Arc::new(ModelRegistry::new());
    let documented = |name: &str, doc: Option<&Documentation>| {
        doc.cloned().unwrap_or_else(|| panic!("{name} has no documentation"))
    };
    // DataFusion's wrapper of an async function does not pass on the
    // documentation of the function it wraps.
    let odis_score = score::odis_score::OdisScoreFunc::new(Arc::clone(&models));
    let scalars = scalar_functions(&models).into_iter().map(|f| Function {
        name: f.name().to_string(),
        kind: Kind::Scalar,
        documentation: match f.name() == odis_score.name() {
            true => documented(f.name(), odis_score.documentation()),
            false => documented(f.name(), f.documentation()),
        },
    });
    let aggregates = aggregate_functions().into_iter().map(|f| Function {
        name: f.name().to_string(),
        kind: Kind::Aggregate,
        documentation: documented(f.name(), f.documentation()),
    });
    let tables = table_functions(&models).into_iter().map(|f| Function {
        name: f.name().to_string(),
        kind: Kind::Table,
        documentation: f.documentation().clone(),
    });
    scalars.chain(aggregates).chain(tables).collect()
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
    for udf in scalar_functions(&models) {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    for function in table_functions(&models) {
        ctx.register_udtf(function.name(), function);
    }
    let state = ctx.state_ref();
    let mut state = state.write();
    if state.config().options().extensions.get::<OdisOptions>().is_none() {
        state.config_mut().options_mut().extensions.insert(OdisOptions::default());
    }
    if state.config().get_extension::<plan::stages::Stages>().is_none() {
        state.config_mut().set_extension(Arc::new(plan::stages::Stages::default()));
    }
    Ok(())
}

/// The names of the functions odis adds, sorted.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = functions().into_iter().map(|f| f.name).collect();
    names.sort();
    names
}
