//! Where a table function keeps the tables it writes between its plans
//! (near_duplicates: the pairs of each band, the labels of each round): a
//! directory under `odis.work_dir`, so that a query killed midway resumes
//! from the tables it finished, or a temporary one, removed with the area.
//!
//! Each table is written under a staging name and renamed when complete:
//! a table that exists is whole. An area's directory is named after what
//! the call computes (its identity: function, table, columns, spec, row
//! count), and a directory that holds another identity's tables is cleared.

use std::path::{Path, PathBuf};

use datafusion::config::TableParquetOptions;
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::SessionConfig;

use crate::plan::settings::OdisOptions;

/// Rows per row group of the tables written.
const ROW_GROUP: usize = 1 << 16;

/// The file in an area that records what it holds.
const IDENTITY: &str = "identity.txt";

/// A table function's directory of intermediate tables.
#[derive(Debug)]
pub struct WorkArea {
    dir: PathBuf,
    /// Held while the area lives when `odis.work_dir` is empty.
    _temporary: Option<tempfile::TempDir>,
}

fn io_error(what: String, e: std::io::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{what}: {e}"))
}

/// FNV-1a of `text`: stable across runs and odis versions.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

impl WorkArea {
    /// The area of `function` for the call `identity`: under the session's
    /// `odis.work_dir` (kept, and reused by a rerun of the same call), or a
    /// temporary directory removed when the area is dropped.
    pub fn open(config: &SessionConfig, function: &str, identity: &str) -> Result<Self> {
        let root = config.options().extensions.get::<OdisOptions>().map(|o| o.work_dir.clone()).unwrap_or_default();
        if root.is_empty() {
            let temporary = tempfile::Builder::new()
                .prefix(&format!("odis-{function}-"))
                .tempdir()
                .map_err(|e| io_error(format!("{function}: cannot create a temporary directory (set odis.work_dir to choose one)"), e))?;
            return Ok(WorkArea { dir: temporary.path().to_path_buf(), _temporary: Some(temporary) });
        }
        let dir = Path::new(&root).join(format!("{function}-{:016x}", fnv(identity)));
        let recorded = std::fs::read_to_string(dir.join(IDENTITY)).ok();
        if recorded.as_deref() != Some(identity) && dir.exists() {
            // A name collision of two calls, or an interrupted first write:
            // nothing there can be trusted.
            std::fs::remove_dir_all(&dir).map_err(|e| io_error(format!("{function}: cannot clear '{}'", dir.display()), e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| {
            io_error(format!("{function}: cannot create '{}' (odis.work_dir '{root}'); set odis.work_dir to a directory you may write", dir.display()), e)
        })?;
        if recorded.as_deref() != Some(identity) {
            std::fs::write(dir.join(IDENTITY), identity).map_err(|e| io_error(format!("{function}: cannot write in '{}'", dir.display()), e))?;
        }
        Ok(WorkArea { dir, _temporary: None })
    }

    /// The path of the table `name` (written or not).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.parquet"))
    }

    /// Whether the table `name` was written whole.
    pub fn has(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    /// Writes `rows` as the table `name`: under a staging name, renamed
    /// when complete.
    pub async fn write(&self, rows: DataFrame, name: &str) -> Result<()> {
        let staging = self.dir.join(format!("{name}.partial.parquet"));
        let options = DataFrameWriteOptions::new().with_single_file_output(true);
        // The writer holds a row group of rows until it is full: at 64k rows
        // (about 7 MB of signatures) rather than the default million.
        let mut parquet = TableParquetOptions::default();
        parquet.global.max_row_group_size = ROW_GROUP;
        rows.write_parquet(&staging.display().to_string(), options, Some(parquet)).await?;
        std::fs::rename(&staging, self.path(name)).map_err(|e| io_error(format!("cannot move '{}' into place", staging.display()), e))
    }

    /// Writes the batches of `rows` as the table `name`, as they come:
    /// under a staging name, renamed when complete.
    pub async fn write_stream(&self, mut rows: SendableRecordBatchStream, name: &str) -> Result<()> {
        use futures::StreamExt;
        let staging = self.dir.join(format!("{name}.partial.parquet"));
        let file = std::fs::File::create(&staging).map_err(|e| io_error(format!("cannot create '{}'", staging.display()), e))?;
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(ROW_GROUP)).build();
        let mut writer = ArrowWriter::try_new(file, rows.schema(), Some(properties))?;
        while let Some(batch) = rows.next().await {
            writer.write(&batch?)?;
        }
        writer.close()?;
        std::fs::rename(&staging, self.path(name)).map_err(|e| io_error(format!("cannot move '{}' into place", staging.display()), e))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_at(dir: &Path) -> SessionConfig {
        let mut options = OdisOptions::default();
        options.work_dir = dir.display().to_string();
        SessionConfig::new().with_option_extension(options)
    }

    #[tokio::test]
    async fn an_area_keeps_its_tables_for_the_same_call_and_clears_them_for_another() {
        let root = tempfile::tempdir().unwrap();
        let ctx = datafusion::prelude::SessionContext::new();
        let area = WorkArea::open(&config_at(root.path()), "f", "call one").unwrap();
        area.write(ctx.sql("SELECT 1 AS x").await.unwrap(), "t").await.unwrap();
        assert!(area.has("t") && !area.has("u"));
        let again = WorkArea::open(&config_at(root.path()), "f", "call one").unwrap();
        assert!(again.has("t"), "the same call finds its table");
        // Another call that lands on the same directory finds it cleared.
        std::fs::write(area.dir().join(IDENTITY), "call two").unwrap();
        let other = WorkArea::open(&config_at(root.path()), "f", "call one").unwrap();
        assert!(!other.has("t"));
        // Without odis.work_dir: a temporary directory, gone with the area.
        let temporary = WorkArea::open(&SessionConfig::new(), "f", "x").unwrap();
        let dir = temporary.dir().to_path_buf();
        assert!(dir.is_dir());
        drop(temporary);
        assert!(!dir.exists());
    }
}
