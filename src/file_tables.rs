//! `SELECT … FROM 'path/or/glob/*.parquet'` and `FROM 's3://bucket/key'`.
//!
//! DataFusion's own URL-table factory swallows every error and reports "table
//! not found", which hides the real cause of a failed read (a missing file,
//! wrong credentials, an unreachable endpoint). This factory treats names
//! that look like paths or URLs as files and reports why they cannot be read.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::catalog::DynamicFileCatalog;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableConfigExt, ListingTableUrl};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_session::SessionStore;

use crate::error::one_line;

/// Makes `ctx` read files and URLs named as tables.
pub fn enable_file_tables(ctx: SessionContext) -> SessionContext {
    let factory = Arc::new(FileTableFactory::default());
    let catalog_list = Arc::new(DynamicFileCatalog::new(
        Arc::clone(ctx.state().catalog_list()),
        Arc::clone(&factory) as Arc<dyn UrlTableFactory>,
    ));
    let session_id = ctx.session_id();
    let ctx: SessionContext = SessionStateBuilder::new_from_existing(ctx.state())
        .with_session_id(session_id)
        .with_catalog_list(catalog_list)
        .build()
        .into();
    factory.session_store.with_state(ctx.state_weak_ref());
    ctx
}

/// Whether a table name is meant as a file location rather than the name
/// of a registered table: it has a URL scheme, a path separator, a glob,
/// or a file extension.
pub fn looks_like_location(name: &str) -> bool {
    if name.contains("://") || name.contains('/') || name.contains('*') {
        return true;
    }
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[derive(Debug, Default)]
struct FileTableFactory {
    session_store: SessionStore,
}

fn cannot_read(name: &str, why: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Plan(format!("cannot read '{name}': {}", one_line(&why.to_string())))
}

impl FileTableFactory {
    fn state(&self) -> Result<SessionState> {
        self.session_store
            .get_session()
            .upgrade()
            .and_then(|session| session.read().as_any().downcast_ref::<SessionState>().cloned())
            .ok_or_else(|| DataFusionError::Internal("the session of a file table is gone".into()))
    }
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_location(name) {
            return Ok(None);
        }
        let url = ListingTableUrl::parse(name).map_err(|e| cannot_read(name, e))?;
        if url.scheme() == "file" && !name.contains('*') && !std::path::Path::new(name.trim_start_matches("file://")).exists() {
            return Err(cannot_read(name, "no such file or directory"));
        }
        let state = self.state()?;
        let inferred = crate::panic_guard::catch(async {
            ListingTableConfig::new(url)
                .infer_options(&state)
                .await?
                .infer_partitions_from_path(&state)
                .await?
                .infer_schema(&state)
                .await
        });
        // A reader that panics on the file (a corrupt footer) is a bad file.
        let config = match inferred.await {
            Ok(config) => config.map_err(|e| cannot_read(name, e))?,
            Err(panic) => return Err(cannot_read(name, format!("it is corrupt or not Parquet ({panic})"))),
        };
        Ok(Some(Arc::new(ListingTable::try_new(config)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_location;

    #[test]
    fn paths_and_urls_are_locations_table_names_are_not() {
        for name in ["data.parquet", "dir/", "a/b.parquet", "data/*.parquet", "s3://bucket/key", "file:///x"] {
            assert!(looks_like_location(name), "{name}");
        }
        for name in ["docs", "my_table", ".hidden", "trailing."] {
            assert!(!looks_like_location(name), "{name}");
        }
    }
}
