//! The arguments checked against what they name (the corpus's columns, the
//! output location, the raw scores), each before the step that would fail
//! late or wrongly on them.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::engine::Engine;
use crate::error::{OdisError, Result};
use crate::script_vars::{escape_ident as ident, escape_string as quote};
use crate::error::select::{OptionNames, SelectOption, wrong};
use crate::select::formats::{FileFormat, InputFormat};
use crate::select::options::{Budget, CostUnit, ScoreSource, SelectOptions, Tokenizer, is_url};
use crate::select::query::{count, rows, text_at};

/// What can be checked before the corpus is opened: counts, the filter's
/// spec, the models (loaded), the output location.
pub(crate) async fn check_options(engine: &Engine, options: &SelectOptions) -> Result<()> {
    if options.components == 0 || matches!(options.scores, ScoreSource::Ratings) {
        check_components(options, odis_udfs::signals::text_ratings::RATINGS.len())?;
    }
    if options.out_files == Some(0) {
        return Err(wrong(SelectOption::OutFiles, |o| {
            format!("{} must be at least 1 (the number of Parquet files to write)", o.out_files)
        }));
    }
    // What reads embeddings needs a model to make them in pass 1.
    if options.embed.is_none() {
        if options.dedup.needs_embeddings() {
            let mode = options.dedup.name();
            return Err(wrong(SelectOption::Dedup, move |o| {
                format!("{} {mode} compares document embeddings; pass {} DIR (an encoder model directory) too", o.dedup, o.embed)
            }));
        }
        if options.method.needs_embeddings() {
            let method = options.method.name();
            return Err(wrong(SelectOption::Method, move |o| {
                format!("{} {method} works on document embeddings; pass {} DIR (an encoder model directory) too", o.method, o.embed)
            }));
        }
    }
    if options.clusters == Some(0) {
        return Err(wrong(SelectOption::Clusters, |o| format!("{} must be at least 1 (k-means clusters)", o.clusters)));
    }
    check_token_options(options)?;
    let load = |option: SelectOption, dir: &Path| {
        engine.models().load(dir).map(|_| ()).map_err(|e| {
            let (dir, e) = (dir.display().to_string(), OdisError::from(e).to_string());
            wrong(option, move |o| format!("{} {dir}: {e}", o.get(option)))
        })
    };
    if let Some(dir) = &options.diversity {
        load(SelectOption::Diversity, dir)?;
    }
    if let Some(dir) = &options.embed {
        load(SelectOption::Embed, dir)?;
    }
    if let ScoreSource::Model(dir) = &options.scores {
        // Load (and check) the model before reading any data.
        load(SelectOption::Model, dir)?;
    }
    if let Err(why) = FileFormat::of_output(&options.out) {
        return Err(wrong(SelectOption::Out, move |o| format!("{} {why}", o.out)));
    }
    if let Some(dir) = &options.annotations {
        check_annotations(engine, dir).await?;
    }
    let out = options.out.display().to_string();
    if is_url(&out) {
        // The output goes to an object store, written as objects that
        // appear only when complete. Check the bucket now, not after hours
        // of scoring; the work directory stays on this machine.
        check_output_location(engine, &out, options.out_files.is_some()).await
    } else {
        local_out_dir(options).map(|_| ())
    }
}

