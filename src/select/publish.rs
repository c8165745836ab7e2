//! The checked selection becomes the output: one file moved or copied into
//! place, or `--out-files` files staged and swapped in.

use std::path::Path;

use crate::engine::Engine;
use crate::error::{OdisError, Result};
use crate::output::StagedOutput;
use crate::script_vars::escape_string as quote;
use crate::select::checks::local_out_dir;
use crate::select::formats::{FileFormat, InputFormat};
use crate::select::options::{SelectOptions, is_url};
use crate::select::query::{count, i64s, rows};

/// Where to read the written selection back as Parquet: the file, or the
/// directory of files; for JSON Lines outputs, the work directory's sorted
/// file they were written from.
pub(crate) fn written(options: &SelectOptions, work: &Path) -> String {
    let out = options.out.display().to_string();
    match (output_format(options).format, options.out_files) {
        (InputFormat::Json, _) => work.join("fetched.parquet").display().to_string(),
        (InputFormat::Parquet, Some(_)) => format!("{}/", out.trim_end_matches('/')),
        (InputFormat::Parquet, None) => out,
    }
}

/// What `--out` is written as (checked before the run: Parquet when its
/// name says nothing else).
fn output_format(options: &SelectOptions) -> FileFormat {
    FileFormat::of_output(&options.out).unwrap_or(FileFormat::PARQUET)
}

/// Moves the checked selection from the work directory to `--out`: a
/// rename when they share a file system, else a copy (staged, atomic).
pub(crate) async fn publish(engine: &Engine, options: &SelectOptions, fetched: &Path) -> Result<()> {
    let out = options.out.display().to_string();
    let format = output_format(options);
    if format == FileFormat::PARQUET && !is_url(&out) && std::fs::rename(fetched, &options.out).is_ok() {
        if let Some(dir) = options.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        return Ok(());
    }
    let from = quote(&fetched.display().to_string());
    engine
        .sql(&format!(
            "COPY (SELECT * FROM '{from}' ORDER BY odis_dim, odis_rank) TO '{}' STORED AS {}{}",
            quote(&out),
            format.stored_as(),
            format.write_options()
        ))
        .await?;
    Ok(())
}

/// `--out-files N`: splits the sorted selection in the work directory into
/// N files of consecutive (component, rank) ranges, written to a staging
/// directory that replaces `--out` when all are written.
pub(crate) async fn split_output(engine: &Engine, options: &SelectOptions, work: &Path, files: usize) -> Result<()> {
    let fetched = quote(&work.join("fetched.parquet").display().to_string());
    let total = count(engine, &format!("SELECT count(*) FROM '{fetched}'")).await?;
    // The first (dim, rank) of each file, by row number in output order.
    let starts: Vec<u64> = (0..files as u64).map(|f| f * total / files as u64 + 1).collect();
    let list = starts.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let mut bounds = Vec::new();
    for batch in rows(
        engine,
        &format!(
            "SELECT odis_dim, odis_rank FROM (SELECT odis_dim, odis_rank, row_number() OVER (ORDER BY odis_dim, \
             odis_rank) AS k FROM selected) WHERE k IN ({list}) ORDER BY k"
        ),
    )
    .await?
    {
        let (dims, ranks) = (i64s(batch.column(0))?, i64s(batch.column(1))?);
        bounds.extend(dims.into_iter().zip(ranks));
    }
    let out = options.out.display().to_string();
    let format = output_format(options);
    if !is_url(&out) {
        local_out_dir(options)?;
    }
    // The files are written under a staging name and replace an earlier
    // output only when all are written; a failure leaves that one as it was.
    let target = format!("{}/", out.trim_end_matches('/'));
    let staged = StagedOutput::new(&engine.context().state(), &target, false, true)?
        .ok_or_else(|| OdisError::Internal(format!("the directory output '{target}' was not staged")))?;
    let staging = staged.staging_location().trim_end_matches('/').to_string();
    let write_all = async {
        for f in 0..files {
            let after = |(d, r): (i64, i64)| format!("(odis_dim > {d} OR (odis_dim = {d} AND odis_rank >= {r}))");
            let mut range = match bounds.get(f) {
                Some(&b) => after(b),
                None => "false".to_string(),
            };
            if let Some(&next) = bounds.get(f + 1) {
                range = format!("{range} AND NOT {}", after(next));
            }
            let part = quote(&format!("{staging}/part-{f:05}{}", format.extension()));
            engine
                .sql(&format!(
                    "COPY (SELECT * FROM '{fetched}' WHERE {range} ORDER BY odis_dim, odis_rank) TO '{part}' STORED AS {}{}",
                    format.stored_as(),
                    format.write_options()
                ))
                .await?;
        }
        Ok::<(), OdisError>(())
    };
    write_all.await?;
    staged.commit().await
}
