//! Step 4 of ODiS: the top documents of each component under one budget, and
//! the baselines users compare against; as table functions over a table.

pub mod candidates;
pub mod ccs_select;
pub mod cluster_balanced_sample;
pub mod codec;
pub mod deferred;
pub mod dpp_select;
pub mod fetch;
pub mod mig_select;
pub mod sample_by_average;
pub mod sample_uniform;
pub mod selection;
pub mod selection_plan;
pub mod top_k_average;
pub mod top_k_per_dim;
pub mod top_k_per_dim_report;
