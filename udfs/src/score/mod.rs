//! Step 3 of ODiS: score the corpus with an ONNX model (odis_score): model
//! directories, the ONNX Runtime library, sessions, settings and progress.

pub mod inference;
pub mod loading;
pub mod model;
pub mod model_registry;
pub mod odis_models;
pub mod odis_score;
pub mod options;
pub mod progress;
pub mod runtime;
pub mod session_pool;
