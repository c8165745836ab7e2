//! Measuring a selection: the diversity of its embeddings.

pub mod vendi_score;
