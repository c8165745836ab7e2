//! The whole ODiS method in one call (`odis select`): runs `sql/select.sql`
//! over a corpus and gathers what a data engineer checks before trusting a
//! selection. The SQL is the same script people can read and run with
//! `odis -f`; this module fills in its variables, checks the arguments
//! first, times each stage and collects the report.
//!
//! The parts: [`options`] (what to do, typed: [`dedup`] modes, [`method`]s,
//! budgets, filters) and [`error`] (what went wrong, by option);
//! [`formats`] (Parquet or JSON Lines in and out);
//! [`script`] (the one place options become SQL: the script's variables);
//! [`steps`] (the script's named statements); [`query`] (reading results);
//! [`checks`] (arguments against the corpus and the output);
//! [`work_dir`] and [`shards`] (pass 1, resumable); [`publish`] (the
//! output, staged); [`annotations`] (a row per input document);
//! [`report`] (gathering) and [`render`] (text, HTML, JSON).

pub mod annotations;
pub mod checks;
pub mod dedup;
pub mod formats;
/// What can be wrong with a selection's options (kept with the library's
/// errors, below every step).
pub use crate::error::select as error;
pub mod method;
pub mod options;
pub mod publish;
pub mod query;
pub mod render;
pub mod report;
pub mod script;
mod file_ranges;
pub mod shards;
pub mod steps;
pub mod work_dir;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;

pub use odis_udfs::plan::budget::Budget;
use odis_udfs::select::selection_plan::DraftReuse;
pub use odis_udfs::select::selection::DimensionReport;
pub use options::{CostUnit, Dedup, FileFormat, InputFormat, Filter, Progress, Scaling, ScoreSource, SelectOptions, SelectionMethod, Tokenizer, default_work_dir, is_url};
pub use report::{DedupRemoval, Diversity, DuplicatePair, Example, FilterRemoval, SelectReport};
pub use steps::SELECT_SQL;

use crate::engine::{Bounds, Engine, StatementProgress};
use crate::error::select::{SelectOption, wrong};
use crate::error::{OdisError, Result};
use crate::script_vars::{escape_string as quote, substitute};
use checks::{check_corpus, check_options, check_raw_scores, duplicate_ids};
use publish::{publish, split_output};
use query::first_count;
use report::{Finished, finish_report, selected_size};
use shards::{SHARD_NAME, SHARD_TABLE, kept_scores_hint, open_work_dir, score_shards};
use steps::{Step, TRANSIENT_NAMES, drops, named_steps};

/// How often a long step says that it still runs.
const STILL_EVERY: Duration = Duration::from_secs(10);

