//! Pass 1 shard by shard, over the work directory that keeps each finished
//! shard's raw scores so that a killed run resumes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::sql::parser::Statement;

use crate::engine::{Engine, StatementProgress};
use crate::error::{OdisError, Result};
use crate::script_vars::escape_string as quote;
use crate::error::select::SelectOption;
use crate::select::checks::check_rows;
use crate::select::formats::{FileFormat, InputFormat, locate_json_error};
use crate::select::options::{Progress, ScoreSource, SelectOptions};
use crate::select::query::{count, i64s};
use crate::select::file_ranges::FileRanges;
use crate::select::work_dir::{self, InputFile, ScoringIdentity, Sharding, WorkDir};

/// The table pass 1's statement reads: the current shard's files.
pub(crate) const SHARD_TABLE: &str = "odis_shard";

/// Where pass 1's statement writes, before a shard's own name replaces it
/// (a name no path of the script holds otherwise).
pub(crate) const SHARD_NAME: &str = "odis-shard-output";

/// The corpus's files, listed as its table lists them, in path order.
async fn input_files(engine: &Engine, listing: &ListingTable) -> Result<Vec<InputFile>> {
    use futures::TryStreamExt;
    let state = engine.context().state();
    let mut files = Vec::new();
    for url in listing.table_paths() {
        let store = state.runtime_env().object_store(url.object_store())?;
        let store_url = url.object_store();
        let mut listed = url.list_all_files(&state, store.as_ref(), &listing.options().file_extension).await?;
        while let Some(meta) = listed.try_next().await? {
            files.push(InputFile::from_meta(store_url.as_str(), &meta));
        }
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    files.dedup_by(|a, b| a.location == b.location);
    Ok(files)
}

fn corpus_listing(provider: &Arc<dyn datafusion::catalog::TableProvider>) -> Result<&ListingTable> {
    provider
        .as_ref()
        .downcast_ref::<ListingTable>()
        .ok_or_else(|| OdisError::InvalidArgument("the corpus is not a table of files; odis select reads Parquet or JSON Lines files".into()))
}

/// Opens the work directory for this corpus and scorer.
pub(crate) async fn open_work_dir(engine: &Engine, options: &SelectOptions, path: &Path) -> Result<WorkDir> {
    let provider = engine.context().table_provider("corpus").await?;
    let listing = corpus_listing(&provider)?;
    let files = input_files(engine, listing).await?;
    // A compressed file is read from its start.
    let compressed = listing.options().format.compression_type().is_some_and(|c| c.is_compressed());
    let sharding = Sharding { bytes: options.shard_bytes, split_files: !compressed };
    let vars = crate::select::script::script_vars(options, path);
    let identity = ScoringIdentity {
        odis_version: env!("CARGO_PKG_VERSION").to_string(),
        id_column: options.id_column.clone(),
        text_column: options.text_column.clone(),
        scores: vars["scores"].clone(),
        model_files: match &options.scores {
            ScoreSource::Model(dir) => work_dir::model_fingerprint(dir),
            _ => Vec::new(),
        },
        filter: options.filter.text().to_string(),
        dedup: vars["dedup_key"].clone(),
        embedding: vars["embedding"].clone(),
        embed_files: options.embed.as_deref().map(work_dir::model_fingerprint).unwrap_or_default(),
        tokens: vars["tokens"].clone(),
        tokenizer_files: options.token_counter().and_then(|t| t.file()).map(|f| work_dir::file_fingerprint(&f)).unwrap_or_default(),
    };
    WorkDir::open(path, &options.input, identity, files, sharding, options.work_dir.is_none())
}

/// Pass 1, shard by shard: every shard the work directory lacks is scored
/// by the script's scoring statement over a table of just its files.
pub(crate) async fn score_shards(
    engine: &Engine,
    statement: Statement,
    work: &WorkDir,
    rows_in: u64,
    format: FileFormat,
    progress: &impl Progress,
) -> Result<()> {
    use futures::TryStreamExt;
    let provider = engine.context().table_provider("corpus").await?;
    let listing = corpus_listing(&provider)?;
    // The files' own columns (a hive-partitioned corpus's partition values
    // come from its directory names, which a table of single files lacks).
    let mut shard_options = listing.options().clone();
    let partitions: Vec<String> = shard_options.table_partition_cols.drain(..).map(|(name, _)| name).collect();
    let table_schema = provider.schema();
    let file_schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
        table_schema.fields().iter().filter(|f| !partitions.contains(f.name())).cloned().collect::<Vec<_>>(),
    ));
    let finished = (0..work.shards()).filter(|&i| work.is_done(i)).count();
    let done_rows = if finished > 0 {
        let glob = quote(&work.shards_dir().join("part-*.parquet").display().to_string());
        count(engine, &format!("SELECT count(*) FROM '{glob}'")).await?
    } else {
        0
    };
    let done = Arc::new(AtomicU64::new(done_rows));
    progress.pass("scoring", rows_in, Arc::clone(&done));
    for shard in (0..work.shards()).filter(|&i| !work.is_done(i)) {
        let pieces = work.shard_files(shard);
        let urls = pieces.iter().map(|(f, _)| ListingTableUrl::parse(&f.location)).collect::<datafusion::error::Result<Vec<_>>>()?;
        let ranges = urls
            .iter()
            .zip(&pieces)
            .filter_map(|(url, (_, range))| range.map(|r| (url.prefix().to_string(), r)))
            .collect::<std::collections::HashMap<_, _>>();
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(shard_options.clone())
            .with_schema(Arc::clone(&file_schema));
        let table = ListingTable::try_new(config)?;
        let table: Arc<dyn datafusion::catalog::TableProvider> =
            if ranges.is_empty() { Arc::new(table) } else { Arc::new(FileRanges { inner: table, ranges }) };
        engine.context().deregister_table(SHARD_TABLE)?;
        engine.context().register_table(SHARD_TABLE, table)?;
        let statement = for_shard(&statement, &format!("part-{shard:05}"))?;
        let scored = async {
            let _: Vec<RecordBatch> = engine
                .execute_watched(statement, &StatementProgress { rows_read: Arc::clone(&done), ..Default::default() })
                .await?
                .try_collect()
                .await?;
            Ok::<(), OdisError>(())
        };
        if let Err(e) = scored.await {
            return Err(match format.format {
                // The JSON reader names neither the file nor the line.
                InputFormat::Json => json_shard_error(engine, e, work, shard, format, &file_schema).await,
                InputFormat::Parquet => e,
            });
        }
    }
    engine.context().deregister_table(SHARD_TABLE)?;
    progress.pass_finished();
    Ok(())
}

