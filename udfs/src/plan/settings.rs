//! odis's session settings: `SET odis.<name> = <value>`, one set for every
//! function (scoring, and where functions keep their intermediate tables).

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// Settings of the odis functions, changed with `SET odis.<name> = <value>`
    /// or the CLI's flags.
    pub struct OdisOptions {
        /// Where odis_score runs models: 'cpu', or 'cuda:N' for ONNX Runtime's
        /// CUDA execution provider on GPU N (needs the onnxruntime-gpu library).
        pub device: String, default = "cpu".to_string()
        /// ONNX Runtime sessions per model, each scoring micro-batches in
        /// parallel on its own thread (0: one per CPU core; one on a GPU).
        /// Measured on a 2-core machine with MiniLM: 2 sessions x 1 thread
        /// with micro-batches of 8 beat 1 session x 2 threads (batches of 32)
        /// by about 20% (benches/score_side_by_side.py).
        pub sessions: usize, default = 0
        /// Intra-op threads of each session (0: the CPU cores divided among the sessions).
        pub threads: usize, default = 0
        /// Rows per inference call; rows are sorted by token length first so
        /// that a micro-batch needs little padding.
        pub micro_batch: usize, default = 8
        /// Show scoring progress in the CLI.
        pub progress: bool, default = true
        /// Where functions that work in rounds (near_duplicates) keep each
        /// round's table, so that a query killed midway resumes from the last
        /// round it finished; on a cluster, a directory every executor can
        /// reach. Empty: a temporary directory, removed when the function
        /// ends.
        pub work_dir: String, default = String::new()
        /// What the plans of near_duplicates and semantic_duplicates may hold
        /// before they spill, never more than the session's limit: a size
        /// ('256M', '2G'), 'unlimited' (the pool the statement runs in: the
        /// session's limit, or odis select's --dedup-memory), or empty for
        /// 64 MiB a partition and at least 128 MiB. A bound that stays the
        /// same at any corpus size keeps their peak flat.
        pub dedup_memory: String, default = String::new()
    }
}

impl ConfigExtension for OdisOptions {
    const PREFIX: &'static str = "odis";
}