/// `--annotations DIR`: a local directory that exists or can be made
/// (its parent exists), or an object store's prefix that answers.
async fn check_annotations(engine: &Engine, dir: &str) -> Result<()> {
    if is_url(dir) {
        let url = datafusion::datasource::listing::ListingTableUrl::parse(format!("{}/", dir.trim_end_matches('/')))?;
        let store = engine.context().runtime_env().object_store(url.object_store())?;
        let prefix: object_store::path::Path = url.prefix().parts().collect();
        return match store.list_with_delimiter(Some(&prefix)).await {
            Ok(listed) => {
                let names: Vec<String> = listed.objects.iter().filter_map(|m| m.location.filename().map(str::to_string)).collect();
                let dirs = listed.common_prefixes.len();
                not_annotations(dir, names.iter().map(String::as_str), dirs)
            }
            Err(e) => {
                let (dir, why) = (dir.to_string(), crate::error::one_line(&e.to_string()));
                Err(wrong(SelectOption::Annotations, move |o| {
                    format!("{} {dir}: cannot write there: {why}; check that the bucket exists and the credentials may write to it", o.annotations)
                }))
            }
        };
    }
    let path = Path::new(dir);
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if path.is_file() || !parent.is_dir() {
        let why = if path.is_file() { "is a file" } else { "is in a directory that does not exist" };
        let dir = dir.to_string();
        return Err(wrong(SelectOption::Annotations, move |o| {
            format!("{} {dir} {why}; name a directory to write the annotations into (created if missing)", o.annotations)
        }));
    }
    let Ok(entries) = std::fs::read_dir(path) else { return Ok(()) };
    let (mut names, mut dirs) = (Vec::new(), 0);
    for entry in entries.flatten() {
        match entry.file_type().map(|t| t.is_dir()) {
            Ok(true) => dirs += 1,
            _ => names.push(entry.file_name().to_string_lossy().into_owned()),
        }
    }
    not_annotations(dir, names.iter().map(String::as_str), dirs)
}

/// The annotations replace what their directory holds: a directory that
/// holds anything else (the corpus, other outputs) is refused.
fn not_annotations<'a>(dir: &str, mut files: impl Iterator<Item = &'a str>, dirs: usize) -> Result<()> {
    let is_part = |name: &str| name.strip_prefix("part-").and_then(|n| n.strip_suffix(".parquet")).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    let other = files.find(|name| !is_part(name) && !name.starts_with(".odis-tmp-")).map(str::to_string);
    if other.is_none() && dirs == 0 {
        return Ok(());
    }
    let (dir, what) = (dir.to_string(), other.map_or_else(|| "a subdirectory".to_string(), |name| format!("'{name}'")));
    Err(wrong(SelectOption::Annotations, move |o| {
        format!(
            "{} {dir} holds {what}, which is not an annotation file; the annotations replace their directory's files: \
             name a new directory, or one that holds only earlier annotations",
            o.annotations
        )
    }))
}

/// A token or byte budget: a method that can spend it, and a tokenizer
/// that exists.
fn check_token_options(options: &SelectOptions) -> Result<()> {
    let budget = options.budget;
    if budget.unit().is_some() && !options.method.takes_cost_budgets() {
        let method = options.method.name();
        return Err(wrong(SelectOption::Budget, move |o| {
            format!(
                "{} {budget} is an amount of text; {} {method} takes a row budget (a count or a percentage), \
                 and only {} odis and random spend tokens or bytes",
                o.budget, o.method, o.method
            )
        }));
    }
    match options.token_counter() {
        None if budget.unit() == Some(CostUnit::Tokens) => Err(wrong(SelectOption::Tokenizer, move |o| {
            format!(
                "{} {budget} counts tokens: pass {} DIR (a model directory or tokenizer.json file) or {} approx \
                 (UTF-8 bytes / 4, an estimate); with {} DIR its tokenizer is the default",
                o.budget, o.tokenizer, o.tokenizer, o.model
            )
        })),
        Some(Tokenizer::File(path)) => {
            let file = Tokenizer::file_at(&path);
            if file.is_file() {
                return odis_udfs::text::token_count::load_tokenizer(&file).map(|_| ()).map_err(|e| {
                    let e = e.to_string();
                    wrong(SelectOption::Tokenizer, move |o| format!("{} {}: {e}", o.tokenizer, file.display()))
                });
            }
            let shown = path.display().to_string();
            let why = if path.is_dir() { "has no tokenizer.json" } else { "does not exist" };
            Err(wrong(SelectOption::Tokenizer, move |o| {
                format!(
                    "{} {shown} {why}; pass a model directory holding tokenizer.json, the file itself, or {} approx \
                     (UTF-8 bytes / 4, an estimate)",
                    o.tokenizer, o.tokenizer
                )
            }))
        }
        _ => Ok(()),
    }
}

