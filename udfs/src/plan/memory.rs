//! Memory limits: their parser (`--memory-limit`, `--fetch-memory`,
//! `--dedup-memory`, `SET odis.dedup_memory`), the pool every bound runs in,
//! and the bound of the dedup functions' plans.
//!
//! The dedup functions run a dozen plans one after another, each a sort or
//! a join over every document. Under the session's whole limit, a plan
//! holds all it can: at 16M signatures a band's sort held 16M keys
//! (256 MB) under a 512 MiB limit, at 1M a sixteenth of that, and the
//! process's peak grew with the corpus although it stayed within the limit.
//! A bound of their own, the same at any corpus size, keeps the peak flat:
//! past it, the plans spill.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryLimit as PoolLimit, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::TryStreamExt;

use crate::plan::settings::OdisOptions;

/// The smallest limit odis accepts: below it not even a small sort runs.
pub const MIN_MEMORY_LIMIT: usize = 64 << 20;

/// What the dedup step's sorts, joins and counts hold, per partition the
/// engine plans, unless told otherwise (never more than the engine's
/// limit): past it they spill. It follows the partitions because each
/// partition's sort and merge take a share of it; it does not follow the
/// corpus, so neither does the step's memory. Under the engine's default
/// limit (3/4 of memory) they would keep every signature in memory
/// instead; at the former 512 MiB they held the 2M signatures of the
/// benchmark whole, and the whole run peaked at 394 MiB against about 260
/// at 128 MiB (2 partitions) and 220 over a quarter of the corpus
/// (docs/benchmarks.md).
pub const DEDUP_MEMORY_PER_PARTITION: usize = 64 << 20;

/// The least the dedup step holds unless told otherwise, however few the
/// partitions.
pub const DEDUP_MEMORY_MIN: usize = 128 << 20;

/// The dedup step's bound by default for `partitions` partitions.
pub fn default_dedup_memory(partitions: usize) -> usize {
    DEDUP_MEMORY_PER_PARTITION.saturating_mul(partitions).max(DEDUP_MEMORY_MIN)
}

/// How much memory operators may reserve before they spill to disk (sorts,
/// aggregations) or fail with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryLimit {
    /// No bound of its own: operators take what the pool around them gives.
    Unlimited,
    Bytes(usize),
}

impl MemoryLimit {
    /// The default: three quarters of the machine's memory, so that a large
    /// sort spills to disk before the kernel kills the process.
    pub fn default_for_machine() -> Self {
        physical_memory().map_or(MemoryLimit::Unlimited, |total| MemoryLimit::Bytes(total / 4 * 3))
    }
}

impl std::str::FromStr for MemoryLimit {
    type Err = String;

    /// `unlimited`, a byte count, or a size with a unit: `512M`, `4G`, `1.5GiB`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") {
            return Ok(MemoryLimit::Unlimited);
        }
        let bad = || format!("expected a size such as 4G, 512M, 2147483648 or unlimited, got '{text}'");
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes = number * scale;
        if !bytes.is_finite() || bytes > usize::MAX as f64 {
            return Err(bad());
        }
        let bytes = bytes as usize;
        if bytes < MIN_MEMORY_LIMIT {
            return Err(format!("'{text}' is too small to run queries in; give at least {} MiB", MIN_MEMORY_LIMIT >> 20));
        }
        Ok(MemoryLimit::Bytes(bytes))
    }
}

/// Total physical memory, from /proc/meminfo where there is one.
fn physical_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A pool of `bytes`: a fair pool splits it among the operators that can
/// spill; the tracking wrapper names the largest consumers when a
/// reservation fails.
pub fn spilling_pool(bytes: usize) -> Arc<dyn MemoryPool> {
    Arc::new(TrackConsumersPool::new(FairSpillPool::new(bytes), NonZeroUsize::new(3).expect("3 > 0")))
}

/// The bound `odis.dedup_memory` gives the dedup functions' plans, in
/// bytes (`None`: the session's pool as it is), for a session that plans
/// `partitions` partitions.
pub fn dedup_memory(options: Option<&OdisOptions>, partitions: usize) -> Result<Option<usize>> {
    let text = options.map(|o| o.dedup_memory.trim()).unwrap_or_default();
    if text.is_empty() {
        return Ok(Some(default_dedup_memory(partitions)));
    }
    match text.parse::<MemoryLimit>() {
        Ok(MemoryLimit::Bytes(bytes)) => Ok(Some(bytes)),
        Ok(MemoryLimit::Unlimited) => Ok(None),
        Err(why) => Err(DataFusionError::Plan(format!(
            "odis.dedup_memory = '{text}': {why}; e.g. SET odis.dedup_memory = '256M' (or 'unlimited': the session's limit)"
        ))),
    }
}

/// `state` with the dedup functions' bound applied: when `odis.dedup_memory`
/// is below the pool `state` runs in (or that pool has no limit), a pool of
/// that size of its own, with the same disk manager, caches and stores.
/// Returns the state and the bound in bytes, if one applies.
pub fn with_dedup_memory(state: SessionState) -> Result<(SessionState, Option<usize>)> {
    let partitions = state.config().target_partitions();
    let Some(bound) = dedup_memory(state.config().options().extensions.get::<OdisOptions>(), partitions)? else {
        return Ok((state, None));
    };
    let runtime = state.runtime_env();
    match runtime.memory_pool.memory_limit() {
        PoolLimit::Finite(limit) if limit <= bound => Ok((state, None)),
        _ => {
            let bounded = RuntimeEnvBuilder::from_runtime_env(runtime).with_memory_pool(spilling_pool(bound)).build_arc()?;
            Ok((SessionStateBuilder::new_from_existing(state).with_runtime_env(bounded).build(), Some(bound)))
        }
    }
}

