//! Loading a model directory: every file read and checked, with errors
//! that name the file and the problem, and the output width found by
//! scoring one text when the graph does not fix it.

use std::path::Path;

use datafusion::error::{DataFusionError, Result};
use ort::value::{TensorElementType, ValueType};
use tokenizers::{Tokenizer, TruncationParams};

use crate::score::inference::{MicroBatch, run_encoder};
use crate::score::model::{
    DEFAULT_MAX_LENGTH, Inputs, MANIFEST_FILE, MODEL_FILE, Manifest, ModelSpec, Pooling, TOKENIZER_FILE, load_error, new_session,
};
use crate::score::options::Device;

impl ModelSpec {
    /// Loads and checks a model directory.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(DataFusionError::Execution(format!(
                "model directory '{}' does not exist; pass a directory holding {MODEL_FILE} and {TOKENIZER_FILE}",
                dir.display()
            )));
        }
        for file in [MODEL_FILE, TOKENIZER_FILE] {
            if !dir.join(file).is_file() {
                return Err(load_error(dir, file, "missing; a model directory holds model.onnx and tokenizer.json (and optionally odis.json)"));
            }
        }
        let manifest: Manifest = match std::fs::read_to_string(dir.join(MANIFEST_FILE)) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                load_error(
                    dir,
                    MANIFEST_FILE,
                    format!("{e}; its keys are output, pooling (none, mean, cls), normalize, max_length, dims, head"),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(load_error(dir, MANIFEST_FILE, e)),
        };

        let mut tokenizer = Tokenizer::from_file(dir.join(TOKENIZER_FILE)).map_err(|e| load_error(dir, TOKENIZER_FILE, e))?;
        let max_length = manifest
            .max_length
            .or_else(|| tokenizer.get_truncation().map(|t| t.max_length))
            .unwrap_or(DEFAULT_MAX_LENGTH);
        if max_length < 2 {
            return Err(load_error(dir, MANIFEST_FILE, format!("max_length must be at least 2, got {max_length}")));
        }
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| load_error(dir, TOKENIZER_FILE, e))?;

        let session = new_session(dir, Device::Cpu, 1)?;
        let mut inputs = Inputs {
            attention_mask: false,
            token_type_ids: false,
        };
        let mut has_input_ids = false;
        for input in session.inputs() {
            let int64 = matches!(input.dtype(), ValueType::Tensor { ty: TensorElementType::Int64, .. });
            match input.name() {
                "input_ids" | "attention_mask" | "token_type_ids" if !int64 => {
                    return Err(load_error(dir, MODEL_FILE, format!("input '{}' must be int64 [batch, seq], got {:?}", input.name(), input.dtype())));
                }
                "input_ids" => has_input_ids = true,
                "attention_mask" => inputs.attention_mask = true,
                "token_type_ids" => inputs.token_type_ids = true,
                other => {
                    return Err(load_error(
                        dir,
                        MODEL_FILE,
                        format!("input '{other}' is not supported; odis feeds input_ids, attention_mask and token_type_ids (int64 [batch, seq])"),
                    ));
                }
            }
        }
        if !has_input_ids {
            return Err(load_error(dir, MODEL_FILE, "the graph has no 'input_ids' input"));
        }

        let outputs: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let output_name = match &manifest.output {
            Some(name) if outputs.contains(name) => name.clone(),
            Some(name) => {
                return Err(load_error(dir, MANIFEST_FILE, format!("output '{name}' is not an output of model.onnx; its outputs are: {}", outputs.join(", "))));
            }
            None => outputs.first().cloned().ok_or_else(|| load_error(dir, MODEL_FILE, "the graph has no outputs"))?,
        };
        let outlet = session.outputs().iter().find(|o| o.name() == output_name).expect("output exists");
        let (shape, element) = match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => (shape.to_vec(), *ty),
            other => return Err(load_error(dir, MODEL_FILE, format!("output '{output_name}' is not a tensor: {other:?}"))),
        };
        if element != TensorElementType::Float32 {
            return Err(load_error(dir, MODEL_FILE, format!("output '{output_name}' holds {element:?}; odis_score needs float32")));
        }
        let rank = shape.len();
        let pooling = match (manifest.pooling, rank) {
            (None, 2) => Pooling::None,
            (None, 3) => Pooling::Mean,
            (Some(Pooling::None), 2) | (Some(Pooling::Mean | Pooling::Cls), 3) => manifest.pooling.unwrap(),
            (Some(Pooling::None), 3) => {
                return Err(load_error(dir, MANIFEST_FILE, format!("pooling 'none' needs a [batch, D] output, but '{output_name}' is {shape:?} (rank 3); use \"mean\" or \"cls\"")));
            }
            (Some(p), 2) => {
                return Err(load_error(dir, MANIFEST_FILE, format!("pooling '{p:?}' needs a [batch, seq, D] output, but '{output_name}' is {shape:?} (rank 2); use \"none\"")));
            }
            (_, r) => {
                return Err(load_error(dir, MODEL_FILE, format!("output '{output_name}' has rank {r} ({shape:?}); odis_score needs [batch, D] or [batch, seq, D]")));
            }
        };
        let mut spec = ModelSpec {
            dir: dir.to_path_buf(),
            tokenizer,
            inputs,
            output: output_name,
            pooling,
            normalize: manifest.normalize.unwrap_or(false),
            max_length,
            encoder_dims: 0,
            dims: 0,
            dim_names: None,
            head: None,
        };
        // The width: from the graph when it is fixed, else from scoring one text.
        let declared = shape.last().copied().filter(|&d| d > 0);
        spec.encoder_dims = match declared {
            Some(d) => d as usize,
            None => {
                let mut session = session;
                let batch = MicroBatch::from_encodings(&[spec.encode(&["odis"])?.remove(0)]);
                let (_, width) = run_encoder(&mut session, &spec, &batch)?;
                width
            }
        };
        spec.dims = spec.encoder_dims;
        if let Some(head) = manifest.head {
            if head.weights.is_empty() || head.weights.len() != head.bias.len() {
                return Err(load_error(dir, MANIFEST_FILE, format!(
                    "head has {} weight rows and {} biases; give one row of weights and one bias per output", head.weights.len(), head.bias.len()
                )));
            }
            if let Some(row) = head.weights.iter().find(|r| r.len() != spec.encoder_dims) {
                return Err(load_error(dir, MANIFEST_FILE, format!(
                    "a head weight row has {} values but the pooled output has {}", row.len(), spec.encoder_dims
                )));
            }
            spec.dims = head.weights.len();
            spec.head = Some(head);
        }
        if let Some(names) = &manifest.dims {
            if names.len() != spec.dims {
                return Err(load_error(dir, MANIFEST_FILE, format!("dims names {} dimensions but the model outputs {}", names.len(), spec.dims)));
            }
        }
        spec.dim_names = manifest.dims;
        Ok(spec)
    }
}
