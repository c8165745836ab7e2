//! `odis train`: distils an annotated sample into a scorer that `odis_score`
//! runs directly (the paper's per-component regressors).
//!
//! The paper fine-tunes RoBERTa per principal component. Here the encoder is
//! frozen (any odis model directory, e.g. all-MiniLM-L6-v2) and each
//! component gets a ridge head on its embeddings; PCA is folded in, so the
//! scorer outputs projected scores and `pca_project` is not needed at
//! inference time.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema};
use ndarray::{Array2, Axis};
use odis_udfs::score::model::{MANIFEST_FILE, MODEL_FILE, Pooling, TOKENIZER_FILE};

use crate::engine::Engine;
use crate::error::{OdisError, Result};
use crate::script_vars::{escape_ident as ident, escape_string as quote};
use crate::ridge;

/// What to train from, and where to write the scorer.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Annotated sample: Parquet with text, id and a list column of raw ratings.
    pub input: String,
    pub text_column: String,
    pub id_column: String,
    pub scores_column: String,
    /// The frozen encoder: an odis model directory without a head.
    pub encoder: PathBuf,
    pub components: usize,
    /// The model directory to create.
    pub out: PathBuf,
}

/// One component's head.
#[derive(Debug, Clone)]
pub struct HeadReport {
    pub lambda: f64,
    pub holdout_r2: f64,
}

#[derive(Debug, Clone)]
pub struct TrainReport {
    pub rows: usize,
    pub holdout_rows: usize,
    pub explained_variance_ratio: Vec<f64>,
    pub heads: Vec<HeadReport>,
}


/// Every row is held out for validation when its position (in id order) is 4 mod 5.
fn held_out(row: usize) -> bool {
    row % 5 == 4
}

