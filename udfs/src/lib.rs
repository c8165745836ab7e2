//! The SQL functions of odis, for Apache DataFusion.
//!
//! One function per file, each with its signature, documentation (shown by
//! the CLI's `\h NAME`) and tests. [`register`] adds them all to a
//! `SessionContext`.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub mod blas;
pub mod odis_version;
pub mod runtime;

/// Every scalar function odis adds.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![odis_version::odis_version_udf()]
}

/// Adds every odis function to `ctx`.
pub fn register(ctx: &SessionContext) -> Result<()> {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    Ok(())
}

/// The names of the functions odis adds, for help listings.
pub fn function_names() -> Vec<String> {
    scalar_functions().iter().map(|f| f.name().to_string()).collect()
}

/// Documentation of the table functions odis adds (DataFusion's table
/// function trait carries none), by name.
pub fn table_function_documentation(_name: &str) -> Option<&'static datafusion::logical_expr::Documentation> {
    None
}