/// `e`, told that `function` ran out of `bound` bytes (`odis.dedup_memory`)
/// when that is what went wrong; the root error stays what it was.
pub fn ran_out_of_dedup_memory(e: DataFusionError, function: &str, bound: Option<usize>) -> DataFusionError {
    let exhausted = matches!(e.find_root(), DataFusionError::ResourcesExhausted(_));
    match bound {
        Some(bytes) if exhausted => e.context(format!(
            "{function} ran out of odis.dedup_memory ({} MiB); raise it, e.g. SET odis.dedup_memory = '{}M'",
            bytes >> 20,
            (bytes >> 20).saturating_mul(2)
        )),
        _ => e,
    }
}

/// Runs a dedup function's work, `job`, in the state [`with_dedup_memory`]
/// gives, its errors (and its stream's) told which bound ran out.
pub async fn within_dedup_memory<F>(state: SessionState, function: &'static str, job: impl FnOnce(SessionState) -> F) -> Result<SendableRecordBatchStream>
where
    F: Future<Output = Result<SendableRecordBatchStream>>,
{
    let (state, bound) = with_dedup_memory(state)?;
    let told = move |e| ran_out_of_dedup_memory(e, function, bound);
    let stream = job(state).await.map_err(told)?;
    Ok(Box::pin(RecordBatchStreamAdapter::new(stream.schema(), stream.map_err(told))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::prelude::SessionConfig;

    #[test]
    fn sizes_parse() {
        assert_eq!("4G".parse::<MemoryLimit>().unwrap(), MemoryLimit::Bytes(4 << 30));
        assert_eq!("512 MiB".parse::<MemoryLimit>().unwrap(), MemoryLimit::Bytes(512 << 20));
        assert_eq!("1.5g".parse::<MemoryLimit>().unwrap(), MemoryLimit::Bytes(3 << 29));
        assert_eq!("unlimited".parse::<MemoryLimit>().unwrap(), MemoryLimit::Unlimited);
        assert!("lots".parse::<MemoryLimit>().unwrap_err().contains("expected a size such as 4G"));
        assert!("4X".parse::<MemoryLimit>().unwrap_err().contains("expected a size"));
        assert!("1M".parse::<MemoryLimit>().unwrap_err().contains("too small"));
    }

    fn state(pool: Option<usize>, setting: &str) -> SessionState {
        let mut options = OdisOptions::default();
        options.dedup_memory = setting.to_string();
        let config = SessionConfig::new().with_target_partitions(4).with_option_extension(options);
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = pool {
            runtime = runtime.with_memory_pool(Arc::new(GreedyMemoryPool::new(bytes)));
        }
        SessionStateBuilder::new().with_config(config).with_runtime_env(runtime.build_arc().unwrap()).build()
    }

    fn limit(state: &SessionState) -> PoolLimit {
        state.runtime_env().memory_pool.memory_limit()
    }

    #[test]
    fn the_dedup_plans_run_in_a_bound_of_their_own_never_above_the_sessions() {
        // By default 64 MiB a partition: 256 MiB at 4, under a 1 GiB session.
        let (bounded, bound) = with_dedup_memory(state(Some(1 << 30), "")).unwrap();
        assert_eq!(bound, Some(256 << 20));
        assert!(matches!(limit(&bounded), PoolLimit::Finite(b) if b == 256 << 20));
        // A session with no limit gets the bound too.
        let (bounded, _) = with_dedup_memory(state(None, "300M")).unwrap();
        assert!(matches!(limit(&bounded), PoolLimit::Finite(b) if b == 300 << 20));
        // A session's smaller limit stays; 'unlimited' leaves the session's.
        let (kept, bound) = with_dedup_memory(state(Some(128 << 20), "2G")).unwrap();
        assert_eq!(bound, None);
        assert!(matches!(limit(&kept), PoolLimit::Finite(b) if b == 128 << 20));
        let (kept, bound) = with_dedup_memory(state(Some(1 << 30), "unlimited")).unwrap();
        assert_eq!(bound, None);
        assert!(matches!(limit(&kept), PoolLimit::Finite(b) if b == 1 << 30));
    }

    #[test]
    fn a_bad_dedup_memory_names_the_setting_and_an_example() {
        for bad in ["lots", "1M"] {
            let e = with_dedup_memory(state(None, bad)).unwrap_err().to_string();
            assert!(e.contains(&format!("odis.dedup_memory = '{bad}'")) && e.contains("SET odis.dedup_memory = '256M'"), "{e}");
        }
    }

    #[test]
    fn running_out_of_the_bound_says_which_setting_to_raise() {
        let exhausted = DataFusionError::ResourcesExhausted("Failed to allocate".into());
        let told = ran_out_of_dedup_memory(exhausted, "near_duplicates", Some(128 << 20));
        let text = told.to_string();
        assert!(text.contains("near_duplicates ran out of odis.dedup_memory (128 MiB)") && text.contains("'256M'"), "{text}");
        assert!(matches!(told.find_root(), DataFusionError::ResourcesExhausted(_)), "the root stays, for callers that look");
        // Other errors, and errors without a bound of its own, pass as they are.
        let other = ran_out_of_dedup_memory(DataFusionError::Execution("no".into()), "near_duplicates", Some(1 << 27));
        assert_eq!(other.to_string(), "Execution error: no");
        let session = ran_out_of_dedup_memory(DataFusionError::ResourcesExhausted("x".into()), "near_duplicates", None);
        assert!(!session.to_string().contains("odis.dedup_memory"));
    }
}