/// A read of a JSON shard that failed, with the file and line at fault
/// when a scan of the shard's files finds them.
async fn json_shard_error(
    engine: &Engine,
    e: OdisError,
    work: &WorkDir,
    shard: usize,
    format: FileFormat,
    schema: &datafusion::arrow::datatypes::Schema,
) -> OdisError {
    // Only a failed read is the input's fault; a scorer's error is not.
    let reading = matches!(&e, OdisError::DataFusion(cause) if {
        let root = cause.find_root().to_string();
        ["Json error", "decoding", "compress", "Io error"].iter().any(|what| root.contains(what))
    });
    if !reading {
        return e;
    }
    let files: Vec<String> = work.shard_files(shard).iter().map(|(f, _)| f.location.clone()).collect();
    let why = match locate_json_error(engine, &files, format.compression, Some(schema), None).await {
        Some(at) => at,
        None => {
            let files: Vec<&str> = files.iter().map(|f| crate::select::formats::shown(f)).collect();
            format!("{} (in one of {})", crate::error::one_line(&e.to_string()), files.join(", "))
        }
    };
    crate::error::select::wrong(SelectOption::Input, move |o| {
        format!("{} cannot be read: {why}; fix the line (or remove the file) and run again", o.input)
    })
}

/// The rows pass 1 scored (one per input row), and a check that none has
/// a NULL id: what a corpus without statistics is checked by.
pub(crate) async fn scored_rows(engine: &Engine, work: &WorkDir, options: &SelectOptions) -> Result<u64> {
    let glob = quote(&work.shards_dir().join("part-*.parquet").display().to_string());
    let batches = engine.sql(&format!("SELECT count(*), count(*) FILTER (WHERE odis_id IS NULL) FROM '{glob}'")).await?;
    let (rows, nulls) = match batches.iter().find(|b| b.num_rows() > 0) {
        Some(b) => (i64s(b.column(0))?[0] as u64, i64s(b.column(1))?[0] as u64),
        None => (0, 0),
    };
    check_rows(options, rows, nulls)
}

/// Pass 1's statement writing into the shard `name`'s file.
fn for_shard(statement: &Statement, name: &str) -> Result<Statement> {
    let mut statement = statement.clone();
    match &mut statement {
        Statement::CopyTo(copy) if copy.target.contains(SHARD_NAME) => {
            copy.target = copy.target.replace(SHARD_NAME, name);
            Ok(statement)
        }
        _ => Err(OdisError::InvalidArgument(format!(
            "sql/select.sql: the `-- step: score` statement must be a COPY ... TO '.../${{shard}}.parquet' (the shard's file)"
        ))),
    }
}

/// An error after some shards were scored says that they are kept.
pub(crate) fn kept_scores_hint(e: OdisError, work: &WorkDir) -> OdisError {
    let done = (0..work.shards()).filter(|&i| work.is_done(i)).count();
    if done == 0 {
        return e;
    }
    let kept = format!(
        " (the raw scores of {done} of {} shards are kept in {}: the same command, fixed, reuses them)",
        work.shards(),
        work.path().display()
    );
    match e {
        OdisError::Select(e) => OdisError::Select(e.followed_by(kept)),
        e => OdisError::InvalidArgument(format!("{e}{kept}")),
    }
}
