//! # odis
//!
//! An embeddable, SQL-first engine that selects LLM training data that is
//! both high-quality and diverse, by Orthogonal Diversity-Aware Selection
//! (ODiS): rate documents on several quality dimensions, decorrelate them
//! with PCA, score the corpus with an ONNX model, and take the top documents
//! of each orthogonal component under one budget.
//!
//! odis is [Apache DataFusion](https://datafusion.apache.org) with the ODiS
//! steps as SQL functions (see [`udfs`]), over local or S3 Parquet.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> odis::Result<()> {
//! use odis::datafusion::arrow::array::AsArray;
//!
//! let engine = odis::Engine::new()?;
//! let batches = engine.sql("SELECT odis_version() AS v").await?;
//! let version = batches[0].column(0).as_string::<i32>().value(0);
//! assert!(version.starts_with("odis "));
//! # Ok(())
//! # }
//! ```
//!
//! To add the odis functions to a `SessionContext` you already have, call
//! [`register_functions`].

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod engine;
pub mod error;
pub mod file_tables;
pub mod functions;
pub mod named_arguments;
pub mod output;
pub mod panic_guard;
pub mod ridge;
pub mod runtime;
pub mod scalar_subqueries;
pub mod scan_progress;
pub mod script_vars;
pub mod select;
pub mod store_retries;
pub mod stores;
pub mod train;

pub use datafusion;
pub use engine::{Bounds, Engine, EngineBuilder, register_functions};
pub use error::{OdisError, Result};
pub use odis_udfs as udfs;

// The README's Rust example is compiled and run as a doc test; it is also
// examples/embed.rs, which CI builds without the `cluster` feature.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_embedding_example_is_examples_embed_rs() {
        let readme = include_str!("../README.md");
        let start = readme.find("```rust\n").expect("README has a Rust example") + "```rust\n".len();
        let end = start + readme[start..].find("```").expect("the example ends");
        assert_eq!(&readme[start..end], include_str!("../examples/embed.rs"));
    }
}
