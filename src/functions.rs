//! What a DataFusion session needs to run odis's SQL: the functions of
//! `odis-udfs` with their `odis.*` settings, and the `aws.*` statement
//! options. Engines and a cluster's executors register the same.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use odis_udfs::ModelRegistry;

use crate::error::Result;
use crate::stores::AwsOptions;

/// Adds the odis SQL functions, the `odis.*` settings and the `aws.*`
/// statement options to a `SessionContext` you already have; returns the
/// registry of models `odis_score` uses in that context.
///
/// S3 buckets are then reachable once you register their stores (see
/// [`crate::stores::s3_store`]); an [`crate::Engine`] creates them on demand.
pub fn register_functions(ctx: &SessionContext) -> Result<Arc<ModelRegistry>> {
    let models = odis_udfs::register(ctx)?;
    ctx.register_table_options_extension(AwsOptions::default());
    Ok(models)
}

