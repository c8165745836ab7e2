//! A model directory, as `odis_score` runs it:
//!
//! - `model.onnx`: an encoder or regressor whose inputs are among
//!   `input_ids`, `attention_mask`, `token_type_ids` (int64 [batch, seq]);
//! - `tokenizer.json`: a HuggingFace tokenizer;
//! - `odis.json` (optional): `output`, `pooling` (`none`, `mean`, `cls`),
//!   `normalize`, `max_length`, `dims`, and a linear `head` applied last.
//!
//! Everything about a directory is checked when it is loaded, with errors
//! that name the file and the problem.

use std::path::{Path, PathBuf};

use datafusion::error::{DataFusionError, Result};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::score::options::Device;
use crate::score::runtime::onnx_runtime;

pub use crate::model_dirs::{MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE};
/// The token limit when neither odis.json nor the tokenizer sets one.
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// How per-token outputs become one vector per text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The output is already [batch, D].
    None,
    /// Attention-masked mean over the tokens of [batch, seq, D].
    Mean,
    /// The first token of [batch, seq, D].
    Cls,
}

/// A linear map applied to the pooled (and normalised) vector:
/// `y = weights · x + bias`, weights being D_out rows of D_in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

/// odis.json; every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub output: Option<String>,
    pub pooling: Option<Pooling>,
    pub normalize: Option<bool>,
    pub max_length: Option<usize>,
    pub dims: Option<Vec<String>>,
    pub head: Option<Head>,
}

/// Which of the optional inputs the graph takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs {
    pub attention_mask: bool,
    pub token_type_ids: bool,
}

/// Everything odis knows about a model directory once it is loaded.
#[derive(Debug)]
pub struct ModelSpec {
    pub dir: PathBuf,
    pub tokenizer: Tokenizer,
    pub inputs: Inputs,
    pub output: String,
    pub pooling: Pooling,
    pub normalize: bool,
    pub max_length: usize,
    /// Width of the pooled encoder output, before the head.
    pub encoder_dims: usize,
    /// Width of the result.
    pub dims: usize,
    pub dim_names: Option<Vec<String>>,
    pub head: Option<Head>,
}

pub(crate) fn load_error(dir: &Path, file: &str, problem: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("model directory '{}': {file}: {problem}", dir.display()))
}

/// A session on `device` with `threads` intra-op threads.
pub fn new_session(dir: &Path, device: Device, threads: usize) -> Result<Session> {
    let runtime = onnx_runtime().map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let model = dir.join(MODEL_FILE);
    let ort_error = |e: ort::Error| load_error(dir, MODEL_FILE, e);
    let builder = Session::builder(&runtime.environment)
        .map_err(ort_error)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| ort_error(e.into()))?
        .with_intra_threads(threads)
        .map_err(|e| ort_error(e.into()))?
        .with_inter_threads(1)
        .map_err(|e| ort_error(e.into()))?;
    let mut builder = match device {
        Device::Cpu => builder,
        Device::Cuda(id) => builder
            .with_execution_providers([ort::ep::CUDA::default().with_device_id(id).build().error_on_failure()])
            .map_err(|e| {
                DataFusionError::Execution(format!(
                    "odis.device = '{device}', but ONNX Runtime cannot use CUDA: {e}. The CUDA execution \
                     provider needs the library of the PyPI onnxruntime-gpu wheel (install it with pip and point \
                     ORT_DYLIB_PATH at its onnxruntime/capi/libonnxruntime.so.*), an NVIDIA driver, and the CUDA 12 and cuDNN 9 libraries \
                     (PyPI nvidia-cuda-runtime-cu12, nvidia-cudnn-cu12, ...) on LD_LIBRARY_PATH. \
                     SET odis.device = 'cpu' to score on the CPU."
                ))
            })?,
    };
    builder.commit_from_file(&model).map_err(ort_error)
}

impl ModelSpec {
    /// Tokenises texts (special tokens added, truncated to max_length).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        self.tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| DataFusionError::Execution(format!("odis_score: tokenizing failed: {e}")))
    }
}
