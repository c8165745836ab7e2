//! The SQL functions of odis, for Apache DataFusion.
//!
//! One function per file, each with its signature, documentation (shown by
//! the CLI's `\h NAME`) and tests. [`register`] adds them all to a
//! `SessionContext`.
//!
//! | function | kind | ODiS step |
//! |---|---|---|
//! | `pca_fit(scores, k [, standardize])` | aggregate | 2: decorrelate the quality dimensions |
//! | `pca_project(scores, model)` | scalar | 2: project onto the components |
//! | `pca_loadings(model [, names])` | scalar | 2: read what each component means |
//! | `top_k_per_dim(table, id, scores, budget [, weights])` | table | 4: select per dimension under one budget |
//! | `top_k_per_dim_report(...)` | table | 4: quotas, thresholds, overlap |
//! | `top_k_average`, `sample_by_average`, `sample_uniform` | table | baselines |
//! | `odis_version()` | scalar | installation check |

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::error::Result;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF};
use datafusion::prelude::SessionContext;

pub mod blas;
pub mod id_keys;
pub mod literals;
pub mod odis_version;
pub mod pca;
pub mod pca_fit;
pub mod pca_loadings;
pub mod pca_project;
pub mod runtime;
pub mod sample_by_average;
pub mod sample_uniform;
pub mod selection;
pub mod selection_plan;
pub mod table_args;
pub mod top_k_average;
pub mod top_k_per_dim;
pub mod top_k_per_dim_report;
pub mod vectors;

/// Every scalar function odis adds.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        odis_version::odis_version_udf(),
        pca_project::pca_project_udf(),
        pca_loadings::pca_loadings_udf(),
    ]
}

/// Every aggregate function odis adds.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![pca_fit::pca_fit_udaf()]
}

/// Every table function odis adds, with its documentation (DataFusion's
/// table function trait carries none).
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, &'static Documentation)> {
    vec![
        (top_k_per_dim::NAME, Arc::new(top_k_per_dim::TopKPerDimFunc), &*top_k_per_dim::DOCUMENTATION),
        (
            top_k_per_dim_report::NAME,
            Arc::new(top_k_per_dim_report::TopKPerDimReportFunc),
            &*top_k_per_dim_report::DOCUMENTATION,
        ),
        (top_k_average::NAME, Arc::new(top_k_average::TopKAverageFunc), &*top_k_average::DOCUMENTATION),
        (sample_by_average::NAME, Arc::new(sample_by_average::SampleByAverageFunc), &*sample_by_average::DOCUMENTATION),
        (sample_uniform::NAME, Arc::new(sample_uniform::SampleUniformFunc), &*sample_uniform::DOCUMENTATION),
    ]
}

/// Adds every odis function to `ctx`.
pub fn register(ctx: &SessionContext) -> Result<()> {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    for (name, function, _) in table_functions() {
        ctx.register_udtf(name, function);
    }
    Ok(())
}

/// The names of the functions odis adds, sorted, for help listings.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = scalar_functions()
        .iter()
        .map(|f| f.name().to_string())
        .chain(aggregate_functions().iter().map(|f| f.name().to_string()))
        .chain(table_functions().iter().map(|(name, _, _)| name.to_string()))
        .collect();
    names.sort();
    names
}

/// Documentation of the table functions odis adds, by name.
pub fn table_function_documentation(name: &str) -> Option<&'static Documentation> {
    table_functions().into_iter().find(|(n, _, _)| *n == name).map(|(_, _, doc)| doc)
}