/// Runs the ODiS pipeline of `sql/select.sql` with `options`, writing the
/// selection (and the report, if asked) atomically.
///
/// `progress` hears each stage as it starts and gets a row counter for each
/// pass over the corpus (`()` shows nothing; a closure hears the stages).
pub async fn select(engine: &Engine, options: &SelectOptions, progress: impl Progress) -> Result<SelectReport> {
    // The script reads text as plain Utf8 (see its first statement) and
    // pushes the examples' filter into the reader; the engine gets its own
    // settings back, and loses the script's transient
    // names, however the run ends.
    let view_types = engine.context().state().config().options().execution.parquet.schema_force_view_types;
    // The examples' step reads with filters pushed into the Parquet reader.
    let pushdown = engine.context().state().config().options().execution.parquet.pushdown_filters;
    // The script keeps near_duplicates' rounds in its work directory.
    let odis = engine.context().state().config().options().extensions.get::<odis_udfs::OdisOptions>().cloned().unwrap_or_default();
    // And sets the bound of the dedup functions' plans.
    let (work_dir, dedup_memory) = (odis.work_dir, odis.dedup_memory);
    // The selection and its report read the same work tables, which do not
    // change during the run: one draft serves both.
    let drafts = engine.context().state().config().get_extension::<DraftReuse>().map(DraftReuse::keep);
    let result = run(engine, options, &progress).await;
    drop(drafts);
    progress.pass_finished();
    let cleanup = async {
        engine.sql(&drops(&TRANSIENT_NAMES)).await?;
        engine.sql(&format!("SET datafusion.execution.parquet.schema_force_view_types = {view_types}")).await?;
        engine.sql(&format!("SET datafusion.execution.parquet.pushdown_filters = {pushdown}")).await?;
        engine.sql(&format!("SET odis.work_dir = '{}'", quote(&work_dir))).await?;
        engine.sql(&format!("SET odis.dedup_memory = '{}'", quote(&dedup_memory))).await
    };
    match (result, cleanup.await) {
        (Ok(report), Ok(_)) => Ok(report),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

async fn run(engine: &Engine, options: &SelectOptions, progress: &impl Progress) -> Result<SelectReport> {
    let started = Instant::now();
    check_options(engine, options).await?;
    let input = formats::input_format(engine, &options.input, options.input_format).await?;
    let format = input.format;
    let work_path = options.work_dir.clone().unwrap_or_else(|| default_work_dir(options));
    // An earlier run interrupted on this engine may have left the script's names.
    engine.sql(&drops(&[&TRANSIENT_NAMES[..], &["scaling", "pca"]].concat())).await?;
    let mut vars = script::script_vars(options, &work_path);
    vars.extend(script::input_vars(&input));
    // The fetch writes one sorted file in the work directory: it is checked
    // (one row per selected id) before it becomes the output, or is split
    // into the output files.
    let fetched = work_path.join("fetched.parquet");
    vars.insert("out".into(), quote(&fetched.display().to_string()));
    // Pass 1 runs its statement once per shard, over a table of the shard's
    // files, into the shard's file (see shards.rs).
    vars.insert("shard_table".into(), SHARD_TABLE.into());
    vars.insert("shard".into(), SHARD_NAME.into());
    let script = substitute(SELECT_SQL, &vars)?;
    let steps = named_steps(engine, &script)?;
    let statements = engine.parse(&script)?;
    let mut stages: Vec<(&'static str, Duration)> = Vec::new();
    let mut rows_in = 0u64;
    let mut counted: Option<u64> = None;
    let mut dims_len = 0usize;
    let mut rows_kept = 0u64;
    let mut report_rows = Vec::new();
    let mut filter_rows = Vec::new();
    let mut dedup_rows = Vec::new();
    let mut scaling_start = None;
    let mut work = None;
    let mut score_statement = None;
    for (statement, step) in statements.into_iter().zip(steps) {
        let stage_start = Instant::now();
        match step {
            Some(Step::Score) => progress.stage("filtering and scoring every document"),
            Some(Step::Scaling) => progress.stage("scaling and fitting the PCA"),
            Some(Step::Select) => progress.stage("selecting"),
            Some(Step::Fetch) => progress.stage("fetching the selected documents"),
            Some(Step::Report) => progress.stage("measuring overlap"),
            Some(Step::Examples) => progress.stage("reading the reports' examples"),
            Some(Step::FilterReport) => progress.stage("summarising the filter"),
            Some(Step::Duplicates) => progress.stage("finding duplicates"),
            Some(Step::DedupReport) => progress.stage("summarising dedup"),
            _ => {}
        }
        let batches: Vec<RecordBatch> = {
            use futures::TryStreamExt;
            match step {
                // Pass 1 runs shard by shard (below), resuming a killed run.
                Some(Step::Score) => {
                    score_statement = Some(statement);
                    Vec::new()
                }
                Some(Step::Fetch) => {
                    let done = Arc::new(AtomicU64::new(0));
                    let (selected, mean_bytes) = selected_size(engine).await?;
                    progress.pass("fetching", rows_in + selected, Arc::clone(&done));
                    // The sort into component and rank order holds the
                    // selected documents: bounded, it spills past its share
                    // instead of growing with the selection.
                    let watch = StatementProgress { rows_read: Arc::clone(&done), ..Default::default() };
                    let max_rows = engine.context().state().config().batch_size();
                    let bounds = options.fetch_bounds(mean_bytes, max_rows);
                    let fetch = async {
                        let stream = engine.execute_bounded(statement, &watch, bounds).await?;
                        Ok::<Vec<RecordBatch>, OdisError>(stream.try_collect().await?)
                    };
                    let batches = fetch.await.map_err(|e| fetch_out_of_memory(e, engine, bounds))?;
                    progress.pass_finished();
                    if first_count(&batches)? != selected {
                        return Err(duplicate_ids(engine, options, &fetched).await);
                    }
                    batches
                }
                // A corpus that cannot be read is named as the --input it is.
                Some(Step::Corpus) => {
                    let register = async {
                        let stream = engine.execute(statement).await?;
                        Ok::<Vec<RecordBatch>, OdisError>(stream.try_collect().await?)
                    };
                    let cannot_read = |why: String| {
                        let (input, why) = (options.input.clone(), formats::unreadable_hint(format, &why));
                        wrong(SelectOption::Input, move |o| format!("{} '{input}' cannot be read: {why}", o.input))
                    };
                    match crate::panic_guard::catch(register).await {
                        Ok(Ok(batches)) => batches,
                        Ok(Err(e)) if format.format == formats::InputFormat::Json => {
                            // The reader does not say which line; a scan of the
                            // lines it read the columns from does.
                            let files = formats::input_files(engine, &input.location).await.unwrap_or_default();
                            let lines = Some(formats::SCHEMA_LINES);
                            let at = formats::locate_json_error(engine, &files, format.compression, None, lines).await;
                            return Err(cannot_read(at.unwrap_or_else(|| e.to_string())));
                        }
                        Ok(Err(e)) => return Err(cannot_read(e.to_string())),
                        Err(panic) => return Err(cannot_read(format!("it is corrupt or not {} ({panic})", format.describe()))),
                    }
                }
                // Dedup tells its bands and rounds as they start.
                Some(Step::Duplicates) => {
                    let stages = engine.context().state().config().get_extension::<odis_udfs::plan::stages::Stages>();
                    let (said, mut heard) = tokio::sync::mpsc::unbounded_channel::<String>();
                    let _listening = stages.map(|s| s.listen(move |stage: &str| drop(said.send(stage.to_string()))));
                    // Bounded: its sorts spill rather than take the engine's
                    // whole limit.
                    let config = engine.context().state().config().clone();
                    let bounds = options.dedup_bounds(config.batch_size(), config.target_partitions());
                    let watch = StatementProgress::default();
                    let work = async { Ok::<Vec<RecordBatch>, OdisError>(engine.execute_bounded(statement, &watch, bounds).await?.try_collect().await?) };
                    // A step may run for minutes at scale: a log hears
                    // that it still runs.
                    let relay = async {
                        let (mut current, mut since) = (String::from("removing duplicates"), Instant::now());
                        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + STILL_EVERY, STILL_EVERY);
                        loop {
                            tokio::select! {
                                stage = heard.recv() => match stage {
                                    Some(stage) => {
                                        progress.stage(&stage);
                                        (current, since) = (stage, Instant::now());
                                    }
                                    None => break,
                                },
                                _ = beat.tick() => progress.still(&current, since.elapsed()),
                            }
                        }
                    };
                    tokio::pin!(work);
                    let done = tokio::select! {
                        done = &mut work => done,
                        () = relay => work.await,
                    };
                    done.map_err(|e| dedup_out_of_memory(e, engine, bounds))?
                }
                _ => engine.execute(statement).await?.try_collect().await?,
            }
        };
        match step {
            // The corpus is registered: check the arguments against it
            // before any costly step, then open (or reopen) the work
            // directory for its files.
            Some(Step::Corpus) => {
                counted = check_corpus(engine, options, format).await?;
                rows_in = counted.unwrap_or(0);
                work = Some(open_work_dir(engine, options, &work_path).await?);
            }
            Some(Step::Score) => {
                let work = work.as_ref().expect("opened with the corpus");
                let statement = score_statement.take().expect("the score step's statement");
                score_shards(engine, statement, work, rows_in, format, progress).await.map_err(|e| kept_scores_hint(e, work))?;
                if counted.is_none() {
                    // Counted from pass 1's output, which has a row per input row.
                    rows_in = shards::scored_rows(engine, work, options).await.map_err(|e| kept_scores_hint(e, work))?;
                }
                stages.push(("filter + raw scores (pass 1)", stage_start.elapsed()));
            }
            Some(Step::Kept) => {
                let work = work.as_ref().expect("opened with the corpus");
                (dims_len, rows_kept) = check_raw_scores(engine, options).await.map_err(|e| kept_scores_hint(e, work))?;
            }
            Some(Step::Scaling) => scaling_start = Some(stage_start),
            Some(Step::Projected) => stages.push(("scale + pca_fit + project", scaling_start.map_or(stage_start, |s| s).elapsed())),
            Some(Step::Select) => stages.push(("select", stage_start.elapsed())),
            Some(Step::Fetch) => {
                match options.out_files {
                    Some(files) => split_output(engine, options, &work_path, files).await?,
                    None => publish(engine, options, &fetched).await?,
                }
                stages.push(("fetch + write (pass 2)", stage_start.elapsed()));
            }
            Some(Step::Report) => {
                stages.push(("overlap report", stage_start.elapsed()));
                report_rows = batches;
            }
            Some(Step::Duplicates) => stages.push(("dedup", stage_start.elapsed())),
            Some(Step::DedupReport) => {
                stages.push(("dedup report", stage_start.elapsed()));
                dedup_rows = batches;
            }
            Some(Step::Examples) => stages.push(("reports' examples", stage_start.elapsed())),
            Some(Step::FilterReport) => {
                stages.push(("filter report", stage_start.elapsed()));
                filter_rows = batches;
            }
            _ => {}
        }
    }
    if let Some(dir) = &options.annotations {
        let stage_start = Instant::now();
        progress.stage("writing every document's annotations");
        let work = work.as_ref().expect("opened with the corpus");
        let written = annotations::write_annotations(engine, work, dir).await?;
        if written != rows_in {
            return Err(OdisError::Internal(format!("the annotations have {written} rows for the {rows_in} rows of the input")));
        }
        stages.push(("annotations", stage_start.elapsed()));
    }
    let report = finish_report(engine, options, progress, Finished {
        started, stages, rows_in, dims_len, rows_kept, report_rows, filter_rows, dedup_rows, work: work_path.clone(),
    })
    .await?;
    if let Some(path) = &options.report {
        crate::output::write_atomically(path, render::html(&report, options).as_bytes())?;
    }
    if let Some(path) = options.report_json_path() {
        let json = serde_json::to_string_pretty(&render::json(&report, options)).map_err(|e| OdisError::Internal(e.to_string()))?;
        crate::output::write_atomically(&path, json.as_bytes())?;
    }
    // The names over the work directory go before it does.
    engine.sql(&drops(&TRANSIENT_NAMES)).await?;
    if let Some(work) = work {
        if options.keep_work {
            drop(work);
        } else {
            work.remove()?;
        }
    }
    Ok(report)
}

/// A fetch that ran out of its memory names the option that sets it.
fn fetch_out_of_memory(e: OdisError, engine: &Engine, bounds: Bounds) -> OdisError {
    let why = match bound_ran_out(e, engine, bounds) {
        Ok(why) => why,
        Err(e) => return e,
    };
    let (mib, rows) = (bounds.memory >> 20, bounds.batch_rows);
    wrong(SelectOption::FetchMemory, move |o| {
        let f = &o.fetch_memory;
        format!(
            "the fetch cannot sort the selected documents in {f} {mib}MiB (batches of {rows} documents): {why}; \
             raise {f} (e.g. {f} 4G), up to the engine's memory limit"
        )
    })
}

/// A dedup step that ran out of its memory names the option that sets it.
fn dedup_out_of_memory(e: OdisError, engine: &Engine, bounds: Bounds) -> OdisError {
    let why = match bound_ran_out(e, engine, bounds) {
        Ok(why) => why,
        Err(e) => return e,
    };
    let mib = bounds.memory >> 20;
    wrong(SelectOption::DedupMemory, move |o| {
        let d = &o.dedup_memory;
        format!("the dedup step ran out of {d} {mib}MiB: {why}; raise {d} (e.g. {d} 1G), up to the engine's memory limit")
    })
}

/// Why a step ran out of its own bound (DataFusion's words), or `e` itself
/// where it failed otherwise or the engine's limit was the smaller: then it
/// is what ran out, and the error already says to raise it.
fn bound_ran_out(e: OdisError, engine: &Engine, bounds: Bounds) -> Result<String, OdisError> {
    use datafusion::execution::memory_pool::MemoryLimit as PoolLimit;
    let OdisError::DataFusion(cause) = &e else { return Err(e) };
    let root = cause.find_root();
    let engine_limit = match engine.context().runtime_env().memory_pool.memory_limit() {
        PoolLimit::Finite(limit) => limit,
        PoolLimit::Infinite | PoolLimit::Unknown => usize::MAX,
    };
    if !matches!(root, datafusion::error::DataFusionError::ResourcesExhausted(_)) || bounds.memory >= engine_limit {
        return Err(e);
    }
    // DataFusion's message lists the pool's consumers, then what failed.
    let message = crate::error::one_line(&root.to_string());
    Ok(message.rsplit("Error: ").next().unwrap_or(&message).to_string())
}