/// Trains and writes the scorer; the directory appears whole or not at all.
pub async fn train(engine: &Engine, options: &TrainOptions, on_stage: impl Fn(&str)) -> Result<TrainReport> {
    if options.out.exists() {
        return Err(invalid(format!("--out {} already exists; name a new model directory", options.out.display())));
    }
    if options.components == 0 {
        return Err(invalid("--components must be at least 1".into()));
    }
    let encoder = engine.models().load(&options.encoder).map_err(|e| invalid(format!("--encoder: {}", OdisError::from(e))))?;
    if encoder.head.is_some() {
        return Err(invalid(format!(
            "--encoder {} already has a head in its odis.json; pass the plain encoder",
            options.encoder.display()
        )));
    }
    let (text, id, scores) = (ident(&options.text_column), ident(&options.id_column), ident(&options.scores_column));
    engine.sql(&format!("CREATE EXTERNAL TABLE odis_train_sample STORED AS PARQUET LOCATION '{}'", quote(&options.input))).await?;
    let schema = engine.context().table("odis_train_sample").await?.schema().as_arrow().clone();
    for (flag, column) in [("--text-column", &options.text_column), ("--id-column", &options.id_column), ("--scores", &options.scores_column)] {
        input_column(&schema, &options.input, flag, column)?;
    }

    on_stage("fitting the PCA of the ratings");
    let k = options.components;
    let fit = engine
        .sql(&format!(
            "SELECT model['explained_variance_ratio'] FROM (SELECT pca_fit(\"{scores}\", {k}, true) AS model FROM odis_train_sample)"
        ))
        .await
        .map_err(|e| invalid(format!("--scores '{}' / --components {k}: {e}", options.scores_column)))?;
    let explained = cast(fit[0].column(0).as_list::<i32>().value(0).as_ref(), &DataType::Float64).map_err(datafusion::error::DataFusionError::from)?;
    let explained_variance_ratio: Vec<f64> = explained.as_primitive::<Float64Type>().values().to_vec();

    on_stage("embedding the sample with the encoder");
    let encoder_dir = quote(&options.encoder.display().to_string());
    let batches: Vec<RecordBatch> = engine
        .sql(&format!(
            "WITH p AS (SELECT pca_fit(\"{scores}\", {k}, true) AS model FROM odis_train_sample) \
             SELECT odis_score(\"{text}\", '{encoder_dir}') AS x, pca_project(\"{scores}\", p.model) AS y \
             FROM odis_train_sample CROSS JOIN p \
             WHERE \"{text}\" IS NOT NULL ORDER BY \"{id}\""
        ))
        .await?;
    let d = encoder.dims;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for batch in &batches {
        let x = batch.column(0).as_fixed_size_list();
        let y = batch.column(1).as_list::<i32>();
        for r in 0..batch.num_rows() {
            if x.is_null(r) || y.is_null(r) {
                continue; // ratings that pca_fit skipped (NULL or not finite)
            }
            xs.extend(x.value(r).as_primitive::<Float32Type>().values().iter().map(|v| *v as f64));
            ys.extend(y.value(r).as_primitive::<Float64Type>().values().iter().copied());
        }
    }
    let rows = ys.len() / k;
    if rows < 10 {
        return Err(invalid(format!("{} has {rows} usable rows; training needs at least 10 (texts with finite ratings)", options.input)));
    }
    let x = Array2::from_shape_vec((rows, d), xs).map_err(|e| invalid(e.to_string()))?;
    let y = Array2::from_shape_vec((rows, k), ys).map_err(|e| invalid(e.to_string()))?;
    let (train_rows, hold_rows): (Vec<usize>, Vec<usize>) = (0..rows).partition(|r| !held_out(*r));

    on_stage("fitting one ridge head per component");
    let (x_train, x_hold) = (x.select(Axis(0), &train_rows), x.select(Axis(0), &hold_rows));
    let mut heads = Vec::new();
    let mut weights = Vec::new();
    let mut bias = Vec::new();
    for c in 0..k {
        let (y_train, y_hold) = (y.column(c).select(Axis(0), &train_rows), y.column(c).select(Axis(0), &hold_rows));
        let chosen = ridge::choose(x_train.view(), y_train.view(), x_hold.view(), y_hold.view())?;
        weights.push(chosen.ridge.weights.iter().map(|w| *w as f32).collect::<Vec<f32>>());
        bias.push(chosen.ridge.bias as f32);
        heads.push(HeadReport {
            lambda: chosen.lambda,
            holdout_r2: chosen.holdout_r2,
        });
    }

    on_stage("writing the model directory");
    let manifest = serde_json::json!({
        "output": encoder.output,
        "pooling": match encoder.pooling { Pooling::None => "none", Pooling::Mean => "mean", Pooling::Cls => "cls" },
        "normalize": encoder.normalize,
        "max_length": encoder.max_length,
        "dims": (0..k).map(|c| format!("pc{c}")).collect::<Vec<_>>(),
        "head": { "weights": weights, "bias": bias },
    });
    write_model_dir(&options.encoder, &options.out, &manifest)?;
    Ok(TrainReport {
        rows,
        holdout_rows: hold_rows.len(),
        explained_variance_ratio,
        heads,
    })
}

/// Copies the encoder's graph and tokenizer next to the new manifest in a
/// staging directory, then renames it into place.
fn write_model_dir(encoder: &Path, out: &Path, manifest: &serde_json::Value) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let context = || format!("cannot write the model directory '{}'", out.display());
    let staging = tempfile::Builder::new().prefix(".odis-train-").tempdir_in(parent).map_err(|e| OdisError::io(context(), e))?;
    for file in [MODEL_FILE, TOKENIZER_FILE] {
        std::fs::copy(encoder.join(file), staging.path().join(file)).map_err(|e| OdisError::io(context(), e))?;
    }
    let text = serde_json::to_string_pretty(manifest).map_err(|e| invalid(e.to_string()))?;
    std::fs::write(staging.path().join(MANIFEST_FILE), text).map_err(|e| OdisError::io(context(), e))?;
    // A temporary directory is private (0700); the model directory is an ordinary one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755)).map_err(|e| OdisError::io(context(), e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        OdisError::io(context(), e)
    })
}

fn invalid(message: String) -> OdisError {
    OdisError::InvalidArgument(message)
}

/// The column `name` of `input`'s table, or an error naming the flag that
/// asked for it and the columns there are.
fn input_column<'a>(schema: &'a Schema, input: &str, flag: &str, name: &str) -> Result<&'a Field> {
    schema.field_with_name(name).map_err(|_| {
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        invalid(format!("{flag} '{name}' is not a column of {input}; its columns are: {}", columns.join(", ")))
    })
}