/// The directory a local output is written into, which must exist.
pub(crate) fn local_out_dir(options: &SelectOptions) -> Result<PathBuf> {
    let out_dir = match options.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        let (out, dir) = (options.out.display().to_string(), out_dir.display().to_string());
        return Err(wrong(SelectOption::Out, move |o| format!("{} {out}: the directory '{dir}' does not exist; create it first", o.out)));
    }
    let out = options.out.display().to_string();
    match options.out_files {
        None if options.out.is_dir() => {
            Err(wrong(SelectOption::Out, move |o| format!("{} {out} is a directory; name the Parquet file to write", o.out)))
        }
        Some(_) if options.out.is_file() => Err(wrong(SelectOption::Out, move |o| {
            format!("{} {out} is a file; with {}, name the directory to write the files into", o.out, o.out_files)
        })),
        _ => Ok(out_dir),
    }
}

/// The object store of `out` answers for its bucket: listing the parent
/// prefix fails now for a missing bucket or wrong credentials.
async fn check_output_location(engine: &Engine, out: &str, directory: bool) -> Result<()> {
    let url = datafusion::datasource::listing::ListingTableUrl::parse(out)?;
    let out = out.to_string();
    if !directory && url.file_extension().is_none() {
        return Err(wrong(SelectOption::Out, move |o| {
            format!("{} {out}: name the Parquet object to write, e.g. s3://bucket/selected.parquet", o.out)
        }));
    }
    let store = engine.context().runtime_env().object_store(url.object_store())?;
    let parts: Vec<_> = url.prefix().parts().collect();
    let parent: object_store::path::Path = parts[..parts.len().saturating_sub(1)].iter().cloned().collect();
    let listing = store.list_with_delimiter(Some(&parent)).await;
    match listing {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = crate::error::one_line(&e.to_string());
            Err(wrong(SelectOption::Out, move |o| {
                format!(
                    "{} {out}: cannot write there: {why}; check that the bucket exists and the credentials may write to it",
                    o.out
                )
            }))
        }
    }
}

/// The column `name` of the table read from `input`, or an error naming the
/// option that asked for it and the columns there are.
fn input_column<'a>(schema: &'a Schema, input: &str, option: SelectOption, name: &str) -> Result<&'a Field> {
    schema.field_with_name(name).map_err(|_| {
        let columns = schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ");
        let (input, name) = (input.to_string(), name.to_string());
        let flag = move |o: &OptionNames| match option {
            SelectOption::TextColumn => o.text_column.clone(),
            SelectOption::IdColumn => o.id_column.clone(),
            _ => o.scores.clone(),
        };
        wrong(option, move |o| format!("{} '{name}' is not a column of {input}; its columns are: {columns}", flag(o)))
    })
}

/// The corpus has the id and text columns the options name, and (read from
/// Parquet statistics) enough rows for the budget; returns its row count,
/// or `None` for a format that has none to read it from.
pub(crate) async fn check_corpus(engine: &Engine, options: &SelectOptions, format: FileFormat) -> Result<Option<u64>> {
    let table = engine.context().table("corpus").await?;
    let schema = table.schema().as_arrow().clone();
    let find = |option: SelectOption, name: &str| input_column(&schema, &options.input, option, name);
    let text = find(SelectOption::TextColumn, &options.text_column)?;
    if !matches!(text.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        let (column, held) = (options.text_column.clone(), text.data_type().to_string());
        return Err(wrong(SelectOption::TextColumn, move |o| {
            format!("{} '{column}' holds {held}, not text; name the column with the documents' text", o.text_column)
        }));
    }
    find(SelectOption::IdColumn, &options.id_column)?;
    if let ScoreSource::Column(column) = &options.scores {
        let field = find(SelectOption::Scores, column)?;
        if !matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)) {
            let (column, held) = (column.clone(), field.data_type().to_string());
            return Err(wrong(SelectOption::Scores, move |o| {
                format!(
                    "{} '{column}' holds {held}, not a list of ratings; build one, e.g. make_array(a, b, c), or pass \
                     no {} to use quality_ratings",
                    o.scores, o.scores
                )
            }));
        }
        // The vectors' length, from the type or from the first row, so that
        // too many --components is said before the costly pass.
        let d = match field.data_type() {
            DataType::FixedSizeList(_, n) => Some(*n as u64),
            _ => {
                let column = ident(column);
                let sql = format!("SELECT array_length(\"{column}\") FROM corpus WHERE \"{column}\" IS NOT NULL LIMIT 1");
                let batches = engine.sql(&sql).await?;
                batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
                    let lengths = b.column(0).as_primitive_opt::<datafusion::arrow::datatypes::UInt64Type>()?;
                    lengths.is_valid(0).then(|| lengths.value(0))
                })
            }
        };
        if let Some(d) = d {
            check_components(options, usize::try_from(d).unwrap_or(usize::MAX))?;
        }
    }
    // Parquet's statistics count the rows and the NULL ids without reading
    // the columns; a JSON corpus would be read whole for each, so its
    // counts come from pass 1's output instead (`check_rows`).
    if format.format != InputFormat::Parquet {
        return Ok(None);
    }
    let rows_in = count(engine, "SELECT count(*) FROM corpus").await?;
    let nulls = count(engine, &format!("SELECT count(*) FROM corpus WHERE \"{}\" IS NULL", ident(&options.id_column))).await?;
    check_rows(options, rows_in, nulls).map(Some)
}

