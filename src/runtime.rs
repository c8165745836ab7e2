//! The runtime every odis session starts from, in this process or in a
//! cluster's scheduler and executors: odis's object stores, no cached
//! directory listings, and spilled runs merged a few at a time. Kept in one
//! place so that a plan spills the same way wherever it runs.

use std::sync::Arc;

use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use crate::stores::OdisObjectStoreRegistry;

/// Sorted runs a spilled sort merges at once. Each run read holds about
/// four of its batches in the pool: at 16, two partitions' merges of 1 MB
/// batches took a 128 MiB pool whole and the merge across them failed
/// (near_duplicates over 4M signatures).
pub const SPILL_MERGE_FAN_IN: usize = 8;

/// A runtime builder with odis's stores, caches and merges; the caller adds
/// its memory pool and spill directory.
pub fn odis_runtime() -> RuntimeEnvBuilder {
    // No cached directory listings: DataFusion keys them by table name and
    // keeps them across DROP and CREATE, so a directory rewritten in this
    // process (odis select's work files, a COPY read back) would be read
    // with its old files' sizes.
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    // A sort that spilled merges its sorted runs holding a batch of each,
    // and by default takes as many runs as the pool has room for: it then
    // leaves nothing to the operators after it (the merge across partitions,
    // a Parquet writer). A few at a time, more runs are merged in passes.
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(OdisObjectStoreRegistry::new()))
        .with_cache_manager(caches)
        .with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_merges_spilled_runs_a_few_at_a_time_and_caches_no_listings() {
        let runtime = odis_runtime().build().unwrap();
        assert_eq!(runtime.disk_manager.max_spill_merge_fan_in(), SPILL_MERGE_FAN_IN);
        assert_eq!(runtime.cache_manager.get_list_files_cache_limit(), 0);
    }
}
