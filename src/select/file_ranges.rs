//! A table of a shard's files of which some are read in part: the shard's
//! listing table, with each file's scan narrowed to the shard's byte range
//! of it. A Parquet reader given a range reads the row groups whose first
//! page starts in it, a JSON Lines reader the lines that start in it; so
//! ranges that cover a file end to end read each row once.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::{FileRange, ListingTable};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// `inner`'s files, those in `ranges` (by their path in the object store)
/// read only in that byte range.
#[derive(Debug)]
pub(crate) struct FileRanges {
    pub inner: ListingTable,
    pub ranges: HashMap<String, [u64; 2]>,
}

impl FileRanges {
    /// `config`'s files with their ranges; an error if the listing did not
    /// find a file the ranges name (it would be read whole, or not at all).
    fn narrowed(&self, config: &FileScanConfig) -> Result<FileScanConfig> {
        let mut seen = 0;
        let groups = config
            .file_groups
            .iter()
            .map(|group| {
                let files = group.iter().map(|file| match self.ranges.get(file.object_meta.location.as_ref()) {
                    Some(&[start, end]) => {
                        seen += 1;
                        let mut file = file.clone();
                        file.range = Some(FileRange { start: start as i64, end: end as i64 });
                        // The whole file's row counts are not the range's.
                        file.statistics = None;
                        file
                    }
                    None => file.clone(),
                });
                FileGroup::new(files.collect())
            })
            .collect::<Vec<_>>();
        if seen != self.ranges.len() {
            return Err(DataFusionError::Internal(format!(
                "a shard's scan lists {seen} of the {} files it reads in part",
                self.ranges.len()
            )));
        }
        let unknown = Statistics::new_unknown(config.file_schema());
        Ok(FileScanConfigBuilder::from(config.clone()).with_file_groups(groups).with_statistics(unknown).build())
    }
}

#[async_trait]
impl TableProvider for FileRanges {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        let mut scans = 0;
        let plan = plan.transform_down(|node| {
            let Some(config) =
                node.downcast_ref::<DataSourceExec>().and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
            else {
                return Ok(Transformed::no(node));
            };
            scans += 1;
            Ok(Transformed::yes(DataSourceExec::from_data_source(self.narrowed(config)?) as Arc<dyn ExecutionPlan>))
        })?;
        if scans == 0 && !self.ranges.is_empty() {
            return Err(DataFusionError::Internal("a shard's plan has no file scan to read in part".into()));
        }
        Ok(plan.data)
    }
}