/// The corpus has rows, a non-NULL id in each (`nulls` is the count of
/// NULL ids), and enough rows for the budget.
pub(crate) fn check_rows(options: &SelectOptions, rows_in: u64, nulls: u64) -> Result<u64> {
    if rows_in == 0 {
        let input = options.input.clone();
        return Err(wrong(SelectOption::Input, move |o| format!("{} {input} has no rows", o.input)));
    }
    // Before the costly steps: a NULL id could not be fetched by pass 2,
    // and would be counted in but never selected.
    if nulls > 0 {
        let column = options.id_column.clone();
        return Err(wrong(SelectOption::IdColumn, move |o| {
            format!(
                "{} '{column}' is NULL in {nulls} of the {rows_in} rows; every document needs a unique, non-NULL id: \
                 fill them in or filter those rows out first",
                o.id_column
            )
        }));
    }
    if let Budget::Rows(n) = options.budget {
        if n > rows_in {
            return Err(wrong(SelectOption::Budget, move |o| {
                format!("{} {n} is larger than the corpus ({rows_in} rows); ask for fewer rows or a percentage such as 10%", o.budget)
            }));
        }
    }
    Ok(rows_in)
}

/// The raw score vectors of the documents that passed the filter are long
/// enough for the components asked for, and those documents cover the
/// budget; returns the vectors' length and the documents' count.
pub(crate) async fn check_raw_scores(engine: &Engine, options: &SelectOptions) -> Result<(usize, u64)> {
    let kept = count(engine, "SELECT count(*) FROM kept").await?;
    let duplicates = count(engine, "SELECT count(*) FROM duplicates").await?;
    if kept < 2 && duplicates > 0 {
        return Err(wrong(SelectOption::Dedup, move |o| {
            format!(
                "after the quality filter and dedup {kept} document is left ({duplicates} were removed as copies of \
                 others); the corpus is one text many times over, or relax dedup: {} none, or {} minhash with \
                 --dedup-spec 'threshold=0.95'",
                o.dedup, o.dedup
            )
        }));
    }
    if kept < 2 {
        let filter = options.filter.to_string();
        return Err(wrong(SelectOption::Filter, move |o| {
            format!(
                "the quality filter ({} '{filter}') kept {kept} of the documents; relax it (e.g. {} \
                 'default,gopher_min_words=20') or turn it off with {} none",
                o.filter, o.filter, o.filter
            )
        }));
    }
    if let Budget::Fraction(f) = options.budget {
        if (f * kept as f64).floor() < 1.0 {
            return Err(wrong(SelectOption::Budget, move |o| {
                format!(
                    "{} {f} selects no row of the {kept} documents that pass the quality filter; the smallest \
                     fraction that selects one is {:.6}%",
                    o.budget,
                    100.0 / kept as f64
                )
            }));
        }
    }
    if let Budget::Rows(n) = options.budget {
        if n > kept {
            return Err(wrong(SelectOption::Budget, move |o| {
                format!(
                    "{} {n} is more than the {kept} documents that pass the quality filter; ask for fewer rows, a \
                     percentage such as 10% (of the documents that pass), or relax {}",
                    o.budget, o.filter
                )
            }));
        }
    }
    let batches = rows(engine, "SELECT odis_raw FROM kept WHERE odis_raw IS NOT NULL LIMIT 1").await?;
    let d = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| match b.column(0).data_type() {
            DataType::FixedSizeList(_, n) => *n as usize,
            DataType::List(_) => b.column(0).as_list::<i32>().value(0).len(),
            DataType::LargeList(_) => b.column(0).as_list::<i64>().value(0).len(),
            _ => 0,
        })
        .ok_or_else(|| {
            wrong(SelectOption::Scores, |o| format!("every raw score vector is NULL; check {} or {}", o.scores, o.text_column))
        })?;
    check_components(options, d)?;
    Ok((d, kept))
}

