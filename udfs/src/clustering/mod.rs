//! Structure in embedding space: k-means clusters of document embeddings
//! (`kmeans_fit`, `kmeans_assign`), what the embedding-space selection
//! methods build on, and the plan node that does their work cluster by
//! cluster (`per_group.rs`).

pub mod kmeans;
pub mod kmeans_assign;
pub mod kmeans_fit;
pub mod model;
pub mod per_group;
