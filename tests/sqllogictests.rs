//! Runs the `.slt` files under `tests/slt/` against an odis engine.
//!
//! `cargo test --test sqllogictests [FILTER]` runs the files whose name
//! contains FILTER; libtest's flags and their values (`--test-threads 1`)
//! are not filters, and a FILTER ending in `.slt` must name a file. Each
//! file gets a fresh engine; the closing line is libtest's.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use odis::{Engine, OdisError};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

struct OdisDb {
    engine: Engine,
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn cell(column: &dyn Array, row: usize) -> Result<String, OdisError> {
    if column.is_null(row) {
        return Ok("NULL".into());
    }
    let options = FormatOptions::default().with_null("NULL");
    let formatter = ArrayFormatter::try_new(column, &options).map_err(datafusion::error::DataFusionError::from)?;
    let text = formatter.value(row).to_string();
    Ok(if text.is_empty() { "(empty)".into() } else { text })
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, OdisError> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row))
                    .collect::<Result<_, _>>()?,
            );
        }
    }
    Ok(rows)
}

#[async_trait::async_trait]
impl AsyncDB for OdisDb {
    type Error = OdisError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let mut statements = self.engine.parse(sql)?;
        let Some(last) = statements.pop() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        for statement in statements {
            let _: Vec<RecordBatch> = self.engine.execute(statement).await?.try_collect().await?;
        }
        let stream = self.engine.execute(last).await?;
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema.fields().iter().map(|f| column_type(f.data_type())).collect(),
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "odis"
    }
}

fn slt_files(dir: &Path, filter: Option<&str>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    files
}

/// libtest's options that take a value as the next argument: their values
/// are not filters (`cargo test -- --test-threads 1` must not filter on "1").
const VALUE_FLAGS: [&str; 7] = ["--test-threads", "--skip", "--format", "--color", "--logfile", "-Z", "--shuffle-seed"];

/// The first positional argument, as libtest reads its filter.
fn filter_argument(args: &[String]) -> Option<String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if VALUE_FLAGS.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg.clone());
        }
    }
    None
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = filter_argument(&args);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let files = slt_files(&dir, filter.as_deref());
    // A filter naming an .slt file that is not there is a mistake; any other
    // filter that matches no file is a test name meant for other targets
    // (`cargo test NAME` passes it to every test binary), as in libtest.
    if let Some(f) = filter.as_deref().filter(|f| f.ends_with(".slt") && files.is_empty()) {
        eprintln!("no file in tests/slt matches '{f}'; the files are: {:?}", slt_files(&dir, None));
        std::process::exit(1);
    }
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(OdisDb {
                engine: Engine::builder().build()?,
            })
        });
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        match runner.run_file_async(file).await {
            Ok(()) => println!("ok      {name}"),
            Err(e) => {
                println!("FAILED  {name}\n{e}\n");
                failures.push(name);
            }
        }
    }
    println!("\n{} slt file(s), {} failed", files.len(), failures.len());
    let all = slt_files(&dir, None).len();
    println!(
        "test result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out",
        if failures.is_empty() { "ok" } else { "FAILED" },
        files.len() - failures.len(),
        failures.len(),
        all - files.len()
    );
    if !failures.is_empty() {
        eprintln!("failed: {}", failures.join(", "));
        std::process::exit(1);
    }
}
