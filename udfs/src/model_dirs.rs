//! Model directories: the files one holds, and the names a session gives
//! them (`odis --model NAME=DIR`), which `odis_score`, `token_count` and
//! `odis_models` resolve. Loading and running a model is `score/`'s work.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use datafusion::error::{DataFusionError, Result};

/// The ONNX graph of a model directory.
pub const MODEL_FILE: &str = "model.onnx";
/// Its HuggingFace tokenizer.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Its optional settings (`output`, `pooling`, `normalize`, `max_length`,
/// `dims`, `head`).
pub const MANIFEST_FILE: &str = "odis.json";

/// The names of a session's model directories.
#[derive(Debug, Default)]
pub struct ModelNames {
    names: Mutex<BTreeMap<String, PathBuf>>,
}

fn lock_error() -> DataFusionError {
    DataFusionError::Internal("model names lock poisoned".into())
}

impl ModelNames {
    /// Names `dir` (replacing an earlier directory of that name).
    pub fn insert(&self, name: &str, dir: PathBuf) -> Result<()> {
        if name.is_empty() {
            return Err(DataFusionError::Plan("a model name cannot be empty; use --model NAME=DIR".into()));
        }
        self.names.lock().map_err(|_| lock_error())?.insert(name.to_string(), dir);
        Ok(())
    }

    /// Every name and its directory, by name.
    pub fn all(&self) -> Result<BTreeMap<String, PathBuf>> {
        Ok(self.names.lock().map_err(|_| lock_error())?.clone())
    }

    /// The directory a model argument stands for: a registered name, or a
    /// path that exists.
    pub fn resolve(&self, model: &str) -> Result<PathBuf> {
        let names = self.names.lock().map_err(|_| lock_error())?;
        if let Some(dir) = names.get(model) {
            return Ok(dir.clone());
        }
        let path = PathBuf::from(model);
        if path.exists() {
            return Ok(path);
        }
        let registered: Vec<&str> = names.keys().map(String::as_str).collect();
        Err(DataFusionError::Plan(format!(
            "odis_score: unknown model '{model}': it is neither a registered model name ({}) nor an existing \
             directory; register one with `odis --model {model}=DIR`, or pass a model directory",
            if registered.is_empty() { "none registered".to_string() } else { format!("registered: {}", registered.join(", ")) }
        )))
    }
}