/// `--components` against the `d` raw dimensions of the score source; each
/// source's width is known at a different stage (the ratings' at once, a
/// column's from the corpus's first row, a model's after scoring), and each
/// stage calls this.
pub(crate) fn check_components(options: &SelectOptions, d: usize) -> Result<()> {
    let components = options.components;
    if components == 0 {
        return Err(wrong(SelectOption::Components, |o| format!("{} must be at least 1 (the paper keeps about 4)", o.components)));
    }
    if components <= d {
        return Ok(());
    }
    let scores = options.scores.clone();
    Err(wrong(SelectOption::Components, move |o| {
        let source = match &scores {
            ScoreSource::Ratings => format!("quality_ratings gives {d} ratings"),
            ScoreSource::Column(c) => format!("{} '{c}' has {d} values per row", o.scores),
            ScoreSource::Model(m) => format!("the model {} outputs {d} values", m.display()),
        };
        format!("{} {components} is more than the raw dimensions: {source}; pass {} {d} or fewer", o.components, o.components)
    }))
}

/// The fetch found more rows than ids it was given: an id of the corpus
/// is on several rows. Names one.
pub(crate) async fn duplicate_ids(engine: &Engine, options: &SelectOptions, fetched: &Path) -> OdisError {
    let fetched = quote(&fetched.display().to_string());
    let id = ident(&options.id_column);
    let sql = format!(
        "SELECT CAST(odis_dup AS VARCHAR), n FROM (SELECT \"{id}\" AS odis_dup, count(*) AS n FROM '{fetched}' \
         GROUP BY \"{id}\" HAVING count(*) > 1) ORDER BY n DESC, odis_dup LIMIT 1"
    );
    let example = match rows(engine, &sql).await {
        Ok(batches) => batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .map(|b| format!("id {} is on {} rows", text_at(b.column(0), 0), text_at(b.column(1), 0)))
            .unwrap_or_else(|| "the fetch found more rows than it selected".into()),
        Err(e) => return e,
    };
    let (column, input) = (options.id_column.clone(), options.input.clone());
    wrong(SelectOption::IdColumn, move |o| {
        format!(
            "{} '{column}' is not unique in {input}: {example}; give every document its own id (or remove the \
             duplicates) and run again: the scores are kept",
            o.id_column
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::select::SelectError;

    fn options(components: usize, scores: ScoreSource) -> SelectOptions {
        SelectOptions { components, scores, shard_bytes: 1 << 30, ..SelectOptions::new("corpus.parquet", "selected.parquet") }
    }

    fn select_error(e: OdisError) -> SelectError {
        match e {
            OdisError::Select(e) => e,
            other => panic!("not a SelectError: {other}"),
        }
    }

    #[test]
    fn components_errors_name_the_option_in_the_callers_terms() {
        let e = select_error(check_components(&options(5, ScoreSource::Column("llm".into())), 3).unwrap_err());
        assert_eq!(e.option(), SelectOption::Components);
        assert_eq!(
            e.to_string(),
            "components 5 is more than the raw dimensions: scores 'llm' has 3 values per row; pass components 3 or fewer"
        );
        let flags = e.render(&|o| format!("--{}", o.field().replace('_', "-")));
        assert!(flags.starts_with("--components 5 is more") && flags.contains("--scores 'llm'"), "{flags}");
        let e = select_error(check_components(&options(0, ScoreSource::Ratings), 3).unwrap_err());
        assert!(e.to_string().contains("components must be at least 1"), "{e}");
        assert!(check_components(&options(3, ScoreSource::Ratings), 3).is_ok());
    }
}
