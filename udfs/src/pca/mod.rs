//! Step 2 of ODiS: scale each dimension (rank scaling) and decorrelate them with
//! a PCA: the fit, the projection and what each component means.

pub mod decomposition;
pub mod pca_fit;
pub mod pca_loadings;
pub mod pca_project;
pub mod quantile_fit;
pub mod quantile_transform;
pub mod quantiles;
