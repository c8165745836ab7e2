//! One micro-batch through a session: token ids in, pooled, normalised and
//! projected scores out.

use std::borrow::Cow;

use datafusion::error::{DataFusionError, Result};
use ndarray::Array2;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;

use crate::score::model::{ModelSpec, Pooling};

/// Token ids of a few texts, padded to the longest.
#[derive(Debug, Clone, PartialEq)]
pub struct MicroBatch {
    pub rows: usize,
    pub seq: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
}

impl MicroBatch {
    /// Pads `encodings` (already truncated) into one batch.
    pub fn from_encodings(encodings: &[tokenizers::Encoding]) -> Self {
        let rows = encodings.len();
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut batch = MicroBatch {
            rows,
            seq,
            input_ids: vec![0; rows * seq],
            attention_mask: vec![0; rows * seq],
            token_type_ids: vec![0; rows * seq],
        };
        for (r, e) in encodings.iter().enumerate() {
            let at = r * seq;
            for (j, ((id, mask), ty)) in e.get_ids().iter().zip(e.get_attention_mask()).zip(e.get_type_ids()).enumerate() {
                batch.input_ids[at + j] = *id as i64;
                batch.attention_mask[at + j] = *mask as i64;
                batch.token_type_ids[at + j] = *ty as i64;
            }
        }
        batch
    }
}

fn run_error(spec: &ModelSpec, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("odis_score: running '{}' failed: {e}", spec.dir.display()))
}

/// Runs the graph on one micro-batch and pools its output: the pooled
/// vectors (rows × width, row-major) and their width.
pub fn run_encoder(session: &mut Session, spec: &ModelSpec, batch: &MicroBatch) -> Result<(Vec<f32>, usize)> {
    let shape = (batch.rows, batch.seq);
    let tensor = |values: &Vec<i64>| -> Result<SessionInputValue<'static>> {
        let array = Array2::from_shape_vec(shape, values.clone()).map_err(|e| run_error(spec, e))?;
        Ok(Tensor::from_array(array).map_err(|e| run_error(spec, e))?.into())
    };
    let mut inputs: Vec<(Cow<'static, str>, SessionInputValue<'static>)> = vec![("input_ids".into(), tensor(&batch.input_ids)?)];
    if spec.inputs.attention_mask {
        inputs.push(("attention_mask".into(), tensor(&batch.attention_mask)?));
    }
    if spec.inputs.token_type_ids {
        inputs.push(("token_type_ids".into(), tensor(&batch.token_type_ids)?));
    }
    let outputs = session.run(inputs).map_err(|e| run_error(spec, e))?;
    let output = outputs[spec.output.as_str()].try_extract_array::<f32>().map_err(|e| run_error(spec, e))?;
    let dims = output.shape().to_vec();
    let rows = batch.rows;
    let wrong_shape = || run_error(spec, format!("output '{}' has shape {dims:?} for {rows} texts of {} tokens", spec.output, batch.seq));
    let width = *dims.last().ok_or_else(wrong_shape)?;
    let mut pooled = vec![0f32; rows * width];
    match spec.pooling {
        Pooling::None => {
            if dims.len() != 2 || dims[0] != rows {
                return Err(wrong_shape());
            }
            for (out, v) in pooled.iter_mut().zip(output.iter()) {
                *out = *v;
            }
        }
        Pooling::Mean | Pooling::Cls => {
            if dims.len() != 3 || dims[0] != rows || dims[1] != batch.seq {
                return Err(wrong_shape());
            }
            for r in 0..rows {
                let out = &mut pooled[r * width..(r + 1) * width];
                if spec.pooling == Pooling::Cls {
                    for (o, k) in out.iter_mut().zip(0..width) {
                        *o = output[[r, 0, k]];
                    }
                    continue;
                }
                let mut sum = vec![0f64; width];
                let mut count = 0f64;
                for s in 0..batch.seq {
                    if batch.attention_mask[r * batch.seq + s] == 0 {
                        continue;
                    }
                    count += 1.0;
                    for (acc, k) in sum.iter_mut().zip(0..width) {
                        *acc += output[[r, s, k]] as f64;
                    }
                }
                for (o, acc) in out.iter_mut().zip(&sum) {
                    *o = (acc / count.max(1.0)) as f32;
                }
            }
        }
    }
    Ok((pooled, width))
}

/// Pooled output → normalised → head: the final scores of one micro-batch.
pub fn score(session: &mut Session, spec: &ModelSpec, batch: &MicroBatch) -> Result<Vec<f32>> {
    let (mut pooled, width) = run_encoder(session, spec, batch)?;
    if width != spec.encoder_dims {
        return Err(DataFusionError::Execution(format!(
            "odis_score: the output of '{}' changed width: {width} values per text in this batch, {} when the \
             query was planned; odis_score needs a model whose output width is fixed",
            spec.dir.display(),
            spec.encoder_dims
        )));
    }
    if spec.normalize {
        for row in pooled.chunks_exact_mut(width) {
            let norm = row.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
            }
        }
    }
    let Some(head) = &spec.head else {
        return Ok(pooled);
    };
    let mut out = Vec::with_capacity(batch.rows * head.weights.len());
    for row in pooled.chunks_exact(width) {
        for (weights, bias) in head.weights.iter().zip(&head.bias) {
            let dot: f64 = weights.iter().zip(row).map(|(w, x)| *w as f64 * *x as f64).sum();
            out.push((dot + *bias as f64) as f32);
        }
    }
    Ok(out)
}
