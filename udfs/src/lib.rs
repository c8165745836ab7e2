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
//! | `odis_version()` | scalar | installation check |

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

pub mod blas;
pub mod literals;
pub mod odis_version;
pub mod pca;
pub mod pca_fit;
pub mod pca_loadings;
pub mod pca_project;
pub mod runtime;
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

/// Adds every odis function to `ctx`.
pub fn register(ctx: &SessionContext) -> Result<()> {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    Ok(())
}

/// The names of the functions odis adds, sorted, for help listings.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = scalar_functions()
        .iter()
        .map(|f| f.name().to_string())
        .chain(aggregate_functions().iter().map(|f| f.name().to_string()))
        .collect();
    names.sort();
    names
}

/// Documentation of the table functions odis adds (DataFusion's table
/// function trait carries none), by name.
pub fn table_function_documentation(_name: &str) -> Option<&'static datafusion::logical_expr::Documentation> {
    None
}
